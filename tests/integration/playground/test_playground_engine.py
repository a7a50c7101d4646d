"""The playground in a real browser against the real gateway and the cpu-dev engine.

Random weights: the extraction sends the image, hint and fixed sampling seed with which the
extraction suite's upload test finishes every schema (greedy decoding of random weights runs
every list to its bound and the answer is cut off at max_tokens).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from schemas.invoice import Invoice
from tests.support.browser import SCREENSHOTS, Visit, open_playground
from tests.support.gateway_server import GatewayServer
from tests.support.images import image_bytes, make_image

pytestmark = pytest.mark.engine

IMAGE = make_image(1024, 768, seed=11)
DONE = 300_000
"""ms to wait for an answer from the engine on a busy 2-core machine."""


@pytest.fixture(scope="module")
def key(engine_gateway: GatewayServer) -> str:
    return engine_gateway.create_key("playground", scopes=["chat", "extract"])


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("playground") / "page.jpg"
    path.write_bytes(image_bytes(IMAGE, "JPEG"))
    return path


@pytest.fixture
def visit(browser: Browser, engine_gateway: GatewayServer, key: str) -> Iterator[Visit]:
    visit = open_playground(browser, engine_gateway.base_url)
    visit.enter_key(key)
    yield visit
    visit.page.context.close()


def _run_snippet(command: list[str], folder: Path, key: str) -> str:
    """Runs a snippet as copied from the page, next to the uploaded file; its output."""
    env = {**os.environ, "OPENAI_API_KEY": key}
    ran = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr
    return ran.stdout


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "—" if value is None else str(value)


def test_extraction_shows_the_typed_answer_field_by_field(
    visit: Visit, photo: Path, key: str
) -> None:
    page = visit.page
    panel = page.get_by_role("tabpanel", name="Extract")
    expect(page.locator("#key-status .scope")).to_have_text(["chat", "extract"])
    page.set_input_files("#extract-file", photo)
    expect(page.locator("#extract-preview-caption")).to_contain_text("page.jpg · 1024×768 px")
    page.locator('#schema-list input[value="invoice"]').check()
    panel.get_by_label("Hint").fill("a test page")
    panel.get_by_text("Sampling").click()
    panel.get_by_label("temperature").fill("1")
    panel.get_by_label("seed").fill("7")
    page.get_by_role("button", name="Run extraction").click()
    expect(page.locator("#extract-status")).to_contain_text("Done in", timeout=DONE)

    raw = json.loads(page.inner_text("#extract-raw"))
    assert raw["schema"] == "invoice" and raw["finish_reason"] == "stop", raw
    invoice = Invoice.model_validate(raw["data"])
    answer = page.locator("#extract-answer")
    for name in Invoice.model_fields:
        expect(answer.locator(f'tr[data-field="/{name}"]')).to_have_count(1)
    for name, value in raw["data"].items():
        if isinstance(value, float):  # JS and Python spell some floats differently
            assert float(answer.locator(f'[data-pointer="/{name}"] .value').inner_text()) == value
        elif not isinstance(value, list):
            expect(answer.locator(f'[data-pointer="/{name}"] .value')).to_have_text(_shown(value))
    rows = answer.locator('tr[data-field="/line_items"] table.list > tbody > tr')
    expect(rows).to_have_count(len(invoice.line_items))
    for i, item in enumerate(invoice.line_items):
        cell = answer.locator(f'[data-pointer="/line_items/{i}/description"] .value')
        expect(cell).to_have_text(item.description)
    expect(answer.locator(".meta")).to_contain_text(f"{raw['usage']['completion_tokens']} out")
    # Every leaf carries its confidence; every check is listed; review says what it is.
    badges = dict(
        page.evaluate(
            """() => [...document.querySelectorAll("#extract-answer > .outcome > .data .leaf")]
                 .map((leaf) => [leaf.dataset.pointer, leaf.querySelector(".conf")?.textContent])"""
        )
    )
    assert raw["confidence"] and set(raw["confidence"]) <= set(badges)
    for pointer, value in raw["confidence"].items():
        assert badges[pointer] == f"confidence {int(value * 100 + 0.5)}%", pointer
    checks = answer.locator("table.checks > tbody > tr")
    expect(checks).to_have_count(len(raw["checks"]))
    for row, check in zip(checks.all(), raw["checks"], strict=True):
        expect(row.locator("th")).to_have_text(check["name"])
        expect(row.locator(".badge")).to_contain_text(check["status"])
    review = answer.locator(".outcome > .review")
    expect(review).to_contain_text("Needs review" if raw["review"] else "No review needed")
    reasons = review.locator(".review-reasons > li")
    expect(reasons).to_have_count(len(raw["review_reasons"]))
    for item, reason in zip(reasons.all(), raw["review_reasons"], strict=True):
        expect(item).to_have_text(reason["message"])
        expect(item).to_have_attribute("data-kind", reason["kind"])

    snippets = page.locator("#extract-snippet-list")
    expect(snippets).to_contain_text("/v1/extract/invoice")
    expect(snippets).to_contain_text("--form-string 'seed=7'")
    expect(snippets).to_contain_text('files={"image": ("page.jpg", file, "image/jpeg")}')
    expect(snippets).to_contain_text(
        'body={"image_url": image, "hint": "a test page", "temperature": 1, "seed": 7}'
    )
    # The key is in the tab's sessionStorage and nowhere else the page shows or sends it.
    assert key not in page.inner_text("body")
    assert page.evaluate("() => sessionStorage.getItem('vision-stack.api-key')") == key
    assert key not in page.url and page.context.cookies() == []

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "playground-extract.png", full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=SCREENSHOTS / "playground-extract-phone.png", full_page=True)
    assert visit.problems == [] and visit.off_origin() == []


def test_each_schema_of_several_shows_its_own_error_with_param(
    visit: Visit, photo: Path, key: str
) -> None:
    page = visit.page
    panel = page.get_by_role("tabpanel", name="Extract")
    page.set_input_files("#extract-file", photo)
    for name in ("invoice", "receipt"):
        page.locator(f'#schema-list input[value="{name}"]').check()
    panel.get_by_text("Sampling").click()
    panel.get_by_label("max_tokens").fill("3")
    page.get_by_role("button", name="Run extraction").click()
    expect(page.locator("#extract-status")).to_contain_text("Done in", timeout=DONE)
    for name in ("invoice", "receipt"):
        section = page.get_by_role("region", name=f"Schema {name}")
        expect(section.locator(".error-title")).to_have_text(
            "HTTP 422 · invalid_request_error · output_truncated"
        )
        expect(section.locator(".error-message")).to_contain_text("max_tokens=3")
        expect(section.locator(".error-param")).to_have_text("param: max_tokens")
    snippets = page.locator("#extract-snippet-list")
    expect(snippets).to_contain_text("'schemas=invoice,receipt'")
    expect(snippets).to_contain_text('"max_tokens": 3, "schemas": ["invoice", "receipt"]')
    expect(snippets).to_contain_text('client.post(\n    "/extract",')

    # Each snippet, copied as shown and run next to the file, gets the same answer.
    curl, httpx_code, openai_code = snippets.locator("pre").all_inner_texts()
    for command in (
        ["bash", "-c", curl],
        [sys.executable, "-c", httpx_code],
        [sys.executable, "-c", openai_code],
    ):
        output = _run_snippet(command, photo.parent, key)
        assert output.count("output_truncated") == 2, (command[0], output)
    assert visit.problems == [] and visit.off_origin() == []


def test_chat_streams_the_answer_token_by_token(visit: Visit, photo: Path, key: str) -> None:
    page = visit.page
    page.get_by_role("tab", name="Chat").click()
    panel = page.get_by_role("tabpanel", name="Chat")
    page.set_input_files("#chat-file", photo)
    panel.get_by_label("Prompt").fill("Describe this picture.")
    panel.get_by_label("max_tokens").fill("32")
    # Every change of the answer's text while the stream is open, with its length.
    page.evaluate(
        """() => {
          const out = document.getElementById("chat-output");
          window.seen = [];
          new MutationObserver(() => {
            if (out.getAttribute("aria-busy") !== "true") return;
            window.seen.push([out.textContent.length, performance.now()]);
          }).observe(out, { characterData: true, childList: true, subtree: true });
        }"""
    )
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#chat-status")).to_contain_text("Done", timeout=DONE)
    seen = [(n, at) for n, at in page.evaluate("() => window.seen") if n > 0]
    lengths = [n for n, _ in seen]
    assert len(set(lengths)) >= 2, f"the text arrived in one piece: {lengths}"
    assert lengths == sorted(lengths)
    # over time, as the engine produced it, not all at once (32 tokens on cpu-dev: ~0.2 s)
    assert seen[-1][1] - seen[0][1] > 20, seen
    text = page.inner_text("#chat-output")
    assert len(text) == lengths[-1] > 0
    assert page.inner_text("#chat-ttft").endswith(" ms")
    assert 2 <= int(page.inner_text("#chat-tokens")) <= 32
    assert float(page.inner_text("#chat-rate")) > 0
    snippet = page.locator("#chat-snippet-list pre").inner_text()
    assert "stream=True" in snippet
    assert _run_snippet([sys.executable, "-c", snippet], photo.parent, key).strip()
    assert visit.problems == [] and visit.off_origin() == []
