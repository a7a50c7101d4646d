"""A process and everything it started, read from ``/proc``, and the wait for all of it to go.

Descendants are found through ``/proc/PID/task/TID/children``, so children in other process
groups or sessions (vLLM, the gateway under ``make dev``) are found too.

    tree = descendants(proc.pid) | {proc.pid}
    os.killpg(proc.pid, signal.SIGTERM)
    assert wait_gone(tree) == []
"""

from __future__ import annotations

import time
from pathlib import Path

__all__ = ["alive", "descendants", "describe", "wait_gone"]


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                found.update(int(c) for c in (task / "children").read_text().split())
            except FileNotFoundError:  # the thread ended meanwhile
                pass
    except FileNotFoundError:
        pass
    return found


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid``: children, their children, and so on."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in _children(todo.pop()) - found:
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Running or sleeping, not a zombie (a zombie holds no port and no memory)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


def describe(pids: set[int] | list[int]) -> str:
    """``pid: command line`` for each, to say which process was left."""
    lines = []
    for pid in sorted(pids):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except FileNotFoundError:
            cmd = "(gone)"
        lines.append(f"{pid}: {cmd[:200]}")
    return "\n".join(lines)


def wait_gone(pids: set[int] | list[int], within: float = 30.0) -> list[int]:
    """The processes of ``pids`` still alive after up to ``within`` seconds."""
    deadline = time.monotonic() + within
    while (left := sorted(p for p in pids if alive(p))) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left
