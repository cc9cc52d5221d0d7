"""`make bench` starts every run from the same state (bench/run_state.py) and its report says how
memory behaved (bench/http_report.py)."""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import ModuleType
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings

from config.env import database_from_url

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"


def bench_module(name: str) -> ModuleType:
    # Loaded from its file: bench/ is a folder of scripts, not a package on the path.
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


run_state = bench_module("run_state")
http_report = bench_module("http_report")
processes = bench_module("processes")


# --- The run database's name, and the guard --------------------------------------------------------------


def test_the_run_database_is_the_configured_name_with_run_appended():
    assert run_state.run_database_name("gw_bench") == "gw_bench_run"


def test_the_run_url_differs_from_database_url_only_in_the_name():
    url = "postgres://bench:p%40ss@db.example.test:5433/gw_bench?sslmode=disable"

    database = run_state.RunDatabase.from_url(url)

    assert (database.configured, database.name) == ("gw_bench", "gw_bench_run")
    assert database.url == "postgres://bench:p%40ss@db.example.test:5433/gw_bench_run?sslmode=disable"
    configured, run = database_from_url("DATABASE_URL", url), database_from_url("DATABASE_URL", database.url)
    assert run == {**configured, "NAME": "gw_bench_run"}


def test_it_never_drops_the_database_named_in_database_url():
    with pytest.raises(run_state.RunDatabaseError, match="Refusing to drop 'gw_bench'"):
        run_state.check_droppable("gw_bench", configured="gw_bench")


def test_it_drops_no_database_but_the_run_database_of_database_url():
    with pytest.raises(run_state.RunDatabaseError, match="Refusing"):
        run_state.check_droppable("gw_other_run", configured="gw_bench")
    with pytest.raises(run_state.RunDatabaseError, match="Refusing"):
        run_state.check_droppable("gw_bench_run_run", configured="gw_bench")
    run_state.check_droppable("gw_bench_run", configured="gw_bench")


def test_it_refuses_a_name_postgresql_would_cut_back_to_the_configured_one():
    # PostgreSQL truncates identifiers to 63 bytes: a 63-byte name + "_run" would name the configured database.
    configured = "g" * 63
    with pytest.raises(run_state.RunDatabaseError, match="63 bytes"):
        run_state.run_database_name(configured)
    with pytest.raises(run_state.RunDatabaseError):
        run_state.check_droppable(configured, configured=configured)
    assert run_state.run_database_name("g" * 59) == "g" * 59 + "_run"
    with pytest.raises(run_state.RunDatabaseError):
        run_state.run_database_name("é" * 30)  # 60 bytes, 64 with the suffix


# --- Against the real PostgreSQL ------------------------------------------------------------------------------


@pytest.fixture
def admin():
    """An autocommit connection to the server's maintenance database (no test database needed)."""
    default = settings.DATABASES["default"]
    params = {"host": default["HOST"], "port": default["PORT"] or 5432, "user": default["USER"]}
    with psycopg.connect(**params, password=default["PASSWORD"] or None, dbname="postgres", autocommit=True) as conn:
        yield conn


