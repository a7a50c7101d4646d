"""The playground page in a real browser, in front of the stub upstream (no engine needed):
what it loads and from where, its Content-Security-Policy at work, the key's refusal, errors
with their ``param``, accessibility, and the rendering of response fields that other issues
are adding (confidence, checks, review, pages) or that nobody knows yet.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Browser, Locator, Page, Route, expect

from gateway.playground import CONTENT_SECURITY_POLICY
from tests.support.browser import Visit, open_playground
from tests.support.documents import encrypted_pdf
from tests.support.gateway_server import GatewayServer, Proc, start_gateway, start_stub
from tests.support.images import image_bytes, make_image
from tests.support.pages import field_boxes, iou

HERE = Path(__file__).parent
REFUSED = "Failed to load resource: the server responded with a status of"
"""How Chromium's console reports a non-2xx answer (the page shows the error itself)."""


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayServer]:
    work = tmp_path_factory.mktemp("playground-stub")
    stub: Proc = start_stub(work)
    gw = start_gateway(stub.base_url, work)
    yield gw
    gw.stop()
    stub.stop()


@pytest.fixture
def visit(browser: Browser, gateway: GatewayServer) -> Iterator[Visit]:
    visit = open_playground(browser, gateway.base_url)
    yield visit
    visit.page.context.close()


def test_page_and_assets_load_without_a_key_under_the_policy(gateway: GatewayServer) -> None:
    page = httpx.get(gateway.base_url + "/playground")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assets = re.findall(r'(?:src|href)="(/playground/static/[^"]+)"', page.text)
    assert len(assets) == 3  # favicon, stylesheet, entry module
    for response in [page, *(httpx.get(gateway.base_url + path) for path in assets)]:
        assert response.status_code == 200, response.url
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert response.headers["x-content-type-options"] == "nosniff"


def test_the_page_fetches_nothing_from_elsewhere(visit: Visit) -> None:
    expect(visit.page.locator("#extract-form")).to_be_visible()
    visit.page.wait_for_load_state("networkidle")
    loaded = {url.removeprefix(visit.origin) for url in visit.requests}
    assert {"/playground", "/playground/static/app.js", "/playground/static/render.js"} <= loaded
    assert visit.off_origin() == [] and visit.problems == []


def test_script_cannot_write_markup_or_reach_other_origins(visit: Visit) -> None:
    page = visit.page
    expect(page.locator("#extract-form")).to_be_visible()
    outcome = page.evaluate((HERE / "csp_probe.js").read_text())
    # Trusted Types with no policy: every HTML and script sink throws.
    assert outcome["sinks"] == ["TypeError"] * 3
    assert outcome["remote"] == "TypeError" and "connect-src" in outcome["violations"]
    assert not any("198.51.100.7" in url for url in visit.requests)


def test_inline_script_and_style_in_the_page_would_not_run(
    browser: Browser, gateway: GatewayServer
) -> None:
    """The real page and its real headers, with an inline script and style slipped in."""
    context = browser.new_context()
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))

    def inject(route: Route) -> None:
        response = route.fetch()
        body = response.text().replace(
            "</body>", "<script>window.ran = 1</script><style>body{display:none}</style></body>"
        )
        route.fulfill(response=response, body=body)

    page.route(gateway.base_url + "/playground", inject)
    page.goto(gateway.base_url + "/playground")
    expect(page.locator("#extract-form")).to_be_visible()
    assert page.evaluate("() => window.ran") is None
    refusals = [line for line in console if "Content Security Policy" in line]
    assert any("inline script" in line for line in refusals), console
    assert any("inline style" in line for line in refusals), console
    context.close()


def test_a_wrong_key_shows_the_refusal_and_is_not_kept(visit: Visit) -> None:
    visit.enter_key("sk-" + "x" * 43)
    page = visit.page
    expect(page.locator("#key-status")).to_have_text("Refused (HTTP 401): unknown API key")
    expect(page.locator("#schema-list input")).to_have_count(0)
    assert page.evaluate("() => sessionStorage.length") == 0
    assert visit.problems == [f"console: {REFUSED} 401 (Unauthorized)"]


