"""The AI answer cache against a slow provider: upstream calls with the cache off and on, stale answers, hit latency.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gw_bench REDIS_URL=redis://127.0.0.1:6379/10 \\
        APP_ENV=development python bench/bench_cache.py --requests 600

A trace is replayed twice through POST /api/mcp/tools/invoke (Django's full request path in this
process: middleware, JWT authentication, the pipeline with its usage row and audit event), once with
the cache off and once on, each for a fresh user against the loopback fake provider answering after
`--latency` seconds. The trace (fixed seed): prompts drawn from a Zipf distribution (repeats), a
share of them retyped with other whitespace (near-repeats), a share of calls that read the user's
todos (ai_summarize_todos), and todo changes interleaved. The fake answers deterministically from
the prompt it is sent, so an answer is stale exactly when it differs from the cache-off run's answer
at the same position (todo ids aside). Then the latency of a hit at L1 and at L2.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import time
import uuid
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("APP_ENV", "development")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("LOG_LEVEL", "warning")
# The trace is one user calling as fast as the answers come: the per-user and per-provider rates are
# raised so they are checked on every call without refusing it (the cache is what is measured).
for _name, _value in {
    "QUOTA_USER_RATE": "1000000/minute",
    "QUOTA_USER_BURST": "1000000",
    "QUOTA_PROVIDER_RATE": "1000000/minute",
    "QUOTA_PROVIDER_BURST": "1000000",
}.items():
    os.environ.setdefault(_name, _value)

TOPICS = [f"topic {n}: how should I approach task number {n} this week?" for n in range(200)]
TODO_IDS = re.compile(r"#\d+")


def _trace(requests: int, seed: int, zipf_s: float) -> list[tuple[str, dict]]:
    """(kind, argument) steps: ("call", {tool_name, parameters}) or ("todo_add"/"todo_done", {...})."""
    rng = random.Random(seed)
    weights = [1 / (rank**zipf_s) for rank in range(1, len(TOPICS) + 1)]
    steps: list[tuple[str, dict]] = []
    for number in range(requests):
        roll = rng.random()
        if roll < 0.05:
            steps.append(("todo_add", {"title": f"todo {number}"}))
        elif roll < 0.07:
            steps.append(("todo_done", {}))
        elif roll < 0.25:
            steps.append(("call", {"tool_name": "ai_summarize_todos", "parameters": {}}))
        else:
            prompt = rng.choices(TOPICS, weights)[0]
            if rng.random() < 0.2:  # a near-repeat: the same question retyped
                prompt = "  " + prompt.replace(" ", "  ") + "\n"
            steps.append(("call", {"tool_name": "ai_complete", "parameters": {"prompt": prompt}}))
    return steps


def _replay(steps, *, cache_on: bool, latency: float) -> tuple[list[str], int, float]:
    from django.conf import settings
    from rest_framework.test import APIClient

    from apps.accounts.services import user_create
    from apps.accounts.tokens import jwt_pair_issue
    from apps.keys.services import provider_key_create
    from apps.providers.answer_cache import answer_l1_clear
    from apps.providers.tests.fake_provider import fake_provider_running
    from apps.providers.tests.keys import openai_key
    from apps.todos.models import Todo
    from apps.todos.services import todo_complete, todo_create

    settings.AI_CACHE_ENABLED = cache_on
    answer_l1_clear()
    user = user_create(username=f"bench-{uuid.uuid4().hex[:8]}", password=uuid.uuid4().hex, email="")
    answers: list[str] = []
    with fake_provider_running() as fake:
        fake.latency = latency
        settings.OPENAI_BASE_URL = fake.openai_base_url
        api_key = openai_key()
        fake.valid_keys.add(api_key)
        provider_key_create(actor=user, owner=user, provider="openai", api_key=api_key)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt_pair_issue(user=user).access}")
        started = time.perf_counter()
        for kind, argument in steps:
            if kind == "todo_add":
                todo_create(owner=user, title=argument["title"])
            elif kind == "todo_done":
                todo = Todo.objects.filter(owner=user, completed_at__isnull=True).order_by("id").first()
                if todo is not None:
                    todo_complete(todo=todo)
            else:
                response = client.post("/api/mcp/tools/invoke", argument, format="json")
                assert response.status_code == 200, response.content[:300]
                result = response.json()["result"]
                assert not result["offline"], result
                # Todo ids differ between the two users; whitespace differs for a near-repeat, whose
                # cached answer is the one given to the same question typed the canonical way.
                answers.append(" ".join(TODO_IDS.sub("#", result["text"]).split()))
        elapsed = time.perf_counter() - started
        upstream = len(fake.model_calls())
    return answers, upstream, elapsed


def _hit_latency(*, level: str, samples: int) -> list[float]:
    from django.conf import settings
    from rest_framework.test import APIClient

    from apps.accounts.services import user_create
    from apps.accounts.tokens import jwt_pair_issue
    from apps.keys.services import provider_key_create
    from apps.providers.answer_cache import answer_l1_clear
    from apps.providers.tests.fake_provider import fake_provider_running
    from apps.providers.tests.keys import openai_key

    settings.AI_CACHE_ENABLED = True
    user = user_create(username=f"bench-{uuid.uuid4().hex[:8]}", password=uuid.uuid4().hex, email="")
    timings = []
    with fake_provider_running() as fake:
        settings.OPENAI_BASE_URL = fake.openai_base_url
        api_key = openai_key()
        fake.valid_keys.add(api_key)
        provider_key_create(actor=user, owner=user, provider="openai", api_key=api_key)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt_pair_issue(user=user).access}")
        body = {"tool_name": "ai_complete", "parameters": {"prompt": "the hot question"}}
        client.post("/api/mcp/tools/invoke", body, format="json")
        for _ in range(samples):
            if level == "l2":
                answer_l1_clear()
            started = time.perf_counter()
            response = client.post("/api/mcp/tools/invoke", body, format="json")
            timings.append((time.perf_counter() - started) * 1000)
            assert response.json()["result"]["cached"] is True
        assert len(fake.model_calls()) == 1
    return timings


def _baseline_latency(*, samples: int) -> list[float]:
    """The pipeline's own cost per call on the same path, for a tool that calls no provider."""
    from rest_framework.test import APIClient

    from apps.accounts.services import user_create
    from apps.accounts.tokens import jwt_pair_issue

    user = user_create(username=f"bench-{uuid.uuid4().hex[:8]}", password=uuid.uuid4().hex, email="")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt_pair_issue(user=user).access}")
    timings = []
    for _ in range(samples):
        started = time.perf_counter()
        client.post("/api/mcp/tools/invoke", {"tool_name": "current_time", "parameters": {}}, format="json")
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def _lookup_latency(*, level: str, samples: int) -> list[float]:
    """The cache's own share of a hit: versions (one Redis round trip) plus the L1 or L2 lookup."""
    from apps.providers.answer_cache import answer_key, answer_l1_clear, answer_lookup, answer_store, answer_versions
    from apps.providers.calls import CompletionRequest, CompletionResponse, Message, Route, Usage

    request = CompletionRequest(messages=(Message("user", "direct"),))
    route = Route("openai", "", "gpt-4o-mini")
    response = CompletionResponse("openai", "gpt-4o-mini", "answer", (), Usage(1, 1), "stop")
    answer_store(answer_key(scope="bench", route=route, versions=answer_versions(user_id=0), request=request), response)
    timings = []
    for _ in range(samples):
        if level == "l2":
            answer_l1_clear()
        started = time.perf_counter()
        key = answer_key(scope="bench", route=route, versions=answer_versions(user_id=0), request=request)
        assert answer_lookup([key]) is not None
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--zipf", type=float, default=1.1)
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    # The fake listens on loopback; a real deployment keeps this off.
    settings.PROVIDER_ALLOW_PRIVATE_NETWORKS = True
    settings.MCP_RATE_LIMIT_DEFAULT = "1000000/minute"
    settings.DEBUG = False

    steps = _trace(args.requests, args.seed, args.zipf)
    calls = sum(1 for kind, _ in steps if kind == "call")
    off_answers, off_upstream, off_seconds = _replay(steps, cache_on=False, latency=args.latency)
    on_answers, on_upstream, on_seconds = _replay(steps, cache_on=True, latency=args.latency)
    stale = sum(1 for off, on in zip(off_answers, on_answers, strict=True) if off != on)
    print(f"trace: {calls} AI calls, {len(steps) - calls} todo changes, Zipf s={args.zipf}, provider {args.latency}s")
    print(f"cache off: {off_upstream} upstream calls, {off_seconds:.1f} s")
    print(
        f"cache on:  {on_upstream} upstream calls, {on_seconds:.1f} s "
        f"({100 * (1 - on_upstream / off_upstream):.1f} % fewer), {stale} stale answers"
    )
    for level in ("l1", "l2"):
        timings = _hit_latency(level=level, samples=args.samples)
        print(
            f"{level.upper()} hit via /api/mcp/tools/invoke: p50 {_p(timings, 50):.2f} ms, "
            f"p95 {_p(timings, 95):.2f} ms, p99 {_p(timings, 99):.2f} ms"
        )
        direct = _lookup_latency(level=level, samples=args.samples)
        print(f"{level.upper()} hit, cache lookup alone: p50 {_p(direct, 50):.3f} ms, p95 {_p(direct, 95):.3f} ms")
    baseline = _baseline_latency(samples=args.samples)
    print(
        f"current_time (no AI) via /api/mcp/tools/invoke: p50 {_p(baseline, 50):.2f} ms, p95 {_p(baseline, 95):.2f} ms"
    )


if __name__ == "__main__":
    main()
