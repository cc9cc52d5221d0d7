"""Summarise a py-spy profile (`--format raw`, collapsed stacks) of a loaded gateway worker.

    python bench/profile_summary.py bench/results/http-...-profile-mcp.txt [--top 25]

Prints the share of samples under each step of a call (inclusive: a sample counts for every step
on its stack) and the functions of our own code with the most inclusive samples. Waiting threads
are not sampled (py-spy leaves idle threads out), so the shares are of busy time.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

# (label, substring of a frame "function (file:line)"); the first match on a stack counts once.
STEPS = [
    ("authenticate (bearer: PAT / JWT lookup)", "bearer_authenticate ("),
    ("principal cache", "principal_cache_get ("),
    ("pipeline: tool_invoke (all of it)", "tool_invoke ("),
    ("  policy read", "policy_for ("),
    ("  argument check", "arguments_checked ("),
    ("  rate limits (apps.quotas, one round trip)", "quota_tool_call_check ("),
    ("  result cache", "result_get ("),
    ("  the tool", "_execute (apps/mcp_tools"),
    ("  usage + audit record", "_record ("),
    ("    audit event", "audit_event_record ("),
    ("database: execute (waiting on PostgreSQL)", "CursorWrapper._execute ("),
    ("database: connect / pool", "getconn ("),
    ("database: commit", "commit ("),
    ("redis", "redis/connection.py"),
    ("DRF view (REST door)", "APIView.dispatch ("),
    ("MCP SDK server", "mcp/server/"),
    ("json", "json/"),
]


def stacks(path: Path) -> list[tuple[list[str], int]]:
    rows = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            rows.append((stack.split(";"), int(count)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    rows = stacks(args.profile)
    total = sum(count for _stack, count in rows) or 1
    print(f"{args.profile.name}: {total} samples")
    for label, needle in STEPS:
        share = sum(count for stack, count in rows if any(needle in frame for frame in stack))
        print(f"  {100 * share / total:5.1f} %  {label}")
    own: Counter[str] = Counter()
    for stack, count in rows:
        for frame in {frame.split(" (")[0] + " (" + frame.split("(")[-1].split(":")[0] + ")" for frame in stack}:
            if "apps/" in frame or "config/" in frame:
                own[frame] += count
    print("our functions by inclusive share:")
    for frame, count in own.most_common(args.top):
        print(f"  {100 * count / total:5.1f} %  {frame}")


if __name__ == "__main__":
    main()
