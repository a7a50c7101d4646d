"""Authentication decisions, the lookup cache's TTL, and the per-key limits."""

from __future__ import annotations

import ast
import time
from pathlib import Path

import pytest

import gateway.auth as gateway_auth
from gateway.auth import Authenticator, KeyCache
from gateway.auth.keys import KeyStore
from gateway.auth.limits import KeyLimiter
from gateway.auth.store import SqliteKeys
from gateway.errors import GatewayError


@pytest.fixture
def store(tmp_path: Path) -> KeyStore:
    s = KeyStore(tmp_path / "keys.db")
    yield s
    s.close()


async def _status(auth: Authenticator, header: str | None) -> tuple[int, str | None]:
    with pytest.raises(GatewayError) as info:
        await auth.authenticate(header)
    return info.value.status, info.value.code


def _cached(store: KeyStore, ttl: float) -> KeyCache:
    return KeyCache(SqliteKeys(store), ttl=ttl)


@pytest.mark.anyio
async def test_authentication_outcomes(store: KeyStore) -> None:
    auth = Authenticator(_cached(store, ttl=0), KeyLimiter())
    good = store.create("good", scopes=["chat"])
    revoked = store.create("revoked")
    store.revoke("revoked")
    expired = store.create("expired", expires_at=time.time() - 5)
    assert (await auth.authenticate(f"Bearer {good}")).name == "good"
    assert await _status(auth, None) == (401, "missing_api_key")
    assert await _status(auth, f"Basic {good}") == (401, "invalid_api_key")
    assert await _status(auth, "Bearer nope") == (401, "invalid_api_key")
    assert await _status(auth, "Bearer sk-" + "a" * 43) == (401, "invalid_api_key")
    assert await _status(auth, f"Bearer {revoked}") == (401, "revoked_api_key")
    assert await _status(auth, f"Bearer {expired}") == (401, "expired_api_key")
    record = await auth.authenticate(f"Bearer {good}")
    with pytest.raises(GatewayError) as info:
        auth.authorize(record, "extract")
    assert info.value.status == 403


@pytest.mark.anyio
async def test_cache_sees_revocation_after_its_ttl(store: KeyStore) -> None:
    key = store.create("alice")
    other = KeyStore(store.path)  # another worker's connection
    cache = _cached(store, ttl=0.2)
    first = await cache.lookup(key)
    assert first is not None and first.is_active()
    other.revoke("alice")
    other.close()
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        record = await cache.lookup(key)
        if record is not None and not record.is_active():
            break
        time.sleep(0.05)
    else:
        pytest.fail("revocation never became visible through the cache")


def test_rpm_limit_gives_429_with_retry_after() -> None:
    limiter = KeyLimiter()
    for i in range(3):
        limiter.check_rate("k", rpm=3, now=100.0 + i)
    with pytest.raises(GatewayError) as info:
        limiter.check_rate("k", rpm=3, now=110.0)
    assert info.value.status == 429
    assert info.value.headers is not None
    assert info.value.headers["Retry-After"] == "50"  # oldest hit (t=100) leaves at t=160
    limiter.check_rate("k", rpm=3, now=160.5)  # window moved on


def test_concurrency_limit_and_release() -> None:
    limiter = KeyLimiter()
    a = limiter.acquire("k", limit=2)
    limiter.acquire("k", limit=2)
    with pytest.raises(GatewayError) as info:
        limiter.acquire("k", limit=2)
    assert info.value.status == 429 and info.value.headers == {"Retry-After": "1"}
    a.release()
    a.release()  # idempotent: the second release must not free a second slot
    limiter.acquire("k", limit=2)
    with pytest.raises(GatewayError):
        limiter.acquire("k", limit=2)
    assert limiter.acquire("free", limit=None) is not None


def test_a_limit_of_zero_is_an_error_not_a_refusal() -> None:
    limiter = KeyLimiter()
    with pytest.raises(ValueError, match="rpm must be None"):
        limiter.check_rate("k", rpm=0)
    with pytest.raises(ValueError, match="max_concurrent must be None"):
        limiter.acquire("k", limit=0)
    with pytest.raises(ValueError):
        limiter.acquire("k", limit=-1)
    limiter.check_rate("k", rpm=None)
    assert not limiter.acquire("k", limit=None).held


def test_rpm_window_is_a_parameter() -> None:
    limiter = KeyLimiter(window_s=2.0)
    limiter.check_rate("k", rpm=1, now=10.0)
    with pytest.raises(GatewayError) as info:
        limiter.check_rate("k", rpm=1, now=11.0)
    assert info.value.headers == {"Retry-After": "1"}
    limiter.check_rate("k", rpm=1, now=12.5)


def _auth_imports() -> dict[str, set[str]]:
    """Module → the ``gateway.auth`` modules it imports, at run time (anywhere in the file,
    functions included; ``if TYPE_CHECKING:`` blocks left out)."""
    package = Path(gateway_auth.__file__).parent
    names = {p.stem for p in package.glob("*.py")} - {"__init__"}
    graph: dict[str, set[str]] = {}
    for name in names:
        tree = ast.parse((package / f"{name}.py").read_text())
        typing_only = {
            id(node)
            for branch in ast.walk(tree)
            if isinstance(branch, ast.If) and "TYPE_CHECKING" in ast.unparse(branch.test)
            for node in ast.walk(branch)
        }
        found: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in typing_only or not isinstance(node, ast.ImportFrom):
                continue
            if node.level == 1 and node.module in names:
                found.add(node.module)
            elif node.module == "gateway.auth" or node.level == 1 and node.module is None:
                found.update(a.name for a in node.names if a.name in names)
            elif node.module and node.module.startswith("gateway.auth."):
                found.add(node.module.rsplit(".", 1)[1])
        graph[name] = found
    return graph


def test_auth_modules_import_each_other_without_cycles() -> None:
    graph = _auth_imports()
    assert graph["store"] and graph["postgres"]  # the parse found their imports
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"import cycle: {' -> '.join((*path, name))}"
        if name in done:
            return
        for imported in sorted(graph[name]):
            visit(imported, (*path, name))
        done.add(name)

    for name in sorted(graph):
        visit(name, ())
