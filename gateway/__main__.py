"""Command line: run the gateway, manage API keys.

    python -m gateway serve [--host H] [--port P] [--workers N]
    python -m gateway keys create --name NAME [--rpm N] [--max-concurrent N]
                                  [--scopes chat,extract] [--expires 2027-01-31]
                                  [--webhook-secret]
    python -m gateway keys webhook-secret NAME|PREFIX [--remove]
    python -m gateway keys list
    python -m gateway keys revoke NAME|PREFIX
    python -m gateway keys migrate    # apply pending key-store schema versions
    python -m gateway settings        # every GATEWAY_* variable, its default and meaning

``keys create`` prints the full key once, on stdout, and nothing else there (so
``KEY=$(python -m gateway keys create --name ci)`` works); it is not stored anywhere.
``--webhook-secret`` also gives the key its own webhook signing secret (``whsec_…``), printed
once on a second stdout line; ``keys webhook-secret`` gives (or replaces) one later and prints
it once. Events of that key are then signed with it instead of ``GATEWAY_WEBHOOK_SECRET``.
The key store is ``GATEWAY_KEYS_DB`` (or ``--db``): a SQLite file or a ``postgresql://`` URL.
With ``GATEWAY_REDIS_URL`` set, ``revoke`` also tells every running gateway at once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .auth import KeyBackend, KeyStoreError, KeyStoreUnavailable, open_key_store
from .auth.keys import new_webhook_secret
from .settings import Settings, settings_table

__all__ = ["main", "parse_expiry"]


def parse_expiry(text: str) -> float:
    """``2027-01-31`` (00:00 UTC that day) or an ISO datetime (UTC if no zone) → epoch s."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date or datetime: {text!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1: {text!r}")
    return value


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gateway",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the gateway with uvicorn")
    serve.add_argument("--host", help="default GATEWAY_HOST or 127.0.0.1")
    serve.add_argument("--port", type=int, help="default GATEWAY_PORT or 8080")
    serve.add_argument(
        "--workers",
        type=_positive_int,
        help="processes, each accepting on its own socket (default GATEWAY_WORKERS or 1)",
    )

    sub.add_parser("settings", help="print every GATEWAY_* setting as a Markdown table")
    keys = sub.add_parser("keys", help="manage API keys").add_subparsers(
        dest="action", required=True
    )
    for action in ("create", "list", "revoke", "migrate", "webhook-secret"):
        p = keys.add_parser(action)
        p.add_argument("--db", help="SQLite file or postgresql:// URL (default GATEWAY_KEYS_DB)")
        if action == "create":
            p.add_argument("--name", required=True)
            p.add_argument(
                "--rpm", type=int, help="requests per minute (per process unless Redis is set)"
            )
            p.add_argument(
                "--max-concurrent",
                type=int,
                help="requests in flight (per process unless Redis is set)",
            )
            p.add_argument("--scopes", default="chat,extract", help="comma-separated")
            p.add_argument("--expires", type=parse_expiry, help="ISO date or datetime (UTC)")
            p.add_argument(
                "--webhook-secret",
                action="store_true",
                help="give the key its own webhook signing secret (printed once, second line)",
            )
        elif action == "list":
            p.add_argument("--json", action="store_true", help="one JSON object per line")
        elif action == "revoke":
            p.add_argument("target", metavar="NAME|PREFIX")
        elif action == "webhook-secret":
            p.add_argument("target", metavar="NAME|PREFIX")
            p.add_argument(
                "--remove", action="store_true", help="drop it: GATEWAY_WEBHOOK_SECRET signs again"
            )
    return parser


def _keys(args: argparse.Namespace, settings: Settings) -> int:
    target = args.db or settings.keys_db
    if isinstance(target, str) and not target.startswith(("postgresql://", "postgres://")):
        target = Path(target)
    return asyncio.run(_keys_async(args, settings, open_key_store(target)))


