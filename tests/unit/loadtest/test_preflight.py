"""The stack checks: one clear line when nothing runs, a bad key, or a half-up stack."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from loadtest.preflight import StackNotReady, check_stack, parse_schema_list, resolve_api_key
from tests.support.procs import free_port

REPO = Path(__file__).resolve().parents[3]


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, object]] = {}

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        status, body = self.routes.get(self.path, (404, {"error": {"message": "no such route"}}))
        if self.path == "/v1/models" and self.headers.get("authorization") != "Bearer good":
            status, body = 401, {"error": {"message": "invalid API key"}}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_gateway() -> Iterator[tuple[str, dict[str, tuple[int, object]]]]:
    routes: dict[str, tuple[int, object]] = {
        "/v1/models": (200, {"object": "list", "data": [{"id": "phi-3.5-vision"}]})
    }
    handler = type("H", (_Handler,), {"routes": routes})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", routes
    server.shutdown()
    server.server_close()


def test_nothing_listening_says_to_start_the_stack() -> None:
    host = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(StackNotReady) as err:
        check_stack(host, "sk-x")
    message = str(err.value)
    assert "make dev" in message and host in message and "\n" not in message


def test_cli_without_a_stack_prints_one_line_and_no_traceback() -> None:
    host = f"http://127.0.0.1:{free_port()}"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "loadtest",
            "run",
            "--host",
            host,
            "--api-key",
            "sk-x",
            "--out",
            "/nonexistent/never-created",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("loadtest: error: nothing answers at")
    assert "make dev" in lines[0]
    assert not Path("/nonexistent/never-created").exists()


def test_refused_key_names_the_fix(fake_gateway: tuple[str, dict]) -> None:
    host, _ = fake_gateway
    with pytest.raises(StackNotReady, match="API key was refused.*OPENAI_API_KEY"):
        check_stack(host, "sk-wrong")
    with pytest.raises(StackNotReady, match="no API key was given"):
        check_stack(host, "")


def test_engine_down_behind_gateway(fake_gateway: tuple[str, dict]) -> None:
    host, routes = fake_gateway
    routes["/v1/models"] = (503, {"error": {"message": "upstream unavailable"}})
    with pytest.raises(StackNotReady, match="answers but its engine does not"):
        check_stack(host, "good")


def test_model_and_schemas_are_discovered(fake_gateway: tuple[str, dict]) -> None:
    host, routes = fake_gateway
    routes["/v1/schemas"] = (
        200,
        {"object": "list", "data": [{"name": "invoice"}, {"name": "scene"}]},
    )
    info = check_stack(host, "good")
    assert info.model == "phi-3.5-vision"
    assert info.schemas == ["invoice", "scene"]
    with pytest.raises(StackNotReady, match="not served"):
        check_stack(host, "good", model="other")


@pytest.mark.parametrize(
    "answer",
    [
        (403, {"error": {"message": "this API key lacks the 'extract' scope"}}),
        (404, {"error": {"message": "no such route"}}),
        (200, {"object": "list", "data": []}),
    ],
    ids=["refused", "missing", "empty"],
)
def test_a_failing_schema_list_stops_an_extract_run(
    fake_gateway: tuple[str, dict], answer: tuple[int, object]
) -> None:
    """No made-up schema names: the extract kind would only send requests doomed to fail."""
    host, routes = fake_gateway
    routes["/v1/schemas"] = answer
    with pytest.raises(StackNotReady, match="/v1/schemas") as err:
        check_stack(host, "good")
    assert "\n" not in str(err.value)
    assert check_stack(host, "good", schemas=False).schemas == []  # no extract, no need


@pytest.mark.parametrize(
    "payload",
    [
        [{"name": "a", "description": "x"}, {"name": "b"}],
        {"data": [{"name": "a"}, {"name": "b"}]},
        {"schemas": ["a", "b"]},
        ["a", "b"],
    ],
)
def test_schema_list_shapes(payload: object) -> None:
    assert parse_schema_list(payload) == ["a", "b"]


def test_api_key_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    key_file = tmp_path / "dev-api-key"
    key_file.write_text("sk-dev\n")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    assert resolve_api_key("sk-flag", key_file) == ("sk-flag", "--api-key")
    assert resolve_api_key(None, key_file) == ("sk-env", "OPENAI_API_KEY")
    monkeypatch.delenv("OPENAI_API_KEY")
    assert resolve_api_key(None, key_file) == ("sk-dev", str(key_file))
    assert resolve_api_key(None, tmp_path / "missing") == ("", "none")