def test_a_key_without_extract_shows_its_scopes_and_why_no_schemas(
    visit: Visit, gateway: GatewayServer
) -> None:
    visit.enter_key(gateway.create_key("chat-only", scopes=["chat"]))
    page = visit.page
    expect(page.locator("#key-status")).to_contain_text("Key “chat-only”")
    expect(page.locator("#key-status .scope")).to_have_text(["chat"])
    expect(page.locator("#schema-status")).to_contain_text("lacks the 'extract' scope")
    page.reload()  # the key survives a reload of the tab (sessionStorage) and is checked again
    expect(page.locator("#key-status .scope")).to_have_text(["chat"])
    page.get_by_role("button", name="Forget").click()
    assert page.evaluate("() => sessionStorage.length") == 0


def test_a_refused_request_shows_message_and_param(
    visit: Visit, gateway: GatewayServer, tmp_path: Path
) -> None:
    visit.enter_key(gateway.create_key("extractor", scopes=["extract"]))
    page = visit.page
    photo = tmp_path / "scene.png"
    photo.write_bytes(image_bytes(make_image(320, 240, seed=4)))
    page.set_input_files("#extract-file", photo)
    page.locator('#schema-list input[value="scene"]').check()
    page.get_by_label("num_crops").fill("40")
    page.get_by_role("button", name="Run extraction").click()
    error = page.locator("#extract-error .error")
    expect(error.locator(".error-title")).to_have_text(
        "HTTP 400 · invalid_request_error · invalid_value"
    )
    expect(error.locator(".error-message")).to_contain_text("num_crops")
    expect(error.locator(".error-param")).to_have_text("param: num_crops")
    assert '"param": "num_crops"' in page.inner_text("#extract-raw")
    assert visit.problems == [f"console: {REFUSED} 400 (Bad Request)"]
    assert visit.off_origin() == []