@pytest.fixture
def configured(admin):
    """A database standing for the one DATABASE_URL names, with a row that must survive every run."""
    name = f"gw_benchcfg_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    default = settings.DATABASES["default"]
    password = f":{quote(default['PASSWORD'], safe='')}" if default["PASSWORD"] else ""
    url = f"postgres://{quote(default['USER'])}{password}@{default['HOST']}:{default['PORT'] or 5432}/{name}"
    with psycopg.connect(url.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (id int); INSERT INTO kept VALUES (1)")
    yield url
    admin.execute(f'DROP DATABASE IF EXISTS "{name}_run" WITH (FORCE)')
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_exists(admin: psycopg.Connection, name: str) -> bool:
    return admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def kept_rows(url: str) -> int:
    with psycopg.connect(url.replace("postgres://", "postgresql://", 1)) as conn:
        return conn.execute("SELECT count(*) FROM kept").fetchone()[0]


@pytest.mark.postgres
def test_each_run_starts_on_an_empty_database_and_leaves_the_configured_one_alone(admin, configured):
    database = run_state.RunDatabase.from_url(configured)
    database.recreate()
    with psycopg.connect(database.url.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        conn.execute("CREATE TABLE earlier_run (id int)")

    database.recreate()

    with psycopg.connect(database.url.replace("postgres://", "postgresql://", 1)) as conn:
        assert conn.execute("SELECT to_regclass('earlier_run')").fetchone() == (None,)
    database.drop()
    assert not database_exists(admin, database.name)
    assert kept_rows(configured) == 1


RUN = """
import sys, time
sys.path[:0] = [{root!r}, {bench!r}]
import run_state
database = run_state.RunDatabase.from_url(sys.argv[1])
with run_state.fresh_run(database, "test", keep=sys.argv[2] == "keep"):
    print("ready", flush=True)
    if sys.argv[2] != "keep":
        time.sleep(60)
"""


def run_command(url: str, mode: str) -> list[str]:
    return [sys.executable, "-c", RUN.format(root=str(ROOT), bench=str(BENCH)), url, mode]


@pytest.mark.postgres
@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "kill"])
def test_an_interrupted_run_drops_its_database(admin, configured, how):
    run_name = run_state.run_database_name(database_from_url("DATABASE_URL", configured)["NAME"])
    process = subprocess.Popen(run_command(configured, "drop"), cwd=ROOT, stdout=subprocess.PIPE, text=True)
    # Nothing follows "ready" until the signal, so reading up to it leaves no output behind in a buffer.
    while (line := process.stdout.readline()) and line.strip() != "ready":
        pass
    assert line.strip() == "ready", "the run did not start"
    assert database_exists(admin, run_name)

    process.send_signal(how)
    out, _err = process.communicate(timeout=30)

    assert process.returncode != 0
    assert f"Dropped the run database {run_name}" in out
    assert not database_exists(admin, run_name)
    assert kept_rows(configured) == 1


