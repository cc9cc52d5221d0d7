"""A fixed-rate (open-loop) load generator for bench_http.py, run as its own process.

wrk sends a connection's next request when the last one answered (closed loop), so it measures
throughput, not latency at a given load; wrk2 and vegeta, which keep a schedule, are not packaged
for Debian. This process sends call i at start + i / rate whether or not earlier calls have
answered, and measures each latency from the moment the call was due, so a stalled server shows up
as latency instead of as fewer requests (no coordinated omission). It is Python (httpx over kept-
alive connections), outside the server processes; at 100 calls/s it uses a few per cent of a core.

    python bench/fixed_rate.py --rate 100 --seconds 30 \\
        --target mcp http://127.0.0.1:8000/mcp BODY --target rest http://127.0.0.1:8000/api/... BODY

Targets are called in turn. BENCH_TOKEN in the environment is the bearer token for every target.
Prints one JSON line per target: calls, failures, p50/p95/p99/max in ms, and how late sends started.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time

PROTOCOL_VERSION = "2025-11-25"


def _ok(kind: str, status: int, text: str) -> bool:
    if status != 200:
        return False
    if kind == "mcp":
        return '"result"' in text and '"isError":true' not in text
    return '"success":true' in text


def _percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def run(targets: list[tuple[str, str, str]], rate: float, seconds: float, token: str) -> list[dict]:
    import httpx

    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    mcp_headers = {**headers, "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": PROTOCOL_VERSION}
    latencies: list[list[float]] = [[] for _ in targets]
    failures = [0] * len(targets)
    late_ms: list[float] = []
    first_failure = [""] * len(targets)
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=64)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:

        async def call(index: int, due: float) -> None:
            kind, url, body = targets[index]
            late_ms.append((time.perf_counter() - due) * 1000)
            try:
                response = await http.post(url, content=body, headers=mcp_headers if kind == "mcp" else headers)
                ok = _ok(kind, response.status_code, response.text)
                answer = f"{response.status_code} {response.text[:200]}"
            except httpx.HTTPError as exc:
                ok, answer = False, repr(exc)[:200]
            latencies[index].append((time.perf_counter() - due) * 1000)
            if not ok:
                failures[index] += 1
                first_failure[index] = first_failure[index] or answer

        total = int(rate * seconds)
        start = time.perf_counter() + 0.05
        pending = set()
        for number in range(total):
            due = start + number / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(call(number % len(targets), due))
            pending.add(task)
            task.add_done_callback(pending.discard)
        if pending:
            await asyncio.gather(*pending)
        run_seconds = time.perf_counter() - start
    ordered_late = sorted(late_ms)
    results = []
    for index, (kind, url, _body) in enumerate(targets):
        ordered = sorted(latencies[index])
        results.append(
            {
                "target": kind,
                "url": url,
                "calls": len(ordered),
                "failed": failures[index],
                "p50_ms": _percentile(ordered, 0.50),
                "p95_ms": _percentile(ordered, 0.95),
                "p99_ms": _percentile(ordered, 0.99),
                "max_ms": ordered[-1] if ordered else 0.0,
                "send_late_p99_ms": _percentile(ordered_late, 0.99),
                # Longer than --seconds by more than the slowest call: the generator or the clock stalled.
                "run_seconds": run_seconds,
                "first_failure": first_failure[index],
            }
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=100.0, help="calls per second, all targets together")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--target", nargs=3, action="append", metavar=("KIND", "URL", "BODY"), required=True)
    args = parser.parse_args()
    results = asyncio.run(
        run([tuple(target) for target in args.target], args.rate, args.seconds, os.environ.get("BENCH_TOKEN", ""))
    )
    for result in results:
        print("BENCH_RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
