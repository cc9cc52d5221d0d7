"""Process plumbing for bench_http.py: start and stop servers in their own process groups, wait for
them, read their resident memory from /proc, and describe the machine."""

from __future__ import annotations

import os
import platform
import signal
import socket
import subprocess
import time
from pathlib import Path

READY_DEADLINE_SECONDS = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(command: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen:
    """A server in a session of its own, so stopping it stops its workers and pool children too."""
    return subprocess.Popen(
        command, cwd=cwd, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True
    )


def stop(process: subprocess.Popen, timeout: float = 30) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_port(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + READY_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {process.returncode}; see {log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not start; see {log}")


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces; the parent id is 2 fields after it.
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(parent, []).append(int(entry))
    return tree


def process_tree(pid: int) -> list[int]:
    tree = _children()
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(tree.get(current, []))
    return sorted(found)


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def tree_rss(pid: int) -> list[tuple[int, float]]:
    """(pid, RSS MB) for a server and every process under it (uvicorn workers, Celery pool children)."""
    rows = []
    for member in process_tree(pid):
        rss = rss_mb(member)
        if rss is not None:
            rows.append((member, rss))
    return rows


# /proc/<pid>/stat counts CPU time in clock ticks (usually 100 per second).
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds the process has used so far (its own threads, not its children)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # After the parenthesised command name: state is field 3, utime field 14, stime field 15.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def tree_cpu(pid: int) -> dict[int, float]:
    """CPU seconds of a server and every process under it, per pid (uvicorn's supervisor and workers)."""
    found = {}
    for member in process_tree(pid):
        seconds = cpu_seconds(member)
        if seconds is not None:
            found[member] = seconds
    return found


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds a process tree used between two `tree_cpu` readings. A process only in `after`
    started in between and counts from zero; one only in `before` ended and its last part is lost
    (a replaced worker), which the bench's short phases make rare."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def rss_text(pid: int) -> str:
    rows = tree_rss(pid)
    if len(rows) == 1:
        return f"{rows[0][1]:.0f}"
    return " + ".join(f"{rss:.0f}" for _pid, rss in rows) + f" = {sum(rss for _pid, rss in rows):.0f}"


def machine() -> dict[str, str]:
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory_kb = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal:")
    )
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    return {
        "cores (nproc)": str(os.cpu_count() and len(os.sched_getaffinity(0))),
        "CPU": model,
        "memory": f"{memory_kb / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "wrk": " ".join(wrk.split()[:2]),
    }


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])