@pytest.mark.postgres
def test_keep_database_leaves_the_run_database_for_inspection(admin, configured):
    run_name = run_state.run_database_name(database_from_url("DATABASE_URL", configured)["NAME"])

    done = subprocess.run(run_command(configured, "keep"), cwd=ROOT, capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    kept = next(line for line in done.stdout.splitlines() if line.startswith("Kept the run database"))
    shutil.rmtree(kept.rsplit("its audit checkpoints: ", 1)[1])
    assert kept.startswith(f"Kept the run database {run_name};")
    assert database_exists(admin, run_name)
    assert kept_rows(configured) == 1


@pytest.mark.redis
def test_the_runs_cache_keys_go_and_no_other_key_does():
    from django_redis import get_redis_connection

    client = get_redis_connection("default")
    prefix = f"gw-bench-test-{uuid.uuid4().hex[:8]}"
    others = [f"{prefix}x:1:result", f"other-{prefix}:1:result"]
    client.mset({f"{prefix}:1:mcp:result:a": 1, f"{prefix}:1:mcp:version:todos:1": 2, **dict.fromkeys(others, 3)})
    try:
        assert run_state.cache_keys_delete(prefix) == 2
        assert client.exists(*others) == 2
        assert not client.keys(f"{prefix}:*")
    finally:
        client.delete(*others)


# --- The report ---------------------------------------------------------------------------------------------------


def samples(series: dict[str, dict[int, list[float]]], minutes: list[float]) -> list[dict]:
    """RSS samples as bench_http.memory() records them, from per-process series (None: not running)."""
    return [
        {
            "minute": minute,
            **{
                name: {pid: rss[index] for pid, rss in pids.items() if rss[index] is not None}
                for name, pids in series.items()
            },
        }
        for index, minute in enumerate(minutes)
    ]


MINUTES = [float(minute) for minute in range(11)]


def test_memory_that_stops_growing_after_the_warm_up_is_flat():
    warming = [150, 170, 180, 186, 189, 190, 190.5, 191, 191, 191.5, 192]
    run = samples({"gateway": {100: [40] * 11, 101: warming}, "celery-beat": {200: [12] * 11}}, MINUTES)

    lines = http_report.memory_verdict(run)

    assert "| gateway 101 | 150.0 | 190.0 | 192.0 | +42.0 | +2.0 |" in lines
    assert lines[-1] == (
        "- Verdict: flat: the most any process grew over the second half was +2.0 MB (gateway 101) "
        "(flat = every process grew less than 5 MB over the second half, minute 5.0 to 10.0)"
    )


def test_memory_still_growing_in_the_second_half_is_not_flat():
    leaking = [190 + minute for minute in range(11)]
    run = samples({"gateway": {100: [40] * 11, 101: leaking}, "celery-worker": {300: [25] * 11}}, MINUTES)

    verdict = http_report.memory_verdict(run)[-1]

    assert verdict.startswith("- Verdict: NOT flat: gateway 101 +5.0 MB (flat = every process grew less than 5 MB")


def test_a_process_not_running_through_the_second_half_is_named_not_judged():
    replaced = [25] * 6 + [None] * 5
    replacement = [None] * 6 + [25] * 5
    run = samples({"gateway": {101: [190] * 11}, "celery-worker": {300: replaced, 301: replacement}}, MINUTES)

    verdict = http_report.memory_verdict(run)[-1]

    assert verdict.startswith("- Verdict: flat: the most any process grew over the second half was +0.0 MB")
    assert verdict.endswith("not running at both ends of the second half: celery-worker 300, celery-worker 301")


def test_too_short_a_memory_run_gets_no_verdict():
    run = samples({"gateway": {101: [190, 199]}}, [0.0, 1.0])

    assert http_report.memory_verdict(run) == [
        "- Verdict: none: 2 RSS samples; it takes one at the start, one at half the run and one at the end "
        "(--memory-minutes at least twice --sample-seconds)"
    ]


def test_the_report_states_the_fresh_database_and_what_it_held_at_the_end():
    args = argparse.Namespace(tool="todo_overview", todos=50, threads=1, connections=16, duration=3, warmup=1, rate=100)
    run = {"database": "gw_bench_run", "kept": False, "cache_key_prefix": "gw-bench-http-x", "tool_calls": 1234}
    results = {"started": "now", "load_before": "0.1", "load_after": "0.2", "run": {**run, "audit_events": 1300}}

    text = http_report.report(args, {}, results)

    assert (
        "- database: a fresh one for this run, `gw_bench_run` (created empty and migrated at the start, dropped at "
        "the end); at the end it held 1234 tool-call rows and 1300 audit events"
    ) in text
    assert "`gw-bench-http-x`, deleted at the end" in text
    kept = http_report.report(args, {}, {**results, "run": {**results["run"], "kept": True}})
    assert "kept for inspection as `gw_bench_run`" in kept


# --- Where a cached call's time goes (--stages) ----------------------------------------------------------


def _row(target: str, calls_per_s: float, number: int) -> dict:
    return {"target": target, "calls_per_s": calls_per_s, "round": number}


def test_the_stages_report_gives_ms_per_call_and_what_each_step_adds_as_medians_over_rounds():
    rows = []
    for number, (bare, stack, hop, record) in enumerate([(1000, 500, 250, 200), (2000, 1000, 500, 250)], start=1):
        rows += [_row("bare-constant", bare, number), _row("stage-stack", stack, number)]
        rows += [_row("stage-hop", hop, number), _row("stage-record", record, number)]
    lines = http_report._stages_report(rows, [1, 2])
    table = {line.split(" | ")[0].removeprefix("| "): line.split(" | ")[2:] for line in lines if line.startswith("| ")}
    assert table["bare-constant"] == ["0.75", " |"]  # 1 ms and 0.5 ms per call: median 0.75, nothing before it
    assert table["stage-stack"] == ["1.50", "+0.75 |"]  # 2 and 1 ms; it added 1 and 0.5 ms
    assert table["stage-hop"] == ["3.00", "+1.50 |"]
    # A stage not measured is left out; the next one is compared with the last one measured.
    assert "stage-limits" not in table
    assert table["stage-record"] == ["4.50", "+1.50 |"]  # 5 and 4 ms; added 1 and 2 ms over the hop


def test_the_async_stage_is_reported_beside_the_chain_over_stage_stack():
    rows = [_row("bare-constant", 1000, 1), _row("stage-stack", 500, 1), _row("stage-record", 200, 1)]
    rows.append(_row("stage-async", 250, 1))
    lines = http_report._stages_report(rows, [1])
    table = {line.split(" | ")[0].removeprefix("| "): line.split(" | ")[2:] for line in lines if line.startswith("| ")}
    # Not a step after mcp-cached: 4 ms per call, 2 ms over stage-stack's 2 ms; the chain is unchanged.
    assert table["stage-async"] == ["4.00", "+2.00 over stage-stack |"]
    assert table["stage-record"] == ["5.00", "+3.00 |"]
    assert lines[-2].startswith("| stage-async |")


def test_without_stage_targets_there_is_no_stages_section():
    assert http_report._stages_report([_row("mcp", 100, 1), _row("bare-constant", 1000, 1)], [1]) == []


# --- Worker CPU per call (issue 24) ------------------------------------------------------------------------


def test_a_servers_cpu_counts_every_process_under_it_from_proc():
    # A parent that waits and a child that spins for 0.3 s of CPU: the tree's reading holds the child's
    # CPU, the parent's own reading does not.
    spin = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\ntime.sleep(30)"
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {spin!r}]); time.sleep(30)",
        ],
        start_new_session=True,
    )
    try:
        before = {parent.pid: 0.0}
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            after = processes.tree_cpu(parent.pid)
            if len(after) == 2 and processes.cpu_used(before, after) >= 0.3:
                break
            time.sleep(0.1)
        assert len(after) == 2
        assert processes.cpu_used(before, after) >= 0.3
        assert processes.cpu_seconds(parent.pid) < 0.3
    finally:
        os.killpg(parent.pid, signal.SIGKILL)
        parent.wait()


