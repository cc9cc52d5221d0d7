"""Worker CPU per tool call, measured in one process: the gateway's ASGI application (MCP `tools/call`
and REST invoke) beside the bare reference (bench/bare_server.py's same-tool MCPServer), driven by an
in-process httpx client over ASGI, CPU counted with time.process_time over many calls.

    DATABASE_URL=postgres://.../gw_x REDIS_URL=redis://127.0.0.1:6379/10 python bench/cpu_per_call.py
    python bench/cpu_per_call.py --calls 2000 --targets mcp --profile 25      # and cProfile's top 25
    python bench/cpu_per_call.py --stub-pipeline --targets bare-constant mcp rest   # the doors alone
    python bench/cpu_per_call.py --targets mcp-cached --concurrency 16 --calls 1600 --warmup 160

CPU time (user + system of every thread of this process) is far less sensitive to other work on the
machine than calls/s or latency, so this is how a change to the gateway's own cost per call is
measured on a busy machine; `make bench` measures the same quantity from outside the deployed
servers. The client's own CPU is in every figure, and the same for each target, so the difference
between the gateway and the bare server is the gateway's own. It runs against the database and
Redis of DATABASE_URL / REDIS_URL as they are (migrated, a bench user, a personal access token) and
with the result cache off, like the `mcp` and `rest` targets; every call is recorded there.
`mcp-cached` (not run unless named) turns the tool's result cache on for its own measurement, so
every call after the first is a hit, as make bench's target of that name. `--concurrency N` keeps N
calls in flight, as wrk's connections do: the cost of a blocking round trip made from a request
thread of a loaded worker (waiting for the interpreter lock behind the event loop and the other
requests) shows only then.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import statistics
import sys
import time
from contextlib import AsyncExitStack
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))
sys.path.insert(0, str(BENCH_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("LOG_LEVEL", "warning")
# As scripts/bench.sh runs the servers: development secrets, DEBUG off (server_env).
os.environ.setdefault("APP_ENV", "development")

import bench_http  # noqa: E402

UNCACHED = ("bare-tool", "mcp", "rest")
TARGETS = (*UNCACHED, "mcp-cached", "bare-constant")
DEFAULT_TARGETS = UNCACHED
# What the stubbed pipeline answers (--stub-pipeline): todo_overview's shape, for a realistic encoding.
STUB_RESULT = {
    "total": 50, "open": 50, "done": 0, "overdue": 0, "due_today": 0, "due_this_week": 0,
    "by_priority": {"low": 0, "medium": 50, "high": 0}, "recently_completed": [], "tags": [],
}  # fmt: skip


class Lifespan:
    """The ASGI lifespan of `app` (the MCP session manager's task group), as uvicorn runs it."""

    def __init__(self, app) -> None:
        self.app = app
        self.inbox: asyncio.Queue = asyncio.Queue()
        self.outbox: asyncio.Queue = asyncio.Queue()

    async def __aenter__(self) -> Lifespan:
        self.task = asyncio.create_task(self.app({"type": "lifespan"}, self.inbox.get, self.outbox.put))
        await self.inbox.put({"type": "lifespan.startup"})
        message = await self.outbox.get()
        if message["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"lifespan startup failed: {message}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.inbox.put({"type": "lifespan.shutdown"})
        await self.outbox.get()
        await self.task


def _headers(kind: str, token: str) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "Host": "127.0.0.1"}
    if kind == "mcp":
        headers.update(Accept="application/json, text/event-stream")
        headers["MCP-Protocol-Version"] = bench_http.PROTOCOL_VERSION
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


async def measure(
    client, kind: str, tool: str, token: str, calls: int, warmup: int, profile: int, concurrency: int = 1
) -> dict:
    """CPU and wall time per call over `calls` calls after `warmup`, each answer checked; `concurrency`
    callers at once, each making its share of the calls in turn."""
    headers, path, body = _headers(kind, token), bench_http.call_path(kind), bench_http.call_body(kind, tool)

    async def one() -> None:
        response = await client.post(path, content=body, headers=headers)
        text = response.text
        ok = response.status_code == 200 and (
            '"success":true' in text if kind == "rest" else ('"result"' in text and '"isError":true' not in text)
        )
        if not ok:
            raise RuntimeError(f"{kind}: {response.status_code} {text[:400]}")

    async def some(count: int) -> None:
        for _ in range(count):
            await one()

    async def all_of(count: int) -> None:
        await asyncio.gather(*(some(count // concurrency) for _ in range(concurrency)))

    await all_of(warmup)
    calls = calls // concurrency * concurrency
    profiler = cProfile.Profile() if profile else None
    cpu, wall = time.process_time(), time.perf_counter()
    if profiler is not None:
        profiler.enable()
    await all_of(calls)
    if profiler is not None:
        profiler.disable()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if profiler is not None:
        print(f"\n--- {kind}: cProfile, top {profile} by own time (the request threads are not profiled) ---")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(profile)
    return {"cpu_ms_per_call": cpu * 1000 / calls, "wall_ms_per_call": wall * 1000 / calls}


def _result_cache(tool: str, *, on: bool) -> None:
    """The tool's result cache on or off (from a thread of its own: the ORM refuses the event loop)."""
    from django.db import connections

    try:
        bench_http.result_cache(tool, on=on)
    finally:
        connections.close_all()


async def run(args: argparse.Namespace, apps: dict[str, tuple], figures: dict[str, list[dict]]) -> None:
    """Every target `args.rounds` times in turn; each app's lifespan runs once (the SDK's session
    manager starts only once per instance)."""
    import httpx

    async with AsyncExitStack() as stack:
        clients = {}
        for target in args.targets:
            app = apps[target][0]
            if id(app) not in clients:
                await stack.enter_async_context(Lifespan(app))
                transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
                clients[id(app)] = await stack.enter_async_context(
                    httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")
                )
        for number in range(args.rounds):
            for target in args.targets:
                app, kind, auth = apps[target]
                profile = args.profile if number == 0 else 0
                tool = "constant" if target == "bare-constant" else args.tool
                if target == "mcp-cached":
                    await asyncio.to_thread(_result_cache, args.tool, on=True)
                try:
                    row = await measure(
                        clients[id(app)], kind, tool, auth, args.calls, args.warmup, profile, args.concurrency
                    )
                finally:
                    if target == "mcp-cached":
                        await asyncio.to_thread(_result_cache, args.tool, on=False)
                figures[target].append(row)
                print(f"round {number + 1} {target:<10} CPU {row['cpu_ms_per_call']:.3f} ms/call "
                      f"(wall {row['wall_ms_per_call']:.3f} ms)", flush=True)  # fmt: skip


def _stub_pipeline() -> None:
    """Both doors' tool_invoke answers STUB_RESULT at once: what is left is the doors' own cost."""
    import apps.mcp_tools.api as rest_door
    import apps.mcp_tools.transport.server as mcp_door
    from apps.mcp_tools.pipeline import InvocationResult

    def tool_invoke(*, tool_name: str, **_kwargs: object) -> InvocationResult:
        return InvocationResult(
            tool_name=tool_name, success=True, result=STUB_RESULT, cached=False, error=None,
            duration_ms=0.0, invocation_id="0" * 32,
        )  # fmt: skip

    mcp_door.tool_invoke = rest_door.tool_invoke = tool_invoke


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tool", default="todo_overview", help="a tool that takes no arguments")
    parser.add_argument("--todos", type=int, default=50)
    parser.add_argument("--calls", type=int, default=1000, help="calls measured per target and round")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3, help="every target this many times in turn; medians")
    parser.add_argument("--targets", nargs="*", choices=TARGETS, default=list(DEFAULT_TARGETS))
    parser.add_argument(
        "--stub-pipeline",
        action="store_true",
        help="the doors alone: tool_invoke answers a constant result (no limits, tool or record); "
        "compare with bare-constant",
    )
    parser.add_argument("--concurrency", type=int, default=1, help="callers at once (wrk's connections)")
    parser.add_argument("--profile", type=int, default=0, help="print cProfile's top N functions (first round)")
    args = parser.parse_args()
    os.environ.update(bench_http.server_env())
    user_id, token = bench_http.prepare(args.tool, args.todos)

    import bare_server

    from config.asgi import application

    if args.stub_pipeline:
        _stub_pipeline()
    bare = bare_server.tool_app(args.tool, user_id)
    apps = {
        "bare-tool": (bare, "mcp", ""),
        "mcp": (application, "mcp", token),
        "rest": (application, "rest", token),
        "bare-constant": (bare_server.constant_app(), "mcp", ""),
        "mcp-cached": (application, "mcp", token),
    }
    figures: dict[str, list[dict]] = {target: [] for target in args.targets}
    asyncio.run(run(args, apps, figures))
    reference = "bare-constant" if args.stub_pipeline else "bare-tool"
    medians = {target: statistics.median(row["cpu_ms_per_call"] for row in rows) for target, rows in figures.items()}
    print(f"\nCPU ms per call, median of {args.rounds} rounds of {args.calls} calls:")
    for target, value in medians.items():
        added = (
            f"  (gateway adds {value - medians[reference]:+.3f} over {reference})"
            if reference in medians and target in ("mcp", "rest")  # a hit does not run the tool
            else ""
        )
        print(f"  {target:<10} {value:.3f}{added}")
    print("BENCH_RESULT " + json.dumps({"medians": medians, "rounds": figures}))


if __name__ == "__main__":
    main()