def test_a_pdf_goes_up_as_a_pdf_with_its_page_selection(
    visit: Visit, gateway: GatewayServer, tmp_path: Path
) -> None:
    """The page shows a PDF's pages as thumbnails from the public preview route, lets a click
    choose pages, and sends the file as it is, with ``pages``."""
    page = visit.page
    pdf = tmp_path / "deck.pdf"
    colours = ["red", "lime", "blue"]
    first, *rest = (Image.new("RGB", (300, 400), colour) for colour in colours)
    first.save(pdf, "PDF", save_all=True, append_images=rest)
    pages = page.get_by_label("Pages")
    expect(pages).to_be_disabled()
    page.set_input_files("#extract-file", pdf)
    expect(page.locator("#extract-preview-caption")).to_contain_text("deck.pdf · PDF · ")
    expect(page.locator("#extract-preview-img")).to_be_hidden()
    # No key yet: the page says why there are no thumbnails, and asks for none.
    expect(page.locator("#extract-thumbs-status")).to_contain_text("Enter a key")
    assert not [u for u in visit.requests if u.endswith("/v1/documents/preview")]

    visit.enter_key(gateway.create_key("pdf", scopes=["extract"]))  # the key brings them
    thumbs = page.get_by_role("list", name="Page thumbnails").get_by_role("button")
    expect(thumbs).to_have_count(3)
    expect(page.locator("#extract-preview-caption")).to_contain_text("3 pages")
    for number, colour in enumerate(colours, start=1):
        picture = page.get_by_role("img", name=f"Page {number}")
        expect(picture).to_be_visible()
        assert picture.evaluate("img => img.complete && img.naturalWidth > 0")
        assert picture.get_attribute("src").startswith("blob:")  # type: ignore[union-attr]
        shown = Image.open(io.BytesIO(picture.screenshot())).convert("RGB")
        centre = shown.getpixel((shown.width // 2, shown.height // 2))
        expected = Image.new("RGB", (1, 1), colour).getpixel((0, 0))
        assert all(abs(a - b) < 32 for a, b in zip(centre, expected, strict=True)), (number, centre)

    page.set_viewport_size({"width": 390, "height": 844})  # a phone: the strip wraps
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    page.set_viewport_size({"width": 1280, "height": 900})

    # Clicking pages writes the selection; typing one marks the thumbnails.
    thumbs.nth(2).click()
    thumbs.nth(0).click()
    expect(pages).to_have_value("1,3")
    expect(thumbs.nth(0)).to_have_attribute("aria-pressed", "true")
    expect(thumbs.nth(1)).to_have_attribute("aria-pressed", "false")
    pages.fill("1-2")
    expect(thumbs.nth(1)).to_have_attribute("aria-pressed", "true")
    expect(thumbs.nth(2)).to_have_attribute("aria-pressed", "false")

    page.locator('#schema-list input[value="invoice"]').check()
    # What the page hands to fetch (Chromium does not show multipart file bodies).
    page.evaluate(
        """() => {
          const fetch = window.fetch;
          window.fetch = (url, options) => {
            window.sent = [url, [...options.body.entries()].map(([k, v]) =>
              [k, typeof v === "string" ? v : [v.name, v.type, v.size]])];
            return fetch(url, options);
          };
        }"""
    )
    page.get_by_role("button", name="Run extraction").click()
    expect(page.locator("#extract-status")).not_to_be_empty()
    url, fields = page.evaluate("() => window.sent")
    size = pdf.stat().st_size
    assert url == "/v1/extract/invoice"
    assert fields == [["image", ["deck.pdf", "application/pdf", size]], ["pages", "1-2"]]
    expect(page.locator("#extract-status")).to_have_text(re.compile("Done in|request failed"))
    shown_answer = page.locator("#extract-error .error-message, #extract-answer .outcome")
    expect(shown_answer.first).to_be_visible()

    photo = tmp_path / "photo.png"
    photo.write_bytes(image_bytes(make_image(64, 48)))
    page.set_input_files("#extract-file", photo)  # an image again: no pages, no thumbnails
    expect(pages).to_be_disabled()
    expect(pages).to_have_value("")
    expect(thumbs).to_have_count(0)


def test_a_document_the_gateway_refuses_shows_why_instead_of_thumbnails(
    visit: Visit, gateway: GatewayServer, tmp_path: Path
) -> None:
    visit.enter_key(gateway.create_key("locked", scopes=["extract"]))
    locked = tmp_path / "locked.pdf"
    locked.write_bytes(encrypted_pdf())
    visit.page.set_input_files("#extract-file", locked)
    status = visit.page.locator("#extract-thumbs-status")
    expect(status).to_contain_text("No page previews: the PDF is encrypted")
    expect(status).to_contain_text("(image)")
    expect(visit.page.locator("#extract-thumbs")).to_be_hidden()


RESPONSE = {
    "id": "x",
    "object": "extraction",
    "schema": "invoice",
    "model": "m",
    "data": {
        "vendor_name": "Acme",
        "due_date": None,
        "line_items": [{"description": "Drill", "amount": 179.0}, {"description": "Bits"}],
        "tags": ["a", "b"],
        "address": {"city": "Berlin"},
    },
    "confidence": {"/vendor_name": 0.97, "/line_items/0/amount": 0.41, "/address/city": 0.7},
    "checks": [
        {"name": "line_sum", "status": "fail", "fields": ["/line_items/0/amount"], "message": "no"},
        {"name": "dates", "status": "skipped", "fields": ["due_date"], "message": "missing"},
        {"name": "vendor", "status": "pass", "fields": ["data.vendor_name"], "message": "ok"},
    ],
    "review": True,
    "pages": [
        {"page": 1, "data": {"vendor_name": "Acme"}, "confidence": {"/vendor_name": 0.5}},
        {
            "page": 2,
            "error": {
                "message": "cut off",
                "type": "invalid_request_error",
                "param": "max_tokens",
                "code": "output_truncated",
            },
        },
    ],
    "finish_reason": "stop",
    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    "verification_id": "v-1",
    "timings": {"render_ms": 12},
}


def _render(page: Page, response: dict[str, object]) -> None:
    """Shows ``response`` in the answer pane with the page's own renderer."""
    page.evaluate(
        """async (response) => {
          const { renderResponse } = await import("/playground/static/render.js");
          document.getElementById("extract-answer").replaceChildren(renderResponse(response));
        }""",
        response,
    )


def test_confidence_checks_pages_and_unknown_fields_are_all_rendered(visit: Visit) -> None:
    page = visit.page
    expect(page.locator("#extract-form")).to_be_visible()
    _render(page, RESPONSE)
    answer = page.locator("#extract-answer")
    top = answer.locator(":scope > .outcome > .data")  # the document, not its pages

    def at(pointer: str, part: str) -> Locator:
        return top.locator(f'[data-pointer="{pointer}"] {part}')

    conf = at("/vendor_name", ".conf")
    expect(conf).to_have_text("confidence 97%")
    expect(conf).to_have_class("conf conf-high")
    expect(at("/line_items/0/amount", ".conf")).to_have_class("conf conf-low")
    expect(at("/address/city", ".conf")).to_have_class("conf conf-medium")
    expect(at("/line_items/0/amount", ".mark")).to_have_text("✗ line_sum")
    expect(at("/due_date", ".mark")).to_have_text("– dates")
    expect(at("/vendor_name", ".mark")).to_have_text("✓ vendor")
    expect(answer.locator(".review")).to_contain_text("Needs review")
    checks = answer.locator("table.checks > tbody > tr")
    expect(checks).to_have_count(3)
    expect(checks.nth(0)).to_contain_text("✗ fail")
    expect(answer.get_by_role("region", name="Page 1").locator(".conf")).to_have_text(
        "confidence 50%"
    )
    page2 = answer.get_by_role("region", name="Page 2")
    expect(page2.locator(".error-param")).to_have_text("param: max_tokens")
    other = answer.locator(".other")
    expect(other).to_contain_text("Verification id")
    expect(other).to_contain_text("v-1")
    expect(other).to_contain_text("Render ms")
    assert visit.problems == []


def test_controls_are_labelled_keyboard_reachable_and_readable(visit: Visit) -> None:
    page = visit.page
    expect(page.locator("#extract-form")).to_be_visible()
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll("input, textarea, select, button")]
             .filter((el) => !el.labels?.length && !el.getAttribute("aria-label"))
             .filter((el) => el.tagName !== "BUTTON" || !el.textContent.trim())
             .map((el) => el.id || el.outerHTML)"""
    )
    assert unlabelled == []
    page.get_by_role("tab", name="Extract").focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="Chat")).to_be_focused()
    expect(page.get_by_role("tab", name="Chat")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#panel-chat")).to_be_visible()
    expect(page.locator("#panel-extract")).to_be_hidden()
    page.keyboard.press("Home")
    expect(page.locator("#panel-extract")).to_be_visible()

    # Text contrast (WCAG AA, 4.5:1) of every visible text element and of rendered badges.
    _render(page, RESPONSE)
    low = page.evaluate((HERE / "contrast.js").read_text())
    assert low["bad"] == [] and low["checked"] > 50, low


def _sent_with(visit: Visit, path: str) -> list[str | None]:
    """The Authorization header of every request the page sent to ``path``."""
    return [auth for url, auth in visit.page.evaluate("() => window.sentAuth") if url == path]


def _record_auth(page: Page) -> None:
    page.evaluate(
        """() => {
          window.sentAuth = [];
          const fetch = window.fetch;
          window.fetch = (url, options = {}) => {
            window.sentAuth.push([String(url), new Headers(options.headers).get("authorization")]);
            return fetch(url, options);
          };
        }"""
    )


def test_a_typed_key_is_used_without_pressing_use_key(
    visit: Visit, gateway: GatewayServer, tmp_path: Path
) -> None:
    """A newcomer pastes the key, picks a photo and presses "Run extraction": the typed key is
    checked and used, and the generic schema ticked by default is what runs."""
    key = gateway.create_key("typed", scopes=["chat", "extract"])
    page = visit.page
    expect(page.locator("#extract-form")).to_be_visible()
    _record_auth(page)
    photo = tmp_path / "photo.png"
    photo.write_bytes(image_bytes(make_image(320, 240, seed=5)))
    page.set_input_files("#extract-file", photo)
    page.fill("#key-input", key)  # and nothing else: no "Use key"
    page.get_by_role("button", name="Run extraction").click()
    expect(page.locator("#extract-status")).to_have_text(re.compile("Done in|request failed"))
    expect(page.locator("#key-status")).to_have_attribute("data-state", "accepted")
    expect(page.locator("#extract-error")).not_to_contain_text("API key")
    assert _sent_with(visit, "/v1/extract/image_insight") == [f"Bearer {key}"]

    # The chat tab takes the key from the box the same way, a changed one included.
    other = gateway.create_key("typed-chat", scopes=["chat"])
    page.get_by_role("tab", name="Chat").click()
    page.fill("#key-input", other)
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#chat-status")).not_to_have_text(re.compile(r"^(Sending…)?$"))
    expect(page.locator("#chat-error")).not_to_contain_text("API key")
    assert _sent_with(visit, "/v1/chat/completions") == [f"Bearer {other}"]
    expect(page.locator("#key-status")).to_contain_text("typed-chat")


def test_a_typed_key_that_is_refused_says_so(visit: Visit, tmp_path: Path) -> None:
    page = visit.page
    photo = tmp_path / "photo.png"
    photo.write_bytes(image_bytes(make_image(64, 48)))
    page.set_input_files("#extract-file", photo)
    page.fill("#key-input", "sk-" + "y" * 43)
    page.get_by_role("button", name="Run extraction").click()
    expect(page.locator("#key-status")).to_have_text("Refused (HTTP 401): unknown API key")
    expect(page.locator("#extract-error .error-message")).to_have_text(
        "enter a valid API key first"
    )


def test_the_generic_schema_is_ticked_until_another_is_chosen(
    visit: Visit, gateway: GatewayServer
) -> None:
    visit.enter_key(gateway.create_key("ticks", scopes=["extract"]))
    page = visit.page
    boxes = page.locator("#schema-list input")
    expect(boxes.first).to_be_visible()
    ticked = page.locator("#schema-list input:checked")
    expect(ticked).to_have_count(1)
    expect(ticked).to_have_attribute("value", "image_insight")
    page.locator('#schema-list input[value="invoice"]').check()  # a first choice replaces it
    expect(ticked).to_have_count(1)
    expect(ticked).to_have_attribute("value", "invoice")
    page.locator('#schema-list input[value="image_insight"]').check()  # then both, if wanted
    expect(ticked).to_have_count(2)
    expect(page.get_by_label("num_crops")).to_have_attribute("placeholder", "default 16")


GROUNDED = {
    "id": "g",
    "object": "extraction",
    "schema": "invoice",
    "model": "m",
    "data": {"invoice_number": "INV-7", "total": 12.5, "vendor_name": "Acme"},
    "grounding": {
        "/invoice_number": {
            "page": 1,
            "boxes": [[0.1, 0.1, 0.4, 0.2]],
            "text": "INV-7",
            "source": "pdf_text",
            "score": 1.0,
        },
        "/total": None,
    },
    "checks": [],
    "review": True,
    "finish_reason": "stop",
}


def _render_grounded(page: Page, response: dict[str, object]) -> None:
    """Renders ``response`` and draws its boxes over a 200 × 100 picture standing for page 1."""
    page.evaluate(
        """async (response) => {
          const { renderResponse } = await import("/playground/static/render.js");
          const { showWhere } = await import("/playground/static/grounding.js");
          const answer = document.getElementById("extract-answer");
          answer.replaceChildren(renderResponse(response));
          const canvas = document.createElement("canvas");
          canvas.width = 200; canvas.height = 100;
          const blob = await new Promise((done) => canvas.toBlob(done));
          await showWhere(answer, async () => new Map([[1, URL.createObjectURL(blob)]]));
        }""",
        response,
    )


def test_grounding_boxes_are_drawn_where_found_and_highlight_their_field(visit: Visit) -> None:
    page = visit.page
    _render_grounded(page, GROUNDED)
    answer = page.locator("#extract-answer")
    boxes = answer.locator(".where-page .gbox")
    expect(boxes).to_have_count(1)
    shown = page.locator(".where-page img")
    expect(shown).to_be_visible()
    picture = shown.bounding_box()
    box = boxes.first.bounding_box()
    assert picture is not None and box is not None
    # The box sits at its fractions of the page as displayed, whatever the picture's size.
    assert abs((box["x"] - picture["x"]) / picture["width"] - 0.1) < 0.02
    assert abs((box["y"] - picture["y"]) / picture["height"] - 0.1) < 0.02
    assert abs(box["width"] / picture["width"] - 0.3) < 0.02
    field = answer.locator('.data [data-pointer="/invoice_number"]')
    expect(field.locator(".where-mark")).to_have_text("p. 1")
    field.hover()
    expect(boxes.first).to_have_class(re.compile(r"grounding-on"))
    page.mouse.move(0, 0)
    expect(boxes.first).not_to_have_class(re.compile(r"grounding-on"))
    boxes.first.focus()  # keyboard: the box lights up its field's row
    expect(field).to_have_class(re.compile(r"grounding-on"))
    field.focus()
    expect(boxes.first).to_have_class(re.compile(r"grounding-on"))
    # A transcribed value printed nowhere is marked; a derived one gets no mark at all.
    expect(answer.locator('[data-pointer="/total"] .mark-ungrounded')).to_have_text("⚠ not on page")
    expect(answer.locator('[data-pointer="/vendor_name"] .where-mark')).to_have_count(0)
    expect(answer.locator(".other")).to_have_count(0)  # grounding is a known field
    assert visit.problems == []


def test_an_extracted_pdf_shows_each_value_boxed_on_its_page(
    browser: Browser, tmp_path: Path
) -> None:
    """The whole path: a text-layer invoice PDF goes up, the scripted answer (true values
    but an invented total) comes back grounded, and the page draws the boxes over the
    gateway's own rendering of page 1; the invented total is marked."""
    import json

    from tests.support.browser import SCREENSHOTS
    from tests.support.pages import invoice_page, text_pdf

    stub = start_stub(tmp_path)
    gw = start_gateway(stub.base_url, tmp_path, GATEWAY_MODEL_NAME="stub-script")
    visit = open_playground(browser, gw.base_url)
    try:
        invoice = invoice_page()
        d = invoice.data
        answer = {
            "vendor_name": d["vendor"],
            "customer_name": d["customer"],
            "invoice_number": d["invoice_number"],
            "invoice_date": d["invoice_date"],
            "currency": d["currency"],
            "total": 1253.71,  # printed nowhere: the page says 1.253,70
            "line_items": d["line_items"],
        }
        httpx.post(stub.base_url + "/stub/script", json=[json.dumps(answer)])
        pdf = tmp_path / "invoice.pdf"
        pdf.write_bytes(text_pdf([invoice]))
        page = visit.page
        visit.enter_key(gw.create_key("boxes", scopes=["extract"]))
        page.set_input_files("#extract-file", pdf)
        page.locator('#schema-list input[value="invoice"]').check()
        page.get_by_role("button", name="Run extraction").click()
        expect(page.locator("#extract-status")).to_have_text(re.compile("Done in"))
        answer_pane = page.locator("#extract-answer")
        view = answer_pane.get_by_role("group", name="Page 1: where the values were found")
        picture = view.locator("img")
        expect(picture).to_be_visible()
        assert picture.evaluate("img => img.complete && img.naturalWidth >= 700")
        boxes = view.locator(".gbox")
        assert boxes.count() >= 10
        top = answer_pane.locator(":scope > .outcome > .data")  # the document, not its page
        number = top.locator('[data-pointer="/invoice_number"]')
        expect(number.locator(".where-mark")).to_have_text("p. 1")
        number.hover()
        lit = view.locator('.gbox.grounding-on[data-pointer="/invoice_number"]')
        expect(lit).to_have_count(1)
        # The box sits where the page prints the number.
        shown, box = picture.bounding_box(), lit.bounding_box()
        assert shown is not None and box is not None
        (truth,) = field_boxes(invoice, "/invoice_number")
        drawn = (
            (box["x"] - shown["x"]) / shown["width"],
            (box["y"] - shown["y"]) / shown["height"],
            (box["x"] + box["width"] - shown["x"]) / shown["width"],
            (box["y"] + box["height"] - shown["y"]) / shown["height"],
        )
        assert iou(drawn, truth) >= 0.5, (drawn, truth)
        total = top.locator('[data-pointer="/total"]')
        expect(total.locator(".mark-ungrounded")).to_have_text("⚠ not on page")
        review = answer_pane.locator(":scope > .outcome > .review")
        expect(review).to_contain_text("not found on the page")
        expect(review).to_contain_text("/total")
        other = answer_pane.locator(":scope > .outcome > .other")
        expect(other).not_to_contain_text("Grounding")  # known fields, shown as such
        # For docs/: the fields and the page, the invoice number hovered.
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.set_viewport_size({"width": 1280, "height": 2400})
        number.scroll_into_view_if_needed()
        number.hover()
        fields, where = top.bounding_box(), view.bounding_box()
        assert fields is not None and where is not None
        page.screenshot(
            path=SCREENSHOTS / "playground-grounding.png",
            clip={
                "x": fields["x"] - 8,
                "y": fields["y"] - 8,
                "width": max(fields["width"], where["width"]) + 16,
                "height": where["y"] + where["height"] - fields["y"] + 16,
            },
        )
        assert visit.problems == []
    finally:
        visit.page.context.close()
        gw.stop()
        stub.stop()
