"""What the rate limits cost: the limit check per request, and tool-call throughput with limits on and off.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gw_quotas REDIS_URL=redis://127.0.0.1:6379/10 \\
        APP_ENV=development python bench/bench_quotas.py --checks 5000 --calls 2000

1. check: `limits_hit` with the two limits of a tool call (the user's and the tool's), one Redis
   round trip each, `--checks` times; median and p95 in microseconds.
2. invoke: `tool_invoke` (the whole pipeline: policy, schema, limits, tool, usage row, audit event) on
   `current_time`, in rounds alternating limits on and off (QUOTA_RATE_LIMITS), so drift in machine
   load hits both alike; calls per second for each, and on as a percentage of off.
The limits are set far above the load, so every call is admitted and the cost measured is the check's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("APP_ENV", "development")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("LOG_LEVEL", "warning")
os.environ.setdefault("MCP_RESULT_CACHE", "0")
os.environ.setdefault("MCP_RATE_LIMIT_DEFAULT", "1000000/minute")

BENCH_USER = "bench-quotas"
ROUNDS = 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=5000)
    parser.add_argument("--calls", type=int, default=2000, help="tool calls per setting (on, off)")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from apps.accounts.models import User
    from apps.accounts.principal import principal_for_user
    from apps.accounts.services import user_create
    from apps.core.limiter import limits_hit, limits_reset
    from apps.mcp_tools.pipeline import tool_invoke
    from apps.mcp_tools.pipeline.policies import policies_ensure
    from apps.quotas.models import UserRateLimit
    from apps.quotas.services import tool_limit, user_limit

    assert not settings.MCP_RATE_LIMIT_STORAGE_URL.startswith("memory://"), "set REDIS_URL: the bench measures Redis"
    policies_ensure()
    user = User.objects.filter(username=BENCH_USER).first() or user_create(
        username=BENCH_USER, password="bench-password-1234", email="bench@example.test", role="user"
    )
    UserRateLimit.objects.update_or_create(user=user, defaults={"rate": "1000000/minute", "burst": 1_000_000})
    limits_reset()

    limits = [user_limit(user), tool_limit(user_id=user.pk, tool_name="current_time", policy_rate=None)]
    for _ in range(200):
        limits_hit(limits)
    samples = []
    for _ in range(args.checks):
        started = time.perf_counter_ns()
        limits_hit(limits)
        samples.append((time.perf_counter_ns() - started) / 1000)
    samples.sort()
    print(
        f"check ({len(limits)} limits, one round trip): median {statistics.median(samples):.0f} us, "
        f"p95 {samples[int(len(samples) * 0.95)]:.0f} us over {args.checks} checks"
    )

    principal = principal_for_user(user, auth_method="pat")
    per_round = max(1, args.calls // ROUNDS)
    elapsed = {True: 0.0, False: 0.0}
    for _ in range(20):
        tool_invoke(principal=principal, tool_name="current_time", arguments={}, transport="bench")
    for _ in range(ROUNDS):
        for enforcing in (True, False):
            settings.QUOTA_RATE_LIMITS = enforcing
            started = time.perf_counter()
            for _ in range(per_round):
                outcome = tool_invoke(principal=principal, tool_name="current_time", arguments={}, transport="bench")
                assert outcome.success, outcome.error
            elapsed[enforcing] += time.perf_counter() - started
    on = per_round * ROUNDS / elapsed[True]
    off = per_round * ROUNDS / elapsed[False]
    print(f"invoke: limits on {on:.0f} calls/s, off {off:.0f} calls/s, on = {100 * on / off:.1f} % of off")
    limits_reset()


if __name__ == "__main__":
    main()
