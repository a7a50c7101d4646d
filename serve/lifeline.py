"""A child that must not outlive its parent: Linux's parent-death signal (``PR_SET_PDEATHSIG``).

A parent killed outright (SIGKILL, the OOM killer) runs no handler, so it cannot stop its
children; they would be re-parented and keep their ports and memory (4 GB for vLLM). Linux can
instead send the child a signal the moment its parent dies. The request is per process and
survives ``exec``, so ``ServerProcess`` starts every server through this module:

    python -m serve.lifeline PARENT_PID PROGRAM [ARGS...]

asks for SIGTERM on the parent's death, checks that ``PARENT_PID`` is still its parent (the
parent may have died before the request took effect), then ``exec``s ``PROGRAM`` in its
place: same pid, and the program stops as it does on any SIGTERM (vLLM stops its engine core).

``make dev`` calls ``die_with_parent`` on itself too: make passes SIGTERM on to its child but
not SIGINT or SIGHUP, so a ``make`` stopped on its own would otherwise leave the stack behind.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

__all__ = ["die_with_parent", "lifeline_argv"]

PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int, sig: signal.Signals = signal.SIGTERM) -> bool:
    """Have Linux send ``sig`` to this process when ``parent`` dies; send it now if it
    already has. False where there is no such call (not Linux)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(sig)) != 0:
            return False
    except (OSError, AttributeError):
        return False
    if os.getppid() != parent:  # it died before the request took effect
        os.kill(os.getpid(), sig)
    return True


def lifeline_argv(argv: list[str]) -> list[str]:
    """``argv`` run so that it gets SIGTERM when the calling process dies."""
    return [sys.executable, "-m", "serve.lifeline", str(os.getpid()), *argv]


def main(args: list[str]) -> int:
    if len(args) < 2 or not args[0].isdigit():
        print("usage: python -m serve.lifeline PARENT_PID PROGRAM [ARGS...]", file=sys.stderr)
        return 2
    die_with_parent(int(args[0]))
    try:
        os.execvp(args[1], args[1:])
    except OSError as exc:
        print(f"error: cannot start {args[1]}: {exc.strerror or exc}", file=sys.stderr)
    return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
