"""``python -m serve``: see ``serve.cli``."""

from serve.cli import main

__all__: list[str] = []

if __name__ == "__main__":
    raise SystemExit(main())
