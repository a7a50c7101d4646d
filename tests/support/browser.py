"""The system Chromium for the playground's browser tests, driven by Playwright.

Playwright's own browser download is not reachable from our machines, so the tests launch the
Chromium that ``make setup`` installs (Debian's ``chromium``), or the one named by
``VISION_STACK_CHROMIUM``. No browser is a failure with the fix in its message, not a skip.

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path())
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, Page

__all__ = ["SCREENSHOTS", "Visit", "chromium_path", "open_playground"]


def chromium_path() -> str:
    """The Chromium binary to launch: ``VISION_STACK_CHROMIUM``, else the one on PATH."""
    named = os.environ.get("VISION_STACK_CHROMIUM")
    if named:
        if not Path(named).is_file():
            raise FileNotFoundError(f"VISION_STACK_CHROMIUM={named} is not a file")
        return named
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    raise FileNotFoundError(
        "no Chromium on PATH: run `make setup` (it installs Debian's chromium) "
        "or set VISION_STACK_CHROMIUM to a Chromium binary"
    )


SCREENSHOTS = Path(__file__).resolve().parents[2] / ".cache" / "screenshots"
"""Where the browser tests leave their screenshots (``docs/playground.png`` is one of them)."""


@dataclass
class Visit:
    """A fresh browser context on the gateway's playground, recording what the page does:
    every request it makes and every console error or uncaught exception (a CSP violation is
    reported as a console error)."""

    page: Page
    origin: str
    requests: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def off_origin(self) -> list[str]:
        """Requests that went anywhere but this gateway (blob: URLs of this origin are local)."""
        ours = (self.origin + "/", f"blob:{self.origin}/")
        return [url for url in self.requests if not url.startswith(ours)]

    def enter_key(self, key: str) -> None:
        self.page.fill("#key-input", key)
        self.page.get_by_role("button", name="Use key").click()
        self.page.wait_for_selector(
            '#key-status:is([data-state="accepted"], [data-state="refused"])'
        )


def open_playground(
    browser: Browser, origin: str, width: int = 1280, height: int = 900, timeout_s: float = 300
) -> Visit:
    """Load ``/playground`` in a new context (its own sessionStorage) of ``width``×``height``."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(timeout_s * 1000)
    visit = Visit(page, origin)
    page.on("request", lambda request: visit.requests.append(request.url))
    page.on("pageerror", lambda error: visit.problems.append(f"uncaught: {error}"))
    page.on(
        "console",
        lambda message: (
            visit.problems.append(f"console: {message.text}") if message.type == "error" else None
        ),
    )
    page.goto(origin + "/playground")
    return visit
