"""Each gateway module declares its public names, and they all exist."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import gateway


def test_every_module_has_a_complete_all() -> None:
    for info in pkgutil.iter_modules(gateway.__path__):
        module = importlib.import_module(f"gateway.{info.name}")
        assert hasattr(module, "__all__"), f"gateway.{info.name} has no __all__"
        for name in module.__all__:
            assert hasattr(module, name), f"gateway.{info.name}.{name} is missing"
    for name in gateway.__all__:
        assert hasattr(gateway, name)


def test_a_render_worker_imports_no_web_app() -> None:
    """The render worker process imports ``gateway.documents``; the package's own names load
    on first use, and its errors are ``gateway.errors``' (which imports no web framework), so
    the worker does not pay for FastAPI, Starlette, aiohttp and the key stores."""
    probe = (
        "import sys, gateway.documents.pool; "
        "heavy = ('gateway.app', 'gateway.error_handlers', 'gateway.record', 'fastapi', "
        "'starlette', 'aiohttp', 'psycopg', 'redis'); "
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
