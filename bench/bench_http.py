"""Tool calls over HTTP, measured from outside: the gateway in its deployment shape against the bare
MCP SDK, with wrk as the load generator.

    make bench                                    # everything, about 16 minutes (see bench/README.md)
    python bench/bench_http.py --mode throughput --duration 5 --warmup 2      # a short check

Needs DATABASE_URL (PostgreSQL) and REDIS_URL, and wrk (`apt-get install wrk`; scripts/bench.sh
installs it). Every server is started here on a free loopback port, one target after another:

  bare-constant   MCPServer (the SDK's), stateless JSON Streamable HTTP, a tool returning a constant
  bare-tool       the same MCPServer app running the gateway's tool function for a fixed user
  mcp, rest       the gateway (scripts/web.sh: uvicorn workers of config.asgi) with a PAT: MCP
                  tools/call at /mcp, and POST /api/mcp/tools/invoke; one worker, result cache off
  mcp-cached      the same with the tool's result cache on (every call after the first is a hit)
  mcp-Nw, rest-Nw the gateway with N workers (--many-workers)
  stage-*         with --stages: the gateway with tools/call answered after one step of a cached
                  call (bench/stages_asgi.py: stack, hop, limits, record), each step's cost per call

plus a Celery worker and beat for the whole run, as deployed. Every run starts from the same state
(bench/run_state.py): a database of its own, `<DATABASE_URL's name>_run`, made empty and migrated at
the start and dropped at the end (--keep-database keeps it), and cache keys under a prefix of its own.
Modes:

  throughput  wrk, closed loop (--connections, --duration after --warmup): calls/s, p50/p95/p99
  fixed       a fixed rate (--rate calls/s) from bench/fixed_rate.py, a separate open-loop process
              (wrk cannot hold a rate; wrk2 and vegeta are not packaged): latency at that load
  memory      the fixed rate on both doors for --memory-minutes (10), RSS of every process sampled
              every --sample-seconds (60), and whether it stayed flat over the second half
  all         the three in turn

Results: a Markdown table (and the raw figures as JSON) in bench/results/, printed at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
BASE_DIR = BENCH_DIR.parent
sys.path.insert(0, str(BASE_DIR))
sys.path.insert(0, str(BENCH_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# This process only sets up and reports; its own INFO lines (httpx per request) would be noise.
os.environ.setdefault("LOG_LEVEL", "warning")

import processes  # noqa: E402
import run_state  # noqa: E402
from django.core.exceptions import ImproperlyConfigured  # noqa: E402
from http_report import report  # noqa: E402

BENCH_USER = "bench-user"
PROTOCOL_VERSION = "2025-11-25"
RESULTS_DIR = BENCH_DIR / "results"
# bench/stages_asgi.py's stages, in the order each adds one step of a cached call.
STAGES = ("stack", "hop", "limits", "record", "async")


# --- Setup ----------------------------------------------------------------------------------------------


def prepare(tool_name: str, todos: int) -> tuple[int, str]:
    """Migrate; the bench user with `todos` todos and a fresh personal access token; no result cache."""
    import django

    django.setup()
    from django.core.management import call_command

    from apps.accounts.models import PersonalAccessToken, User
    from apps.accounts.scopes import scopes_for_user
    from apps.accounts.services import pat_create, pat_revoke, user_create
    from apps.mcp_tools.pipeline.policies import policies_ensure
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
    result_cache(tool_name, on=False)
    return user.pk, plaintext


def result_cache(tool_name: str, *, on: bool) -> None:
    """The tool's policy: result cache on or off, no per-policy rate limit; every worker sees it at once."""
    from apps.mcp_tools.models import ToolPolicy
    from apps.mcp_tools.pipeline.policies import policies_invalidate

    ToolPolicy.objects.filter(tool_name=tool_name).update(cacheable=on, rate_limit="")
    policies_invalidate()


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        # Production behaviour: no per-call output-schema check, no query log kept in memory.
        DEBUG="0",
        # Warnings and errors still print; per-request INFO lines would be measured with the calls.
        LOG_LEVEL="warning",
        # One user calls one tool as fast as it can; the limits are still checked on every call.
        MCP_RATE_LIMIT_DEFAULT="1000000000/minute",
        QUOTA_USER_RATE="1000000000/minute",
        QUOTA_USER_BURST="1000000000",
    )
    return env