def test_cpu_used_counts_a_process_started_in_between_from_zero():
    assert processes.cpu_used({1: 2.0, 2: 1.0}, {1: 2.5, 2: 1.25, 3: 0.5}) == 1.25
    # A process that ended in between has no reading after; its part is lost, never negative.
    assert processes.cpu_used({1: 2.0, 2: 1.0}, {1: 2.5}) == 0.5


def _cpu_row(target: str, calls_per_s: float, cpu: float | None, number: int) -> dict:
    return {**_row(target, calls_per_s, number), "cpu_ms_per_call": cpu, "p50_ms": 1, "p95_ms": 2, "p99_ms": 3,
            "errors": 0, "rss_mb": "90"}  # fmt: skip


def test_the_report_gives_worker_cpu_per_call_and_what_the_gateway_adds_within_each_round():
    args = argparse.Namespace(many_workers=2)
    rows = []
    for number, (bare, mcp, rest) in enumerate([(3.0, 4.0, 4.5), (3.2, 5.0, 4.0), (2.8, 4.6, 4.2)], start=1):
        rows += [_cpu_row("bare-tool", 300, bare, number), _cpu_row("mcp", 200, mcp, number)]
        rows += [_cpu_row("rest", 200, rest, number), _cpu_row("bare-constant", 1500, None, number)]

    text = "\n".join(http_report._throughput_report(args, rows))

    table = {line.split(" | ")[0].removeprefix("| "): line.split(" | ") for line in text.splitlines()}
    assert "worker CPU ms/call" in text
    assert table["bare-tool"][6] == "3.00"  # the median over the rounds
    assert table["mcp"][6] == "4.60"
    assert table["bare-constant"][6] == "-"  # not measured: said so, not zero
    # Added per round: mcp 1.0, 1.8, 1.8 -> median 1.8; rest 1.5, 0.8, 1.4 -> 1.4.
    assert (
        "- worker CPU the gateway adds per uncached MCP tools/call, mcp - bare-tool (goal <= 1.0 ms): +1.80 ms "
        "(rounds: +1.00, +1.80, +1.80)"
    ) in text
    assert "per uncached REST invoke, rest - bare-tool (goal <= 1.0 ms): +1.40 ms (rounds: +1.50, +0.80, +1.40)" in text
    assert "- MCP / bare-tool throughput (goal >= 0.75): 0.67" in text


def test_the_fixed_rate_report_gives_worker_cpu_per_call_and_what_each_door_adds():
    args = argparse.Namespace(tool="todo_overview", todos=50, threads=1, connections=16, duration=3, warmup=1,
                              rate=100, fixed_seconds=30)  # fmt: skip
    fixed = [
        {
            "target": target,
            "workers": 1,
            "calls": 3000,
            "p50_ms": 2,
            "p95_ms": 5,
            "p99_ms": 9,
            "max_ms": 20,
            "failed": 0,
            "rss_mb": "90",
            "cpu_ms_per_call": cpu,
        }
        for target, cpu in (("bare-tool", 3.0), ("mcp", 4.25), ("rest", 3.9))
    ]
    text = http_report.report(args, {}, {"started": "now", "load_before": "1", "load_after": "1", "fixed": fixed})

    assert "| mcp | 1 | 3000 | 2.0 | 5.0 | 9.0 | 20.0 | 4.25 | 0 | 90 |" in text
    assert "- worker CPU the gateway adds per mcp call at this rate: +1.25 ms" in text
    assert "- worker CPU the gateway adds per rest call at this rate: +0.90 ms" in text
