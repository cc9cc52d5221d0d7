"""What the audit trail costs: events appended per second with 1, 4 and 16 concurrent writers (with
the sealer running as beat would run it, and the unsealed window measured), then tool-call
throughput through REST invoke with audit on and off in the same run, two uvicorn workers each,
load from wrk (an external generator, so the loader does not share the servers' Python).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gw_bench REDIS_URL=redis://127.0.0.1:6379/9 \\
        APP_ENV=development python bench/bench_audit.py --seconds 10

Writers are threads in this process, each with its own database connection, each appending one
event per transaction (as a request does). On a loaded or small machine every figure moves with
what else runs; compare figures from one run only.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
# One pooled connection per writer thread (16), and servers that wait for a connection on a busy
# machine rather than answering 503 after half a second.
os.environ.setdefault("DATABASE_POOL_MAX_SIZE", "24")
os.environ.setdefault("DATABASE_POOL_TIMEOUT", "10")
from bench_mcp import BASE_DIR, free_port, prepare, start, wait_ready

WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = '{"tool_name": "%s", "parameters": {}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
"""


def _writers(count: int, seconds: float, seal_interval: float) -> dict[str, float]:
    from django.db import connection

    from apps.audit.chain import audit_chain_seal
    from apps.audit.models import AuditEvent
    from apps.audit.services import audit_event_record

    stop = time.monotonic() + seconds
    done = [0] * count
    committed: dict[int, float] = {}  # sampled event id -> commit time
    sealed_at: dict[int, float] = {}

    def writer(index: int) -> None:
        try:
            while time.monotonic() < stop:
                event = audit_event_record(action="tool.invoked", actor=None, target_type="tool", target_id="bench")
                if done[index] % 20 == 0:
                    committed[event.pk] = time.monotonic()
                done[index] += 1
        finally:
            connection.close()

    def sealer() -> None:
        # As beat runs it: one seal every interval, then a watcher notes when sampled ids got sealed.
        try:
            while time.monotonic() < stop + 2 * seal_interval:
                audit_chain_seal()
                now = time.monotonic()
                waiting = [pk for pk in list(committed) if pk not in sealed_at]
                for pk in AuditEvent.chain_objects.filter(pk__in=waiting, seq__isnull=False).values_list(
                    "pk", flat=True
                ):
                    sealed_at[pk] = now
                time.sleep(seal_interval)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(count)] + [threading.Thread(target=sealer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    windows = sorted(sealed_at[pk] - committed[pk] for pk in sealed_at)
    return {
        "events_per_second": sum(done) / seconds,
        "window_p50_ms": statistics.median(windows) * 1000 if windows else float("nan"),
        "window_max_ms": windows[-1] * 1000 if windows else float("nan"),
        "unsealed_after_run": AuditEvent.chain_objects.filter(seq__isnull=True).count(),
    }


def _wrk(url: str, script: Path, seconds: int, connections: int) -> dict[str, float]:
    output = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)

    def percentile(label: str) -> float:
        match = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)", output)
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    return {
        "rate": rate,
        "p50": percentile("50"),
        "p99": percentile("99"),
        "errors": int(errors.group(1)) if errors else 0,
    }


def _throughput(tool: str, token: str, seconds: int, connections: int) -> dict[str, dict[str, float]]:
    env = dict(os.environ, MCP_RATE_LIMIT_DEFAULT="100000000/minute", MCP_RESULT_CACHE="false")
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(WRK_SCRIPT % (tool, token))
    results = {}
    flags = ["--host", "127.0.0.1", "--log-level", "warning", "--no-access-log", "--workers", "2"]
    # Alternate on, off, on, off: a drifting machine shows as a spread between the pairs.
    for name, app in [("on", "config.asgi:application"), ("off", "audit_off_asgi:application")] * 2:
        port = free_port()
        process = start([sys.executable, "-m", "uvicorn", app, "--app-dir", str(BASE_DIR / "bench"),
                         "--port", str(port), *flags], env)  # fmt: skip
        try:
            wait_ready(port, process)
            url = f"http://127.0.0.1:{port}/api/mcp/tools/invoke"
            _wrk(url, script, 2, connections)  # warm-up
            outcome = _wrk(url, script, seconds, connections)
        finally:
            process.terminate()
            process.wait(timeout=30)
        best = results.get(name)
        results[name] = outcome if best is None or outcome["rate"] > best["rate"] else best
    script.unlink()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--tool", default="todo_overview")
    parser.add_argument("--seal-interval", type=float, default=1.0, help="seconds between seals (beat's interval)")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        parser.error("set DATABASE_URL to a PostgreSQL database (concurrent writers are the point)")
    os.environ.setdefault("MCP_RESULT_CACHE", "false")
    _user_id, token = prepare(args.tool, 50)

    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
    print(f"\nappend: {'writers':>7} {'events/s':>9} {'unsealed window p50 ms':>23} {'max ms':>8}")
    for writers in (1, 4, 16):
        result = _writers(writers, args.seconds, args.seal_interval)
        print(
            f"        {writers:>7} {result['events_per_second']:>9.0f} {result['window_p50_ms']:>23.0f} "
            f"{result['window_max_ms']:>8.0f}   (left unsealed: {result['unsealed_after_run']})"
        )

    results = _throughput(args.tool, token, args.seconds, args.connections)
    print(f"\nREST invoke {args.tool}, 2 workers, wrk -c{args.connections} {args.seconds}s (best of two each):")
    for name in ("on", "off"):
        r = results[name]
        print(f"  audit {name:<3} {r['rate']:>8.1f} calls/s  p50 {r['p50']:.1f} ms  p99 {r['p99']:.1f} ms", end="")
        print(f"  errors {r['errors']}")
    print(f"  audit on / off = {results['on']['rate'] / results['off']['rate']:.0%} (goal >= 90%)")
    print(f"machine load average {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
