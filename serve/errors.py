"""The errors the engine side raises, one tree so the CLI can turn each into one line.

```
ServeError                 anything `python -m serve` reports as "error: …" and exit 1
├── ProfileError           a profile that cannot work: bad field mix, or a full request
│                          that cannot fit (the message names the numbers)
│   └── UnknownProfileError  no profile of that name (the message lists the known ones)
├── ModelNotFoundError     the model folder a profile points at does not exist
└── EngineStartError       vLLM exited, or never answered /health, during start-up
```

Every message is complete on its own: it names the value, the limit and where each came
from, so the one line the CLI prints is enough to fix the problem.
"""

from __future__ import annotations

__all__ = [
    "EngineStartError",
    "ModelNotFoundError",
    "ProfileError",
    "ServeError",
    "UnknownProfileError",
]


class ServeError(Exception):
    """Base class: an expected failure with a message meant for the person at the terminal."""


class ProfileError(ServeError, ValueError):
    """A profile that vLLM would refuse, or that cannot hold one full request."""


class UnknownProfileError(ProfileError, KeyError):
    """No named profile matches. ``str()`` is the plain message, not KeyError's repr."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ModelNotFoundError(ServeError, FileNotFoundError):
    """The model folder does not exist (and is not something we know how to build)."""


class EngineStartError(ServeError, RuntimeError):
    """vLLM died or stayed unhealthy while starting; the message quotes its last output."""