async def _keys_async(args: argparse.Namespace, settings: Settings, store: KeyBackend) -> int:
    try:
        if args.action == "create":
            scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
            key = await store.create(
                args.name,
                scopes=scopes,
                rpm=args.rpm,
                max_concurrent=args.max_concurrent,
                expires_at=args.expires,
            )
            print(key)
            if args.webhook_secret:
                own = new_webhook_secret()
                await store.set_webhook_secret(key[:12], own)
                print(own)
            shown = "it is" if not args.webhook_secret else "the key and its webhook secret are"
            print(
                f"created key {key[:12]}… for {args.name!r}; {shown} shown only this once",
                file=sys.stderr,
            )
        elif args.action == "webhook-secret":
            secret = None if args.remove else new_webhook_secret()
            record = await store.set_webhook_secret(args.target, secret)
            if secret is None:
                print(f"removed the webhook secret of {record.name} ({record.prefix}…)")
            else:
                print(secret)
                print(
                    f"webhook secret set for {record.name} ({record.prefix}…);"
                    " it is shown only this once",
                    file=sys.stderr,
                )
        elif args.action == "list":
            rows = await store.list()
            if args.json:
                for r in rows:
                    print(
                        json.dumps(
                            {
                                "name": r.name,
                                "prefix": r.prefix,
                                "scopes": sorted(r.scopes),
                                "rpm": r.rpm,
                                "max_concurrent": r.max_concurrent,
                                "expires_at": _when(r.expires_at),
                                "revoked_at": _when(r.revoked_at),
                                "created_at": _when(r.created_at),
                                "active": r.is_active(),
                            }
                        )
                    )
            else:
                print(
                    f"{'NAME':20} {'PREFIX':13} {'SCOPES':13} {'RPM':>5} {'CONC':>5} "
                    f"{'EXPIRES':20} {'STATUS':8} CREATED"
                )
                for r in rows:
                    status = (
                        "revoked"
                        if r.revoked_at is not None
                        else "active"
                        if r.is_active()
                        else "expired"
                    )
                    print(
                        f"{r.name:20} {r.prefix:13} {','.join(sorted(r.scopes)):13} "
                        f"{r.rpm or '-':>5} {r.max_concurrent or '-':>5} "
                        f"{_when(r.expires_at):20} {status:8} {_when(r.created_at)}"
                    )
        elif args.action == "migrate":
            applied = await store.migrate()
            version, newest = await store.schema_version()
            done = f"applied {', '.join(map(str, applied))}" if applied else "nothing to apply"
            print(f"key store at schema version {version} of {newest} ({done})")
        else:
            record = await store.revoke(args.target)
            print(f"revoked {record.name} ({record.prefix}…)")
            await _announce(settings, record.prefix)
    except (KeyStoreError, KeyStoreUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        await store.close()
    return 0


async def _announce(settings: Settings, prefix: str) -> None:
    """Tell running gateways (with Redis) to forget the key now, not at their cache's TTL."""
    from redis.exceptions import RedisError

    from .auth.access import redis_client
    from .auth.revocation import publish_revocation

    client = redis_client(settings)
    if client is None:
        return
    try:
        heard = await publish_revocation(client, prefix)
        print(f"{heard} gateway process(es) told through Redis", file=sys.stderr)
    except RedisError as exc:
        print(
            f"warning: Redis unreachable ({type(exc).__name__}); gateways see the revocation"
            f" within GATEWAY_KEY_CACHE_TTL_S ({settings.key_cache_ttl_s} s)",
            file=sys.stderr,
        )
    finally:
        await client.aclose()


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import copy

    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    # Passed to uvicorn so that every worker process sets it up: access lines as bare JSON.
    log_config = copy.deepcopy(LOGGING_CONFIG)
    log_config["formatters"]["gateway_json"] = {"format": "%(message)s"}
    log_config["handlers"]["gateway_access"] = {
        "class": "logging.StreamHandler",
        "formatter": "gateway_json",
        "stream": "ext://sys.stdout",
    }
    log_config["loggers"]["gateway.access"] = {
        "handlers": ["gateway_access"],
        "level": "INFO",
        "propagate": False,
    }
    options: dict[str, Any] = {
        "app": "gateway.app:app_from_env",
        "factory": True,
        "log_level": settings.log_level,
        "log_config": log_config,
        "access_log": False,
        "proxy_headers": False,
        "server_header": False,
    }
    host, port = args.host or settings.host, args.port or settings.port
    workers = args.workers or settings.workers
    try:  # here, once, rather than as a traceback from every worker
        asyncio.run(_prepare_store(settings))
    except (OSError, sqlite3.Error, KeyStoreUnavailable) as exc:
        print(f"error: cannot open the key store {_shown(settings)}: {exc}", file=sys.stderr)
        return 1
    from .workers import hangup_stops_gracefully, run_workers

    if workers == 1:
        hangup_stops_gracefully()
        uvicorn.run(host=host, port=port, **options)
        return 0

    try:
        return run_workers(options, host, port, workers)
    except OSError as exc:  # the port is taken, or the host is not an address of this machine
        print(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 1


async def _prepare_store(settings: Settings) -> None:
    """Open the store once; migrate it if asked, else refuse an outdated schema."""
    store = open_key_store(settings.keys_db, timeout_s=settings.keys_db_timeout_s)
    try:
        if settings.keys_migrate_on_start:
            await store.migrate()
        version, newest = await store.schema_version()
        if version < newest:
            raise KeyStoreUnavailable(
                f"schema version {version}, this gateway needs {newest}:"
                " run `python -m gateway keys migrate`"
            )
    finally:
        await store.close()


def _shown(settings: Settings) -> str:
    """The store's name for messages: a URL without its password."""
    target = str(settings.keys_db)
    if "://" in target and "@" in target:
        scheme, rest = target.split("://", 1)
        return f"{scheme}://…@{rest.rsplit('@', 1)[1]}"
    return target


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "settings":
        print(settings_table(), end="")
        return 0
    settings = Settings()
    if args.command == "serve":
        return _serve(args, settings)
    return _keys(args, settings)


if __name__ == "__main__":
    sys.exit(main())
