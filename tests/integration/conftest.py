"""Session fixtures for integration suites: the engine-backed gateway and an image server.

Both are shared by every suite that talks to the real stack (gateway, extraction, load
test), so a session starts one gateway in front of the one ``vllm_engine``.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from tests.support.documents import invoice_pages, pdf_bytes
from tests.support.gateway_server import GatewayServer, start_gateway
from tests.support.images import image_bytes, make_image


class _ImageHandler(http.server.BaseHTTPRequestHandler):
    """/cat.png, /cat.jpg; /to-metadata and /to-private redirect; /not-image is text."""

    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        status, headers, body = self.routes.get(self.path, (404, {}, b"missing"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def image_server() -> Iterator[str]:
    """A local HTTP server with test images; tests reach it through a test-only allowlist."""
    img = make_image(640, 480, seed=3)
    _ImageHandler.routes = {
        "/cat.png": (200, {"content-type": "image/png"}, image_bytes(img, "PNG")),
        "/cat.jpg": (200, {"content-type": "image/jpeg"}, image_bytes(img, "JPEG")),
        "/not-image": (200, {"content-type": "text/plain"}, b"just text"),
        "/to-metadata": (302, {"location": "http://169.254.169.254/latest/meta-data/"}, b""),
        "/to-private": (302, {"location": "http://10.0.0.1/cat.png"}, b""),
        "/to-cat": (302, {"location": "/cat.png"}, b""),
        "/invoice.pdf": (
            200,
            {"content-type": "application/pdf"},
            pdf_bytes(invoice_pages(2)),
        ),  # fmt: skip
    }
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ImageHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def engine_gateway(
    vllm_engine: object, image_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayServer]:
    """The real gateway in front of the session's vLLM engine.

    The image server is on loopback, so this gateway (and only this test gateway) gets an
    allowlist of exactly that host plus ``allow_private_fetch``; metadata addresses stay refused.
    """
    gw = start_gateway(
        vllm_engine.base_url,  # type: ignore[attr-defined]
        tmp_path_factory.mktemp("gw-engine"),
        GATEWAY_FETCH_ALLOWED_HOSTS="127.0.0.1",
        GATEWAY_ALLOW_PRIVATE_FETCH="true",
    )
    yield gw
    gw.stop()
