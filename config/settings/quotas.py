"""Settings, part 4: apps.quotas, rate limits on every door, budgets and their warnings (docs/quotas.md)."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_choice, env_int, env_list, env_rate

# Rates in the `limits` notation; each is a token bucket: `burst` requests at once, refilled at the rate.
# Per user across all doors (REST, MCP, stdio); role defaults and per-user overrides live in the admin.
QUOTA_USER_RATE = env_rate("QUOTA_USER_RATE", "120/minute")
QUOTA_USER_BURST = env_int("QUOTA_USER_BURST", 40, minimum=1)
# Per client address for requests without a signed-in caller (login, sign-up, token refresh, ...).
QUOTA_ANON_RATE = env_rate("QUOTA_ANON_RATE", "30/minute")
QUOTA_ANON_BURST = env_int("QUOTA_ANON_BURST", 15, minimum=1)
# Per user and provider, for calls to LLM providers.
QUOTA_PROVIDER_RATE = env_rate("QUOTA_PROVIDER_RATE", "60/minute")
QUOTA_PROVIDER_BURST = env_int("QUOTA_PROVIDER_BURST", 20, minimum=1)
# Off only to measure what the checks cost (bench/bench_quotas.py); production keeps them on.
QUOTA_RATE_LIMITS = env_bool("QUOTA_RATE_LIMITS", default=True)
# When Redis cannot be reached, per limit family: "closed" answers 503, "local" counts per process.
QUOTA_WHEN_REDIS_DOWN = {
    "user": env_choice("QUOTA_USER_WHEN_REDIS_DOWN", "local", {"closed", "local"}),
    "tool": env_choice("QUOTA_TOOL_WHEN_REDIS_DOWN", "closed", {"closed", "local"}),
    "anonymous": env_choice("QUOTA_ANON_WHEN_REDIS_DOWN", "local", {"closed", "local"}),
    "provider": env_choice("QUOTA_PROVIDER_WHEN_REDIS_DOWN", "closed", {"closed", "local"}),
    # Sign-up, failed bearer tokens, password reset and change (apps.core.throttle).
    "account": env_choice("QUOTA_ACCOUNT_WHEN_REDIS_DOWN", "closed", {"closed", "local"}),
    # "Once per window" for aggregated audit events: per process rather than once per event.
    "once": env_choice("QUOTA_ONCE_WHEN_REDIS_DOWN", "local", {"closed", "local"}),
}
# Budget warnings: percentages of a budget at which the account is told, each once per period.
QUOTA_WARNING_THRESHOLDS = sorted({int(value) for value in env_list("QUOTA_WARNING_THRESHOLDS", ["50", "80", "95"])})
if not all(0 < value < 100 for value in QUOTA_WARNING_THRESHOLDS):
    raise ImproperlyConfigured("QUOTA_WARNING_THRESHOLDS must be percentages between 1 and 99, e.g. '50,80,95'.")

# A call is capped to what its budgets have left; below this many output tokens it is refused instead,
# since an answer cut off after a few words is not worth its input's cost (docs/quotas.md).
QUOTA_MIN_OUTPUT_TOKENS = env_int("QUOTA_MIN_OUTPUT_TOKENS", 32, minimum=1, maximum=100_000)
