"""Settings, part 4: calling AI providers (timeouts, retries, breaker), the answer cache and chat."""

from __future__ import annotations

from apps.providers.registry import provider_specs_list
from config.env import env_bool, env_float, env_http_url, env_int, env_list, env_str

AI_OFFLINE = env_bool("AI_OFFLINE", default=False)  # answer every AI call offline (cached answers only)
# Each provider module names its own settings (base URL, default model) and their defaults; they are
# read here like every other knob, so <NAME>_BASE_URL and <NAME>_DEFAULT_MODEL come from the
# environment without this file naming any provider.
for _spec in provider_specs_list():
    if _spec.base_url_setting:
        globals()[_spec.base_url_setting] = env_http_url(_spec.base_url_setting, _spec.public_base_url or "")
    if _spec.default_model_setting:
        globals()[_spec.default_model_setting] = env_str(_spec.default_model_setting, _spec.default_model)
del _spec
AI_DEFAULT_PROVIDER_ORDER = env_list("AI_DEFAULT_PROVIDER_ORDER", [spec.name for spec in provider_specs_list()])
AI_MAX_TOKENS_DEFAULT = env_int("AI_MAX_TOKENS_DEFAULT", 1024, minimum=1, maximum=32_000)
PROVIDER_CALL_TIMEOUT_SECONDS = env_float("PROVIDER_CALL_TIMEOUT_SECONDS", 30.0, minimum=0.1, maximum=600)
PROVIDER_CONNECT_TIMEOUT_SECONDS = env_float("PROVIDER_CONNECT_TIMEOUT_SECONDS", 5.0, minimum=0.1, maximum=60)
# Retries per key: bounded in attempts and in total time (a longer Retry-After moves on to the next key).
PROVIDER_RETRY_ATTEMPTS = env_int("PROVIDER_RETRY_ATTEMPTS", 3, minimum=1, maximum=10)
PROVIDER_RETRY_TOTAL_SECONDS = env_float("PROVIDER_RETRY_TOTAL_SECONDS", 20.0, minimum=0, maximum=300)
PROVIDER_RETRY_BASE_SECONDS = env_float("PROVIDER_RETRY_BASE_SECONDS", 0.5, minimum=0, maximum=60)
PROVIDER_RETRY_MAX_WAIT_SECONDS = env_float("PROVIDER_RETRY_MAX_WAIT_SECONDS", 8.0, minimum=0, maximum=300)
# The breaker per provider and base URL: failures that open it, seconds before a trial call.
PROVIDER_BREAKER_FAILURES = env_int("PROVIDER_BREAKER_FAILURES", 5, minimum=1, maximum=1000)
PROVIDER_BREAKER_RESET_SECONDS = env_int("PROVIDER_BREAKER_RESET_SECONDS", 30, minimum=1, maximum=3600)
AI_CACHE_ENABLED = env_bool("AI_CACHE_ENABLED", default=True)
AI_CACHE_TTL_SECONDS = env_int("AI_CACHE_TTL_SECONDS", 600, minimum=1)  # L2 (Redis), sliding
AI_CACHE_MAX_AGE_SECONDS = env_int("AI_CACHE_MAX_AGE_SECONDS", 3600, minimum=1)  # however hot an entry is
AI_CACHE_L1_SECONDS = env_int("AI_CACHE_L1_SECONDS", 60, minimum=1)  # L1 (in process), sliding
AI_CACHE_L1_SIZE = env_int("AI_CACHE_L1_SIZE", 1024, minimum=0, maximum=1_000_000)
CHAT_MAX_STEPS = env_int("CHAT_MAX_STEPS", 6, minimum=1, maximum=50)
