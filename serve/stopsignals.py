"""SIGINT, SIGTERM and SIGHUP all mean "stop what you started, then exit".

A terminal's Ctrl-C sends SIGINT, a service manager or CI runner SIGTERM, a closed terminal
SIGHUP; each may reach one process or its whole process group, and ``make`` passes SIGTERM on
to its child, so the same stop can arrive twice. ``python -m serve run`` and ``make dev``
therefore handle all three alike: the first raises ``StopRequested`` in the main thread (which
interrupts a blocking wait), and every later one is ignored, so the stop it started (SIGTERM to
each child's process group, a grace period, SIGKILL) runs to its end. A second SIGTERM raised
in the middle of that stop is what once left vLLM running after ``make dev``.

    with StopSignals() as signals:
        try:
            serve_until_done()
        except StopRequested:
            ...
        finally:
            signals.hold()      # a stop after an error must not be cut short either
            stop_children()
"""

from __future__ import annotations

import signal
from types import FrameType, TracebackType
from typing import Any

__all__ = ["STOP_SIGNALS", "StopRequested", "StopSignals"]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StopRequested(Exception):
    """A stop signal arrived; ``signum`` says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class StopSignals:
    """Installs the handlers on enter and restores the previous ones on exit."""

    def __init__(self) -> None:
        self._armed = True
        self._previous: dict[signal.Signals, Any] = {}

    def __enter__(self) -> StopSignals:
        self._previous = {sig: signal.signal(sig, self._handle) for sig in STOP_SIGNALS}
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def hold(self) -> None:
        """From now on stop signals are ignored: we are already stopping."""
        self._armed = False

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self._armed:
            self._armed = False
            raise StopRequested(signum)
