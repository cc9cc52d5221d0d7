"""The pages for people (apps.web): where sign-in leads, and how often reset links may be asked for."""

from config.env import env_rate

LOGIN_REDIRECT_URL = "/settings/"
# Reset links asked for on /accounts/password-reset/, per client address and per email address.
PASSWORD_RESET_RATE = env_rate("PASSWORD_RESET_RATE", "5/hour")
