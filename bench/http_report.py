"""The report of bench_http.py: its tables in Markdown, with the ratios issue 13 sets as goals."""

from __future__ import annotations

import argparse
import statistics


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
    lines += ["| target | calls/s | range | p50 ms | p95 ms | p99 ms | errors | RSS MB (per process) |",
              "|---|---:|---|---:|---:|---:|---:|---|"]  # fmt: skip
    for target, rows in by_target.items():
        ordered = sorted(rows, key=lambda row: row["calls_per_s"])
        row = ordered[(len(ordered) - 1) // 2]
        spread = f"{ordered[0]['calls_per_s']:.0f}-{ordered[-1]['calls_per_s']:.0f}" if len(rows) > 1 else ""
        errors = sum(item["errors"] for item in rows)
        lines.append(f"| {target} | {row['calls_per_s']:.1f} | {spread} | {row['p50_ms']:.1f} | {row['p95_ms']:.1f} "
                     f"| {row['p99_ms']:.1f} | {errors} | {row['rss_mb']} |")  # fmt: skip
    many = f"mcp-{args.many_workers}w"
    goals = [
        ("MCP / bare-tool throughput (goal >= 0.60)", "mcp", "bare-tool", "calls_per_s"),
        ("REST / bare-tool throughput (goal >= 0.60)", "rest", "bare-tool", "calls_per_s"),
        ("MCP p99 / bare-tool p99 (goal <= 2)", "mcp", "bare-tool", "p99_ms"),
        ("REST p99 / bare-tool p99 (goal <= 2)", "rest", "bare-tool", "p99_ms"),
        (f"{many} / mcp throughput (goal >= 1.6)", many, "mcp", "calls_per_s"),
        ("mcp-cached / bare-constant throughput (goal >= 0.70)", "mcp-cached", "bare-constant", "calls_per_s"),
    ]
    lines.append("")
    for label, top, bottom, key in goals:
        ratios = []
        for number in rounds:
            rows = {row["target"]: row for row in all_rows if row["round"] == number}
            ratio = _ratio(rows, top, bottom, key)
            if ratio is not None:
                ratios.append(ratio)
        if ratios:
            spread = f" (rounds: {', '.join(f'{ratio:.2f}' for ratio in ratios)})" if len(ratios) > 1 else ""
            lines.append(f"- {label}: {_median(ratios):.2f}{spread}")
    failures = [row for row in all_rows if row["errors"]]
    lines += [f"- {row['target']} first failure: `{row['first_failure']}`" for row in failures]
    lines.append("")
    lines += _stages_report(all_rows, rounds)
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
    lines.append("")
    return lines


def report(args: argparse.Namespace, machine: dict[str, str], results: dict) -> str:
    lines = [f"# Gateway bench, {results['started']}", ""]
    lines += [f"- {name}: {value}" for name, value in machine.items()]
    lines += [f"- load average before / after: {results['load_before']} / {results['load_after']}"]
    lines += [f"- tool `{args.tool}` ({args.todos} todos), wrk -t{args.threads} -c{args.connections}, "
              f"{args.duration:g} s per target after {args.warmup:g} s warm-up", ""]  # fmt: skip
    if results.get("throughput"):
        lines += _throughput_report(args, results["throughput"])
    if results.get("fixed"):
        title = f"Fixed rate, {args.rate:g} calls/s for {args.fixed_seconds:g} s (bench/fixed_rate.py, open loop):"
        lines += [title, "",
                  "| target | workers | calls | p50 ms | p95 ms | p99 ms | max ms | errors | RSS MB |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---|"]  # fmt: skip
        for row in results["fixed"]:
            lines.append(f"| {row['target']} | {row['workers']} | {row['calls']} | {row['p50_ms']:.1f} | "
                         f"{row['p95_ms']:.1f} | {row['p99_ms']:.1f} | {row['max_ms']:.1f} | {row['failed']} | "
                         f"{row['rss_mb']} |")  # fmt: skip
        lines += ["", "Goal at 100 calls/s: p50 <= 5 ms, p95 <= 15 ms, p99 <= 40 ms for both doors."]
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
        first, last = mem["samples"][0], mem["samples"][-1]
        growth = sum(last["gateway"].values()) - sum(first["gateway"].values())
        lines += ["", f"- gateway RSS change over the run: {growth:+.1f} MB"]
        for row in mem["calls"]:
            lines.append(f"- {row['target']}: {row['calls']} calls, {row['failed']} errors, "
                         f"p50 {row['p50_ms']:.1f} ms, p99 {row['p99_ms']:.1f} ms")  # fmt: skip
        lines.append("")
    return "\n".join(lines)