# --- Servers ---------------------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    command: list[str]
    env: dict[str, str]
    port: int = 0
    process: subprocess.Popen | None = None
    log: Path = field(default_factory=Path)

    def __enter__(self) -> Server:
        self.log = RESULTS_DIR / "logs" / f"{self.name}.log"
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.process = processes.start(self.command, self.env, BASE_DIR, self.log)
        if self.port:
            processes.wait_port(self.port, self.process, self.log)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            processes.stop(self.process)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss(self) -> str:
        return processes.rss_text(self.process.pid)

    def cpu(self) -> dict[int, float]:
        """CPU seconds so far of the server's processes (with several workers, uvicorn's supervisor too)."""
        return processes.tree_cpu(self.process.pid)

    def cpu_ms_per_call(self, before: dict[int, float], calls: int) -> float | None:
        """Worker CPU (user + system) per call answered since `before`: what sets how many calls a core
        serves, and far less sensitive to other work on the machine than calls/s."""
        return processes.cpu_used(before, self.cpu()) * 1000 / calls if calls else None


def gateway(workers: int, env: dict[str, str]) -> Server:
    port = processes.free_port()
    return Server(
        f"gateway-{workers}w",
        [str(BASE_DIR / "scripts" / "web.sh")],
        {**env, "HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": str(workers)},
        port,
    )


def stage(name: str, env: dict[str, str]) -> Server:
    """The gateway with tools/call answered after one step (bench/stages_asgi.py), served as web.sh serves it."""
    port = processes.free_port()
    command = [
        sys.executable, "-m", "uvicorn", "stages_asgi:application", "--app-dir", str(BENCH_DIR),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--loop", "uvloop", "--http", "httptools",
        "--no-access-log", "--no-proxy-headers", "--lifespan", "on",
    ]  # fmt: skip
    return Server(f"stage-{name}", command, {**env, "BENCH_STAGE": name}, port)


def bare(kind: str, env: dict[str, str], tool: str, user_id: int) -> Server:
    port = processes.free_port()
    command = [sys.executable, str(BENCH_DIR / "bare_server.py"), "--port", str(port), "--kind", kind]
    if kind == "tool":
        command += ["--tool", tool, "--user-id", str(user_id)]
    return Server(f"bare-{kind}", command, env, port)


def celery(env: dict[str, str]) -> list[Server]:
    celery_bin = shutil.which("celery", path=os.path.dirname(sys.executable)) or "celery"
    return [
        Server(
            "celery-worker",
            [celery_bin, "-A", "config", "worker", "--loglevel", "warning", "--concurrency", "2"],
            env,
        ),
        Server(
            "celery-beat",
            [celery_bin, "-A", "config", "beat", "--loglevel", "warning",
             "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler"],
            env,
        ),
    ]  # fmt: skip


# --- Calls ---------------------------------------------------------------------------------------------------


def call_body(kind: str, tool: str) -> str:
    if kind == "rest":
        return json.dumps({"tool_name": tool, "parameters": {}})
    return json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": {}}})


def call_path(kind: str) -> str:
    return "/api/mcp/tools/invoke" if kind == "rest" else "/mcp"


def check_one(server: Server, kind: str, tool: str, token: str) -> None:
    """One call before any load, so a broken setup fails here with its answer, not as 100 % errors."""
    import httpx

    headers = {"Content-Type": "application/json"}
    if kind == "mcp":
        headers.update(Accept="application/json, text/event-stream", **{"MCP-Protocol-Version": PROTOCOL_VERSION})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    response = httpx.post(server.base + call_path(kind), content=call_body(kind, tool), headers=headers, timeout=30)
    body = response.text
    ok = response.status_code == 200 and (
        '"success":true' in body if kind == "rest" else ('"result"' in body and '"isError":true' not in body)
    )
    if not ok:
        raise RuntimeError(f"{server.name} {kind}: the first call failed: {response.status_code} {body[:400]}")


