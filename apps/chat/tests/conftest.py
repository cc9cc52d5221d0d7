from apps.keys.tests.test_canary import every_log_line  # noqa: F401 - every logger at DEBUG, for the canary
from apps.providers.tests.conftest import fake_provider  # noqa: F401 - the loopback providers
