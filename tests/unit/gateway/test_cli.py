"""``python -m gateway keys …``: the key is printed once, list hides secrets, revoke works."""

from __future__ import annotations

import subprocess
from pathlib import Path

from gateway.auth.keys import KeyStore
from tests.support.gateway_server import gateway_env, run_gateway


def _cli(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_gateway(gateway_env(db), "keys", *args)


def test_create_prints_the_key_once_and_list_never(tmp_path: Path) -> None:
    db = tmp_path / "keys.db"
    made = _cli(
        db,
        "create",
        "--name",
        "alice",
        "--rpm",
        "30",
        "--max-concurrent",
        "2",
        "--scopes",
        "chat",
        "--expires",
        "2999-01-01",
    )
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("sk-") and made.stdout.count(key) == 1 and key not in made.stderr
    record = KeyStore(db).lookup(key)
    assert record is not None
    assert (record.rpm, record.max_concurrent, record.scopes) == (30, 2, frozenset({"chat"}))
    assert record.expires_at is not None and record.expires_at > 3.2e10
    for args in (("list",), ("list", "--json")):
        listed = _cli(db, *args)
        assert listed.returncode == 0
        assert "alice" in listed.stdout and key[:12] in listed.stdout
        assert key not in listed.stdout and key[12:20] not in listed.stdout


def test_revoke_by_name_and_by_prefix(tmp_path: Path) -> None:
    db = tmp_path / "keys.db"
    a = _cli(db, "create", "--name", "a").stdout.strip()
    b = _cli(db, "create", "--name", "b").stdout.strip()
    assert _cli(db, "revoke", "a").returncode == 0
    assert _cli(db, "revoke", b[:12]).returncode == 0
    store = KeyStore(db)
    ra, rb = store.lookup(a), store.lookup(b)
    assert ra is not None and ra.revoked_at is not None
    assert rb is not None and rb.revoked_at is not None
    assert "revoked" in _cli(db, "list").stdout
    missing = _cli(db, "revoke", "nobody")
    assert missing.returncode == 1 and "no active key" in missing.stderr


def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "keys.db"
    assert _cli(db, "create", "--name", "x", "--scopes", "root").returncode == 1
    bad_date = _cli(db, "create", "--name", "x", "--expires", "tomorrow")
    assert bad_date.returncode == 2 and "ISO" in bad_date.stderr


def test_a_keys_webhook_secret_is_shown_once_and_stored_to_sign(tmp_path: Path) -> None:
    db = tmp_path / "keys.db"
    made = _cli(db, "create", "--name", "alice", "--webhook-secret")
    assert made.returncode == 0, made.stderr
    key, secret = made.stdout.split()
    assert key.startswith("sk-") and secret.startswith("whsec_") and secret not in made.stderr
    store = KeyStore(db)
    assert store.webhook_secret(key[:12]) == secret
    rotated = _cli(db, "webhook-secret", key[:12])
    assert rotated.returncode == 0, rotated.stderr
    fresh = rotated.stdout.strip()
    assert fresh.startswith("whsec_") and fresh != secret
    assert store.webhook_secret(key[:12]) == fresh
    assert secret not in _cli(db, "list").stdout and fresh not in _cli(db, "list", "--json").stdout
    removed = _cli(db, "webhook-secret", "alice", "--remove")
    assert removed.returncode == 0 and "whsec_" not in removed.stdout
    assert store.webhook_secret(key[:12]) is None
    assert _cli(db, "create", "--name", "bob").stdout.count("\n") == 1  # the key alone
    missing = _cli(db, "webhook-secret", "nobody")
    assert missing.returncode == 1 and "no active key" in missing.stderr
