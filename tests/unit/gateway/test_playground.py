"""The playground page: served without a key under its policy, built only from local,
non-inline files that import nothing remote."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.playground import CONTENT_SECURITY_POLICY
from gateway.playground.routes import ASSETS, STATIC
from gateway.settings import Settings

SVG_NAMESPACE = "http://www.w3.org/2000/svg"


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(keys_db=tmp_path / "k.db", upstream_url="http://127.0.0.1:9")
    with TestClient(create_app(settings)) as c:
        yield c


def test_policy_allows_this_origin_only_and_nothing_inline() -> None:
    directives = dict(d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["default-src"] == "'none'"
    for name in ("script-src", "style-src", "connect-src"):
        assert directives[name] == "'self'", name
    assert directives["img-src"] == "'self' blob:"
    assert directives["frame-ancestors"] == directives["base-uri"] == "'none'"
    assert directives["require-trusted-types-for"] == "'script'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY


def test_page_and_every_asset_are_served_without_a_key_under_the_policy(
    client: TestClient,
) -> None:
    paths = ["/playground"] + [f"/playground/static/{n}" for n in ASSETS if n != "index.html"]
    types = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}
    for path in paths:
        r = client.get(path)
        assert r.status_code == 200, path
        assert r.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert r.headers["x-content-type-options"] == "nosniff"
        expected = types.get(Path(path).suffix, "text/html")
        assert r.headers["content-type"].startswith(expected), path
    assert client.get("/playground").text == (STATIC / "index.html").read_text()


def test_unknown_assets_and_paths_are_404_in_the_error_shape(client: TestClient) -> None:
    for path in (
        "/playground/static/nope.js",
        "/playground/static/index.html",
        "/playground/static/..%2Froutes.py",
    ):
        r = client.get(path)
        assert r.status_code == 404, path
        assert set(r.json()["error"]) == {"message", "type", "param", "code"}


class _Page(HTMLParser):
    """Collects what the page loads and anything inline."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[str] = []
        self.inline: list[str] = []
        self.ids: set[str] = set()
        self.label_for: list[str] = []
        self._tag = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tag = tag
        named = dict(attrs)
        self.inline += [f"{tag} {k}" for k in named if k.startswith("on") or k == "style"]
        if tag == "style":
            self.inline.append("style element")
        if tag == "script" and not named.get("src"):
            self.inline.append("script without src")
        self.loads += [v for k, v in named.items() if k in ("src", "href") and v]
        if "id" in named and named["id"]:
            self.ids.add(named["id"])
        if tag == "label" and named.get("for"):
            self.label_for.append(str(named["for"]))

    def handle_data(self, data: str) -> None:
        if self._tag == "script" and data.strip():
            self.inline.append("script body")


def test_the_page_has_nothing_inline_and_loads_only_local_files() -> None:
    page = _Page()
    page.feed((STATIC / "index.html").read_text())
    assert page.inline == []
    local = ("/", "#")
    assert all(url.startswith(local) and not url.startswith("//") for url in page.loads), page.loads
    for url in page.loads:
        if url.startswith("/playground/static/"):
            assert url.removeprefix("/playground/static/") in ASSETS
    assert set(page.label_for) <= page.ids


def test_scripts_import_only_each_other_and_name_no_remote_url() -> None:
    scripts = {n: b.decode() for n, (b, _) in ASSETS.items() if n.endswith(".js")}
    assert "app.js" in scripts
    for name, text in scripts.items():
        for target in re.findall(r'^import .* from "([^"]+)";$', text, flags=re.M):
            assert target.startswith("./") and target[2:] in scripts, (name, target)
        assert "innerHTML" not in text and "eval(" not in text, name
    for name, (body, _) in ASSETS.items():
        text = body.decode().replace(SVG_NAMESPACE, "")
        assert not re.search(r"https?://|//cdn|@import", text), name
