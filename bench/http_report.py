"""The report of bench_http.py: its tables in Markdown, with the ratios issue 13 sets as goals."""

from __future__ import annotations

import argparse
import statistics

# Issue 13: "memory flat over a 10-minute run at 100 calls/s". Flat: no process grows by this much
# over the second half of the run.
FLAT_SECOND_HALF_MB = 5.0


def _ratio(rows: dict[str, dict], top: str, bottom: str, key: str = "calls_per_s") -> float | None:
    if top in rows and bottom in rows and rows[bottom][key]:
        return rows[top][key] / rows[bottom][key]
    return None


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _throughput_report(args: argparse.Namespace, all_rows: list[dict]) -> list[str]:
    """One line per target (its median round when there are several) and the goals' ratios.

    With rounds, each ratio is taken within a round (targets measured minutes apart, not hours) and
    the report gives the median and the range over the rounds.
    """
    rounds = sorted({row["round"] for row in all_rows})
    by_target: dict[str, list[dict]] = {}
    for row in all_rows:
        by_target.setdefault(row["target"], []).append(row)
    lines = []
    if len(rounds) > 1:
        lines += [f"{len(rounds)} rounds, every target once per round; each row is the target's median round "
                  "(by calls/s), with the range over the rounds.", ""]  # fmt: skip
    lines += ["| target | calls/s | range | p50 ms | p95 ms | p99 ms | worker CPU ms/call | errors "
              "| RSS MB (per process) |", "|---|---:|---|---:|---:|---:|---:|---:|---|"]  # fmt: skip
    for target, rows in by_target.items():
        ordered = sorted(rows, key=lambda row: row["calls_per_s"])
        row = ordered[(len(ordered) - 1) // 2]
        spread = f"{ordered[0]['calls_per_s']:.0f}-{ordered[-1]['calls_per_s']:.0f}" if len(rows) > 1 else ""
        errors = sum(item["errors"] for item in rows)
        cpu = _median_cpu(rows)
        lines.append(f"| {target} | {row['calls_per_s']:.1f} | {spread} | {row['p50_ms']:.1f} | {row['p95_ms']:.1f} "
                     f"| {row['p99_ms']:.1f} | {_ms(cpu)} | {errors} | {row['rss_mb']} |")  # fmt: skip
    many = f"mcp-{args.many_workers}w"
    goals = [
        ("MCP / bare-tool throughput (goal >= 0.75)", "mcp", "bare-tool", "calls_per_s"),
        ("REST / bare-tool throughput (goal >= 0.75)", "rest", "bare-tool", "calls_per_s"),
        ("MCP p99 / bare-tool p99 (goal <= 2)", "mcp", "bare-tool", "p99_ms"),
        ("REST p99 / bare-tool p99 (goal <= 2)", "rest", "bare-tool", "p99_ms"),
        (f"{many} / mcp throughput (no goal: two workers share the machine's cores)", many, "mcp", "calls_per_s"),
        ("mcp-cached / bare-constant throughput (goal >= 0.45)", "mcp-cached", "bare-constant", "calls_per_s"),
    ]
    lines.append("")
    for label, top, bottom, key in goals:
        ratios = _per_round(all_rows, rounds, lambda rows: _ratio(rows, top, bottom, key))  # noqa: B023
        if ratios:
            spread = f" (rounds: {', '.join(f'{ratio:.2f}' for ratio in ratios)})" if len(ratios) > 1 else ""
            lines.append(f"- {label}: {_median(ratios):.2f}{spread}")
    lines += _added_cpu_lines(all_rows, rounds)
    failures = [row for row in all_rows if row["errors"]]
    lines += [f"- {row['target']} first failure: `{row['first_failure']}`" for row in failures]
    lines.append("")
    lines += _stages_report(all_rows, rounds)
    return lines


def _per_round(all_rows: list[dict], rounds: list[int], measure) -> list[float]:
    """`measure` of each round's rows by target, for the rounds where it has a value."""
    values = []
    for number in rounds:
        value = measure({row["target"]: row for row in all_rows if row["round"] == number})
        if value is not None:
            values.append(value)
    return values


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _median_cpu(rows: list[dict]) -> float | None:
    values = [row["cpu_ms_per_call"] for row in rows if row.get("cpu_ms_per_call") is not None]
    return _median(values) if values else None


def _added_cpu(rows: dict[str, dict], top: str, bottom: str) -> float | None:
    if top in rows and bottom in rows:
        mine, reference = rows[top].get("cpu_ms_per_call"), rows[bottom].get("cpu_ms_per_call")
        if mine is not None and reference is not None:
            return mine - reference
    return None


# Issue 24: the gateway's own worker CPU per uncached call, over the bare server running the same tool.
ADDED_CPU_GOAL_MS = 1.0
ADDED_CPU = [
    ("MCP tools/call", "mcp", "bare-tool"),
    ("REST invoke", "rest", "bare-tool"),
]


def _added_cpu_lines(all_rows: list[dict], rounds: list[int]) -> list[str]:
    """What the gateway adds to a call's worker CPU over the bare reference, taken within each round."""
    lines = []
    for label, top, bottom in ADDED_CPU:
        added = _per_round(all_rows, rounds, lambda rows: _added_cpu(rows, top, bottom))  # noqa: B023
        if added:
            spread = f" (rounds: {', '.join(f'{value:+.2f}' for value in added)})" if len(added) > 1 else ""
            lines.append(f"- worker CPU the gateway adds per uncached {label}, {top} - {bottom} "
                         f"(goal <= {ADDED_CPU_GOAL_MS:.1f} ms): {_median(added):+.2f} ms{spread}")  # fmt: skip
    return lines


# What each --stages target adds to the one before it (bench/stages_asgi.py), then the real cached call.
STEPS = [
    ("bare-constant", "the SDK alone (bare MCPServer, constant tool)"),
    ("stage-stack", "+ our event-loop layers: Host/Origin guard, bearer auth (principal cache), low-level server"),
    ("stage-hop", "+ the hop to the request's thread"),
    ("stage-limits", "+ the rate limits' Redis round trip"),
    ("stage-record", "+ the usage row and audit event (one INSERT)"),
    ("mcp-cached", "+ policy and argument checks, request context, result cache (the real cached call)"),
]


def _stages_report(all_rows: list[dict], rounds: list[int]) -> list[str]:
    """Milliseconds of the worker per call at each stage, and what each step adds (medians over rounds)."""
    if not any(row["target"].startswith("stage-") for row in all_rows):
        return []
    per_round = [{row["target"]: 1000 / row["calls_per_s"] for row in all_rows if row["round"] == n} for n in rounds]
    lines = ["Where a cached call's time goes (`--stages`): each stage answers tools/call after one more step; "
             "ms per call is 1000 / (calls/s) at full load, the median over the rounds.", "",
             "| target | step | ms per call | added |", "|---|---|---:|---:|"]  # fmt: skip
    previous = None
    for target, label in STEPS:
        own = [costs[target] for costs in per_round if target in costs]
        if not own:
            continue
        added = [costs[target] - costs[previous] for costs in per_round if target in costs and previous in costs]
        added_text = f"{_median(added):+.2f}" if added else ""
        lines.append(f"| {target} | {label} | {_median(own):.2f} | {added_text} |")
        previous = target
    # Not a step of the chain: stage-record's limits and record awaited on the event loop instead of
    # made from the request's thread (what moving the hot path to asyncio could reach), over stage-stack.
    own = [costs["stage-async"] for costs in per_round if "stage-async" in costs]
    if own:
        added = [
            costs["stage-async"] - costs["stage-stack"]
            for costs in per_round
            if {"stage-async", "stage-stack"} <= costs.keys()
        ]
        added_text = f"{_median(added):+.2f} over stage-stack" if added else ""
        lines.append(f"| stage-async | stage-stack + the limits and the record awaited on the event loop (no hop) "
                     f"| {_median(own):.2f} | {added_text} |")  # fmt: skip
    lines.append("")
    return lines


def run_lines(run: dict) -> list[str]:
    """The state the run started from (bench/run_state.py) and what it left in its database."""
    end = f"kept for inspection as `{run['database']}`" if run["kept"] else "dropped at the end"
    return [
        f"- database: a fresh one for this run, `{run['database']}` (created empty and migrated at the start, "
        f"{end}); at the end it held {run['tool_calls']} tool-call rows and {run['audit_events']} audit events",
        f"- Redis: the run's cache keys under a prefix of their own, `{run['cache_key_prefix']}`, deleted at the end",
    ]


def memory_growth(samples: list[dict]) -> tuple[dict, list[dict]]:
    """The sample that starts the second half (the first at or past half the run), and per process
    (server and pid) its RSS at the first, that and the last sample, with the growth first -> last and
    over the second half (None where the process was not running at both ends)."""
    middle = next(sample for sample in samples if sample["minute"] >= samples[-1]["minute"] / 2)
    first, last = samples[0], samples[-1]
    rows = []
    for name in (key for key in first if key != "minute"):
        pids = list(dict.fromkeys(pid for sample in samples for pid in sample.get(name, {})))
        for pid in pids:
            at = [sample.get(name, {}).get(pid) for sample in (first, middle, last)]
            rows.append(
                {
                    "process": f"{name} {pid}",
                    "first_mb": at[0],
                    "middle_mb": at[1],
                    "last_mb": at[2],
                    "growth_mb": None if None in (at[0], at[2]) else at[2] - at[0],
                    "second_half_mb": None if None in (at[1], at[2]) else at[2] - at[1],
                }
            )
    return middle, rows


def _mb(value: float | None, sign: str = "") -> str:
    return "-" if value is None else f"{value:{sign}.1f}"


def memory_verdict(samples: list[dict], flat_mb: float = FLAT_SECOND_HALF_MB) -> list[str]:
    """Per process growth, and one verdict line: flat when no process grew by `flat_mb` or more over
    the second half (the first half holds the warm-up: caches filling, pools opening)."""
    middle, rows = memory_growth(samples)
    judged = [row for row in rows if row["second_half_mb"] is not None]
    if len(samples) < 3 or middle is samples[-1] or not judged:
        return [f"- Verdict: none: {len(samples)} RSS samples; it takes one at the start, one at half the run "
                "and one at the end (--memory-minutes at least twice --sample-seconds)"]  # fmt: skip
    half = f"minute {middle['minute']:.1f} to {samples[-1]['minute']:.1f}"
    lines = [f"| process | first MB | minute {middle['minute']:.1f} MB | last MB | first -> last MB | second half MB |",
             "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for row in rows:
        lines.append(f"| {row['process']} | {_mb(row['first_mb'])} | {_mb(row['middle_mb'])} | {_mb(row['last_mb'])} "
                     f"| {_mb(row['growth_mb'], '+')} | {_mb(row['second_half_mb'], '+')} |")  # fmt: skip
    growing = [row for row in judged if row["second_half_mb"] >= flat_mb]
    criterion = f"flat = every process grew less than {flat_mb:g} MB over the second half, {half}"
    if growing:
        named = ", ".join(f"{row['process']} {row['second_half_mb']:+.1f} MB" for row in growing)
        verdict = f"- Verdict: NOT flat: {named} ({criterion})"
    else:
        top = max(judged, key=lambda row: row["second_half_mb"])
        verdict = (f"- Verdict: flat: the most any process grew over the second half was "
                   f"{top['second_half_mb']:+.1f} MB ({top['process']}) ({criterion})")  # fmt: skip
    unjudged = [row["process"] for row in rows if row["second_half_mb"] is None]
    if unjudged:
        verdict += f"; not judged, not running at both ends of the second half: {', '.join(unjudged)}"
    return [*lines, "", verdict]


def report(args: argparse.Namespace, machine: dict[str, str], results: dict) -> str:
    lines = [f"# Gateway bench, {results['started']}", ""]
    lines += [f"- {name}: {value}" for name, value in machine.items()]
    lines += [f"- load average before / after: {results['load_before']} / {results['load_after']}"]
    lines += run_lines(results["run"]) if results.get("run") else []
    lines += [f"- tool `{args.tool}` ({args.todos} todos), wrk -t{args.threads} -c{args.connections}, "
              f"{args.duration:g} s per target after {args.warmup:g} s warm-up", ""]  # fmt: skip
    if results.get("throughput"):
        lines += _throughput_report(args, results["throughput"])
    if results.get("fixed"):
        title = f"Fixed rate, {args.rate:g} calls/s for {args.fixed_seconds:g} s (bench/fixed_rate.py, open loop):"
        lines += [title, "",
                  "| target | workers | calls | p50 ms | p95 ms | p99 ms | max ms | worker CPU ms/call | errors "
                  "| RSS MB |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]  # fmt: skip
        for row in results["fixed"]:
            lines.append(f"| {row['target']} | {row['workers']} | {row['calls']} | {row['p50_ms']:.1f} | "
                         f"{row['p95_ms']:.1f} | {row['p99_ms']:.1f} | {row['max_ms']:.1f} | "
                         f"{_ms(row.get('cpu_ms_per_call'))} | {row['failed']} | {row['rss_mb']} |")  # fmt: skip
        by_target = {row["target"]: row for row in results["fixed"]}
        lines += ["", "Goal at 100 calls/s (issue 24): p50 <= bare-tool's p50 + 1 ms, p95 <= 15 ms, p99 <= 40 ms "
                  "for both doors."]  # fmt: skip
        for kind in ("mcp", "rest"):
            added = _added_cpu(by_target, kind, "bare-tool")
            if added is not None:
                lines.append(f"- worker CPU the gateway adds per {kind} call at this rate: {added:+.2f} ms")
        failures = [row for row in results["fixed"] if row["failed"]]
        lines += [f"- {row['target']} first failure: `{row['first_failure']}`" for row in failures] + [""]
    if results.get("memory"):
        mem = results["memory"]
        names = [name for name in mem["samples"][0] if name != "minute"]
        lines += [f"Memory at {args.rate:g} calls/s (MCP and REST in turn), RSS MB per process:", "",
                  "| minute | " + " | ".join(names) + " |", "|---:|" + "---|" * len(names)]  # fmt: skip
        for sample in mem["samples"]:
            cells = [" + ".join(f"{rss:.0f}" for rss in sample[name].values()) for name in names]
            lines.append(f"| {sample['minute']:.1f} | " + " | ".join(cells) + " |")
        lines += ["", *memory_verdict(mem["samples"])]
        for row in mem["calls"]:
            lines.append(f"- {row['target']}: {row['calls']} calls, {row['failed']} errors, "
                         f"p50 {row['p50_ms']:.1f} ms, p99 {row['p99_ms']:.1f} ms")  # fmt: skip
        lines.append("")
    return "\n".join(lines)
