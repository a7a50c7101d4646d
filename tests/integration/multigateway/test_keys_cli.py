"""``python -m gateway keys …`` against both stores: create, list, revoke, migrate."""

from __future__ import annotations

import json

from gateway.auth.migrations import POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS
from tests.support.gateway_server import gateway_env, run_gateway

from .conftest import BOTH_STORES


@BOTH_STORES
def test_the_cli_manages_keys_in_either_store(keys_target: str) -> None:
    env = gateway_env(keys_target)
    migrated = run_gateway(env, "keys", "migrate")
    assert migrated.returncode == 0, migrated.stderr
    migrations = POSTGRES_MIGRATIONS if keys_target.startswith("postgresql") else SQLITE_MIGRATIONS
    newest = migrations[-1].version
    assert f"key store at schema version {newest} of {newest}" in migrated.stdout
    again = run_gateway(env, "keys", "migrate")
    assert "nothing to apply" in again.stdout
    made = run_gateway(
        env, "keys", "create", "--name", "cli", "--rpm", "5", "--scopes", "chat,schemas"
    )
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    listed = run_gateway(env, "keys", "list", "--json")
    (row,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (row["name"], row["prefix"], row["rpm"], row["active"]) == ("cli", key[:12], 5, True)
    assert row["scopes"] == ["chat", "schemas"]
    assert key not in listed.stdout
    revoked = run_gateway(env, "keys", "revoke", "cli")
    assert revoked.returncode == 0 and "revoked cli" in revoked.stdout
    assert "told through Redis" not in revoked.stderr  # no GATEWAY_REDIS_URL: nothing to tell
    missing = run_gateway(env, "keys", "revoke", "cli")
    assert missing.returncode == 1 and "no active key" in missing.stderr


def test_an_unreachable_database_is_a_clear_error() -> None:
    result = run_gateway(gateway_env("postgresql://gateway@127.0.0.1:9/none"), "keys", "list")
    assert result.returncode == 1
    assert "key database cannot be reached" in result.stderr and "Traceback" not in result.stderr
