"""Each gateway module declares its public names, and they all exist."""

from __future__ import annotations

import importlib
import pkgutil

import gateway


def test_every_module_has_a_complete_all() -> None:
    for info in pkgutil.iter_modules(gateway.__path__):
        module = importlib.import_module(f"gateway.{info.name}")
        assert hasattr(module, "__all__"), f"gateway.{info.name} has no __all__"
        for name in module.__all__:
            assert hasattr(module, name), f"gateway.{info.name}.{name} is missing"
    for name in gateway.__all__:
        assert hasattr(gateway, name)
