"""Tool-call throughput and latency: MCP tools/call and REST invoke through the gateway, and the same
tool on a bare MCPServer with none of the pipeline, measured in one run against the same database.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gw_bench REDIS_URL=redis://127.0.0.1:6379/9 \\
        APP_ENV=development python bench/bench_mcp.py --calls 3000 --concurrency 16

Three uvicorn processes (one worker each) are started on free ports of 127.0.0.1:
  mcp        the gateway's /mcp (stateless Streamable HTTP, JSON responses, PAT bearer auth)
  rest       the gateway's POST /api/mcp/tools/invoke (same process type, same PAT)
  mcp-bare   an MCPServer whose one tool calls the same tool function for a fixed user: no
             authentication, policy, schema validation, rate limit, cache, usage record or audit
Load comes from this process: `--concurrency` workers, each sending its next call when the last
one answered, raw JSON-RPC POSTs (the SDK client's own overhead would swamp the server's).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("APP_ENV", "development")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Per-request INFO lines (httpx here, Django in the servers) would be measured along with the calls.
os.environ.setdefault("LOG_LEVEL", "warning")

BENCH_USER = "bench-user"
PROTOCOL_VERSION = "2025-11-25"
READY_DEADLINE_SECONDS = 30


# --- The bare server (run in its own process by `serve-bare`) ------------------------------------------


def bare_app(tool_name: str, user_id: int):
    """A plain MCPServer app serving one tool: the registry's function, called directly."""
    import django

    django.setup()
    from asgiref.sync import sync_to_async
    from mcp.server.mcpserver import MCPServer
    from mcp.server.transport_security import TransportSecuritySettings

    from apps.accounts.models import User
    from apps.accounts.principal import principal_for_user
    from apps.mcp_tools.pipeline.registry import tool_get
    from apps.mcp_tools.transport.http import DjangoRequestLifecycle

    spec = tool_get(tool_name)
    principal = principal_for_user(User.objects.get(pk=user_id), auth_method="jwt")
    server = MCPServer("bare")

    async def tool() -> dict:
        return await sync_to_async(spec.func)(principal)

    server.add_tool(tool, name=tool_name, description=spec.description)
    app = server.streamable_http_app(
        stateless_http=True,
        json_response=True,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    # The same per-request thread and connection handling as /mcp, so only the pipeline differs.
    return _with_lifespan(DjangoRequestLifecycle(app), app)


def _with_lifespan(app, starlette_app):
    async def asgi(scope, receive, send):
        if scope["type"] == "lifespan":
            await starlette_app(scope, receive, send)
        else:
            await app(scope, receive, send)

    return asgi


def serve_bare(port: int, tool_name: str, user_id: int) -> None:
    import uvicorn

    uvicorn.run(
        bare_app(tool_name, user_id), host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on"
    )


# --- Setup ----------------------------------------------------------------------------------------------


def prepare(tool_name: str, todos: int) -> tuple[int, str]:
    """Migrate, create the bench user with some todos and a fresh token; policy: no result cache."""
    import django

    django.setup()
    from django.core.management import call_command

    from apps.accounts.models import PersonalAccessToken, User
    from apps.accounts.scopes import scopes_for_user
    from apps.accounts.services import pat_create, pat_revoke, user_create
    from apps.mcp_tools.models import ToolPolicy
    from apps.mcp_tools.pipeline.policies import policies_ensure, policies_invalidate
    from apps.todos.models import Todo

    call_command("migrate", verbosity=0)
    user = User.objects.filter(username=BENCH_USER).first() or user_create(
        username=BENCH_USER, password="bench-password-not-secret", email="bench@example.test", role="user"
    )
    missing = todos - Todo.objects.filter(owner=user).count()
    Todo.objects.bulk_create(Todo(owner=user, title=f"Bench todo {index}") for index in range(max(missing, 0)))
    for token in PersonalAccessToken.objects.filter(user=user, revoked_at__isnull=True):
        pat_revoke(token=token)
    _row, plaintext = pat_create(user=user, name="bench", scopes=sorted(scopes_for_user(user)))
    policies_ensure()
    # Measure the work, not the cache: every call runs the tool.
    ToolPolicy.objects.filter(tool_name=tool_name).update(cacheable=False, rate_limit="")
    policies_invalidate()
    return user.pk, plaintext


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(command: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=BASE_DIR, env=env)


def wait_ready(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + READY_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not start")


# --- Load -------------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    target: str
    latencies_ms: list[float]
    seconds: float
    failures: int

    @property
    def calls_per_second(self) -> float:
        return len(self.latencies_ms) / self.seconds

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _mcp_ok(response) -> bool:
    if response.status_code != 200:
        return False
    body = response.json()
    return "result" in body and not body["result"].get("isError")


def _rest_ok(response) -> bool:
    return response.status_code == 200 and response.json().get("success") is True


async def run_load(
    name: str, url: str, body: dict, headers: dict[str, str], ok, calls: int, concurrency: int, warmup: int
) -> Outcome:
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        for _ in range(warmup):
            response = await http.post(url, json=body, headers=headers)
            if not ok(response):
                raise RuntimeError(f"{name}: warm-up call failed: {response.status_code} {response.text[:300]}")
        latencies: list[float] = []
        failures = 0
        remaining = calls

        async def worker() -> None:
            nonlocal remaining, failures
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                response = await http.post(url, json=body, headers=headers)
                latencies.append((time.perf_counter() - started) * 1000)
                if not ok(response):
                    failures += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return Outcome(name, latencies, time.perf_counter() - started, failures)


def report(outcomes: list[Outcome], args: argparse.Namespace, database: str) -> None:
    print(f"\ntool={args.tool} arguments={args.arguments} calls={args.calls} concurrency={args.concurrency}")
    redis = "yes" if os.environ.get("REDIS_URL") else "no"
    print(f"database={database}  redis={redis}  python={sys.version.split()[0]}")
    print(f"{'target':<10} {'calls/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'failures':>9}")
    for outcome in outcomes:
        print(
            f"{outcome.target:<10} {outcome.calls_per_second:>9.1f} {outcome.percentile(0.50):>8.2f} "
            f"{outcome.percentile(0.95):>8.2f} {outcome.percentile(0.99):>8.2f} {outcome.failures:>9}"
        )
    by_name = {outcome.target: outcome for outcome in outcomes}
    bare, mcp, rest = by_name["mcp-bare"], by_name["mcp"], by_name["rest"]
    print(
        f"\noverhead of the gateway over a bare MCPServer: "
        f"throughput x{bare.calls_per_second / mcp.calls_per_second:.2f} lower, "
        f"p50 x{mcp.percentile(0.5) / bare.percentile(0.5):.2f}, "
        f"p99 x{mcp.percentile(0.99) / bare.percentile(0.99):.2f}"
    )
    print(
        f"MCP vs REST through the same pipeline: throughput x{mcp.calls_per_second / rest.calls_per_second:.2f}, "
        f"p50 x{mcp.percentile(0.5) / rest.percentile(0.5):.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    bare = sub.add_parser("serve-bare")
    bare.add_argument("--port", type=int, required=True)
    bare.add_argument("--tool", required=True)
    bare.add_argument("--user-id", type=int, required=True)
    parser.add_argument("--tool", default="todo_overview", help="a tool that takes no arguments")
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--todos", type=int, default=50, help="todos the bench user owns")
    parser.add_argument("--allow-sqlite", action="store_true")
    args = parser.parse_args()
    args.arguments = {}

    if args.command == "serve-bare":
        serve_bare(args.port, args.tool, args.user_id)
        return

    database = os.environ.get("DATABASE_URL", "")
    if not database.startswith("postgres") and not args.allow_sqlite:
        parser.error("set DATABASE_URL to a PostgreSQL database (or pass --allow-sqlite)")
    user_id, token = prepare(args.tool, args.todos)

    env = dict(os.environ)
    # The bench is one user hammering one tool; the per-user limit would otherwise answer 429.
    env["MCP_RATE_LIMIT_DEFAULT"] = "100000000/minute"
    ports = {"gateway": free_port(), "bare": free_port()}
    uvicorn_flags = ["--host", "127.0.0.1", "--log-level", "warning", "--no-access-log", "--lifespan", "on"]
    processes = [
        start(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "config.asgi:application",
                "--port",
                str(ports["gateway"]),
                *uvicorn_flags,
            ],
            env,
        ),
        start(
            [
                sys.executable,
                __file__,
                "serve-bare",
                "--port",
                str(ports["bare"]),
                "--tool",
                args.tool,
                "--user-id",
                str(user_id),
            ],
            env,
        ),
    ]
    try:
        wait_ready(ports["gateway"], processes[0])
        wait_ready(ports["bare"], processes[1])
        call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": args.tool, "arguments": {}}}
        mcp_headers = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": PROTOCOL_VERSION}
        auth = {"Authorization": f"Bearer {token}"}
        gateway = f"http://127.0.0.1:{ports['gateway']}"
        targets = [
            ("mcp-bare", f"http://127.0.0.1:{ports['bare']}/mcp", call, mcp_headers, _mcp_ok),
            ("mcp", f"{gateway}/mcp", call, {**mcp_headers, **auth}, _mcp_ok),
            ("rest", f"{gateway}/api/mcp/tools/invoke", {"tool_name": args.tool, "parameters": {}}, auth, _rest_ok),
        ]
        outcomes = [
            asyncio.run(run_load(name, url, body, headers, ok, args.calls, args.concurrency, args.warmup))
            for name, url, body, headers, ok in targets
        ]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        from apps.quotas.limiter import limits_reset as rate_limit_reset

        # The bench user's counters would otherwise sit in the shared limiter store for a window.
        rate_limit_reset()
    safe_database = database.rsplit("@", 1)[-1] if database else "sqlite"
    report(outcomes, args, safe_database)


if __name__ == "__main__":
    main()
