"""A webhook receiver on loopback: a real HTTP server in a thread that records every POST
(headers, body, when) and answers the statuses it is given, then 200.

    with Receiver(fail_first=2) as rx:      # 500, 500, then 200
        ... rx.url ...
        [first, second, third] = rx.wait_for(3)
"""

from __future__ import annotations

import http.server
import threading
import time
from dataclasses import dataclass
from types import TracebackType

__all__ = ["Delivered", "Receiver"]


@dataclass(frozen=True)
class Delivered:
    headers: dict[str, str]
    body: bytes
    path: str
    status: int
    """What the receiver answered."""
    at: float


class Receiver:
    def __init__(self, fail_first: int = 0, fail_status: int = 500) -> None:
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.received: list[Delivered] = []
        self._cond = threading.Condition()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver._cond:
                    failing = len(receiver.received) < receiver.fail_first
                    status = receiver.fail_status if failing else 200
                    receiver.received.append(
                        Delivered(
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                            self.path,
                            status,
                            time.time(),
                        )
                    )
                    receiver._cond.notify_all()
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Delivered]:
        """The first ``count`` deliveries, waiting for them at most ``timeout`` seconds."""
        with self._cond:
            ok = self._cond.wait_for(lambda: len(self.received) >= count, timeout)
            assert ok, f"{len(self.received)} of {count} deliveries arrived in {timeout} s"
            return list(self.received[:count])
