"""Performance knobs (issue 13): how long a verified bearer token is trusted from memory."""

from config.env import env_float

# Seconds a verified bearer token is answered from the process's memory without a database round
# trip; also the longest a revocation takes to reach other processes (apps/accounts/principal_cache.py).
# 0 turns the cache off.
PRINCIPAL_CACHE_SECONDS = env_float("PRINCIPAL_CACHE_SECONDS", 5, minimum=0, maximum=60)