def wrk(url: str, kind: str, body: str, token: str, seconds: float, args: argparse.Namespace) -> dict:
    env = {**os.environ, "BENCH_KIND": kind, "BENCH_BODY": body, "BENCH_TOKEN": token}
    env["BENCH_PROTOCOL"] = PROTOCOL_VERSION
    command = [
        "wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{max(1, round(seconds))}s",
        "--timeout", "10s", "-s", str(BENCH_DIR / "wrk_call.lua"), url,
    ]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    line = next((line for line in done.stdout.splitlines() if line.startswith("BENCH_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{done.stdout}\n{done.stderr}")
    raw = json.loads(line.removeprefix("BENCH_RESULT "))
    return {
        "calls_per_s": raw["requests"] / (raw["duration_us"] / 1e6),
        "p50_ms": raw["p50_us"] / 1000,
        "p95_ms": raw["p95_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "calls": raw["requests"],
        "errors": raw["failed"] + raw["socket_errors"],
        "first_failure": raw["first_failure"],
    }


def fixed_rate_command(server: Server, kinds: list[str], tool: str, seconds: float, rate: float) -> list[str]:
    command = [sys.executable, str(BENCH_DIR / "fixed_rate.py"), "--rate", str(rate), "--seconds", str(seconds)]
    for kind in kinds:
        command += ["--target", kind, server.base + call_path(kind), call_body(kind, tool)]
    return command


def bench_results(output: str) -> list[dict]:
    return [
        json.loads(line.removeprefix("BENCH_RESULT "))
        for line in output.splitlines()
        if line.startswith("BENCH_RESULT ")
    ]


def fixed_rate(server: Server, kinds: list[str], tool: str, token: str, seconds: float, rate: float) -> list[dict]:
    command = fixed_rate_command(server, kinds, tool, seconds, rate)
    done = subprocess.run(command, env={**os.environ, "BENCH_TOKEN": token}, capture_output=True, text=True, check=True)
    return bench_results(done.stdout)


def profile_start(
    server: Server, seconds: float, name: str, stem: str, args_profile_gil: bool = False
) -> subprocess.Popen | None:
    """py-spy on the gateway's worker for the measured phase: collapsed stacks in bench/results/."""
    spy = shutil.which("py-spy", path=os.path.dirname(sys.executable)) or shutil.which("py-spy")
    if spy is None:
        print("py-spy is not installed (requirements-dev.txt); no profile", file=sys.stderr)
        return None
    workers = processes.process_tree(server.process.pid)
    output = RESULTS_DIR / f"{stem}-profile-{name}.txt"
    # The last member is the worker serving requests (with one worker, uvicorn itself).
    command = [spy, "record", "--pid", str(workers[-1]), "--duration", str(max(1, round(seconds))),
               "--rate", "200", "--format", "raw", "--nonblocking", "--output", str(output)]  # fmt: skip
    if args_profile_gil:
        # Only the thread holding the GIL: where the worker's one core goes, not where its threads wait.
        command.append("--gil")
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# --- Modes -----------------------------------------------------------------------------------------------------


def throughput(args: argparse.Namespace, env: dict[str, str], user_id: int, token: str, stem: str) -> list[dict]:
    rows: list[dict] = []

    def measure(server: Server, target: str, kind: str, tool: str, auth: str) -> None:
        if args.targets and target not in args.targets:
            return
        check_one(server, kind, tool, auth)
        url, body = server.base + call_path(kind), call_body(kind, tool)
        wrk(url, kind, body, auth, args.warmup, args)
        spy = profile_start(server, args.duration, target, stem, args.profile_gil) if args.profile and auth else None
        cpu_before = server.cpu()
        row = {"target": target, **wrk(url, kind, body, auth, args.duration, args)}
        row.update(cpu_ms_per_call=server.cpu_ms_per_call(cpu_before, row["calls"]), rss_mb=server.rss())
        if spy is not None:
            spy.wait()
        row["load"] = processes.load_average()
        rows.append(row)
        print(f"  {target:<14} {row['calls_per_s']:8.1f} calls/s  p50 {row['p50_ms']:.1f} ms  "
              f"p99 {row['p99_ms']:.1f} ms  CPU {cpu_text(row)} ms  errors {row['errors']}", flush=True)  # fmt: skip

    with bare("constant", env, args.tool, user_id) as server:
        measure(server, "bare-constant", "mcp", "constant", "")
    with bare("tool", env, args.tool, user_id) as server:
        measure(server, "bare-tool", "mcp", args.tool, "")
    with gateway(1, env) as server:
        measure(server, "mcp", "mcp", args.tool, token)
        measure(server, "rest", "rest", args.tool, token)
        result_cache(args.tool, on=True)
        try:
            measure(server, "mcp-cached", "mcp", args.tool, token)
        finally:
            result_cache(args.tool, on=False)
    if args.stages or any(target.startswith("stage-") for target in args.targets or []):
        for name in STAGES:
            with stage(name, env) as server:
                measure(server, f"stage-{name}", "mcp", args.tool, token)
    many = args.many_workers
    with gateway(many, env) as server:
        measure(server, f"mcp-{many}w", "mcp", args.tool, token)
        measure(server, f"rest-{many}w", "rest", args.tool, token)
    return rows


def cpu_text(row: dict) -> str:
    return "-" if row.get("cpu_ms_per_call") is None else f"{row['cpu_ms_per_call']:.2f}"


def fixed(args: argparse.Namespace, env: dict[str, str], user_id: int, token: str) -> list[dict]:
    rows: list[dict] = []
    warmup = max(args.warmup, 1)

    def measure(server: Server, kind: str, auth: str, extra: dict) -> None:
        fixed_rate(server, [kind], args.tool, auth, warmup, args.rate)
        cpu_before = server.cpu()
        for row in fixed_rate(server, [kind], args.tool, auth, args.fixed_seconds, args.rate):
            cpu = server.cpu_ms_per_call(cpu_before, row["calls"])
            rows.append({**row, **extra, "cpu_ms_per_call": cpu, "rss_mb": server.rss()})

    with bare("tool", env, args.tool, user_id) as server:
        measure(server, "mcp", "", {"target": "bare-tool", "workers": 1})
    with gateway(args.workers, env) as server:
        for kind in ("mcp", "rest"):
            check_one(server, kind, args.tool, token)
            measure(server, kind, token, {"workers": args.workers})
    for row in rows:
        print(f"  {row['target']:<10} at {args.rate:g}/s: p50 {row['p50_ms']:.1f} ms  p95 {row['p95_ms']:.1f} ms  "
              f"p99 {row['p99_ms']:.1f} ms  CPU {cpu_text(row)} ms  errors {row['failed']}", flush=True)  # fmt: skip
    return rows


def memory(args: argparse.Namespace, env: dict[str, str], token: str, workers: list[Server]) -> dict:
    samples: list[dict] = []
    with gateway(args.workers, env) as server:
        for kind in ("mcp", "rest"):
            check_one(server, kind, args.tool, token)
        fixed_rate(server, ["mcp", "rest"], args.tool, token, max(args.warmup, 1), args.rate)
        seconds = args.memory_minutes * 60
        command = fixed_rate_command(server, ["mcp", "rest"], args.tool, seconds, args.rate)
        load = subprocess.Popen(command, env={**os.environ, "BENCH_TOKEN": token}, stdout=subprocess.PIPE, text=True)
        started = time.monotonic()
        while True:
            elapsed = time.monotonic() - started
            members = {"gateway": server, **{worker.name: worker for worker in workers}}
            samples.append(
                {
                    "minute": round(elapsed / 60, 2),
                    **{name: dict(processes.tree_rss(member.process.pid)) for name, member in members.items()},
                }
            )
            print(f"  t={elapsed / 60:5.1f} min  gateway RSS {server.rss()} MB", flush=True)
            if load.poll() is not None or elapsed >= seconds:
                break
            time.sleep(min(args.sample_seconds, max(0.5, seconds - elapsed)))
        output, _ = load.communicate()
    return {"samples": samples, "calls": bench_results(output)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=["all", "throughput", "fixed", "memory"], default="all")
    parser.add_argument("--tool", default="todo_overview", help="a tool that takes no arguments")
    parser.add_argument("--todos", type=int, default=50, help="todos the bench user owns")
    parser.add_argument("--duration", type=float, default=12, help="seconds measured per throughput target")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of load before each measurement")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (it needs little CPU)")
    parser.add_argument("--many-workers", type=int, default=2, help="workers for the mcp-Nw / rest-Nw targets")
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)),
                        help="gateway workers for fixed and memory modes (default: nproc, as deployed)")  # fmt: skip
    parser.add_argument("--rate", type=float, default=100, help="calls/s for fixed and memory modes")
    parser.add_argument("--fixed-seconds", type=float, default=30)
    # Issue 13: memory flat over a 10-minute run at 100 calls/s, RSS sampled each minute.
    parser.add_argument("--memory-minutes", type=float, default=10, help="minutes of the memory run (default 10)")
    parser.add_argument("--sample-seconds", type=float, default=60, help="seconds between RSS samples (default 60)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run the throughput targets this many times; the report gives medians")  # fmt: skip
    parser.add_argument("--targets", nargs="*", help="only these throughput targets (e.g. mcp rest)")
    parser.add_argument("--stages", action="store_true",
                        help="also measure a call cut short after each step (bench/stages_asgi.py)")  # fmt: skip
    parser.add_argument("--profile", action="store_true", help="py-spy the gateway targets (throughput mode)")
    parser.add_argument("--profile-gil", action="store_true", help="with --profile: sample only the GIL holder")
    parser.add_argument("--keep-database", action="store_true",
                        help="keep the run's database (<DATABASE_URL name>_run) for inspection")  # fmt: skip
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres") or not os.environ.get("REDIS_URL"):
        parser.error("set DATABASE_URL to a PostgreSQL database and REDIS_URL to a Redis database")
    if shutil.which("wrk") is None and args.mode in {"all", "throughput"}:
        parser.error("wrk is not installed: apt-get install -y wrk (scripts/bench.sh does this)")

    started = dt.datetime.now(dt.UTC)
    stem = "http-" + started.strftime("%Y%m%dT%H%M%SZ")
    RESULTS_DIR.mkdir(exist_ok=True)
    results: dict = {"started": started.strftime("%Y-%m-%d %H:%M UTC"), "load_before": processes.load_average()}
    try:
        database = run_state.RunDatabase.from_url(os.environ["DATABASE_URL"])
    except (ImproperlyConfigured, run_state.RunDatabaseError) as exc:
        parser.error(str(exc))
    try:
        with run_state.fresh_run(database, stem, keep=args.keep_database) as run:
            results["run"] = run
            measure_all(args, stem, results)
            run.update(run_state.database_rows())
            results["load_after"] = processes.load_average()
            text = report(args, processes.machine(), results)
            (RESULTS_DIR / f"{stem}.md").write_text(text + "\n")
            (RESULTS_DIR / f"{stem}.json").write_text(json.dumps({"args": vars(args), **results}, indent=2) + "\n")
            print("\n" + text + f"\nWritten to {RESULTS_DIR / (stem + '.md')}")
    except run_state.RunDatabaseError as exc:
        sys.exit(f"bench: {exc}")


def measure_all(args: argparse.Namespace, stem: str, results: dict) -> None:
    user_id, token = prepare(args.tool, args.todos)
    env = server_env()
    background = celery(env)
    try:
        for worker in background:
            worker.__enter__()
        if args.mode in {"all", "throughput"}:
            results["throughput"] = []
            for number in range(1, args.rounds + 1):
                print(f"throughput (wrk), round {number} of {args.rounds}:", flush=True)
                rows = throughput(args, env, user_id, token, f"{stem}-r{number}" if args.rounds > 1 else stem)
                results["throughput"] += [{**row, "round": number} for row in rows]
        if args.mode in {"all", "fixed"}:
            print(f"fixed rate ({args.rate:g} calls/s):", flush=True)
            results["fixed"] = fixed(args, env, user_id, token)
        if args.mode in {"all", "memory"}:
            print(f"memory ({args.memory_minutes:g} min at {args.rate:g} calls/s):", flush=True)
            results["memory"] = memory(args, env, token, background)
    finally:
        for worker in background:
            worker.__exit__()


if __name__ == "__main__":
    main()
