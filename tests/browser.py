"""Debian's Chromium, headless, driven by Python Playwright: the browser of the page tests.

Never Playwright's own browser download: `make test` installs `/usr/bin/chromium` from Debian.
Every page opened through `open_page` records its console errors, uncaught page errors and every
request, so a test can assert that nothing failed and nothing left 127.0.0.1.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import pytest

CHROMIUM = os.environ.get("KIZUNA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "out" / "test-artifacts"
LOCAL_SCHEMES = ("data", "blob", "about")


@dataclass
class PageLog:
    """What a page did: console errors, page errors, and every URL it requested."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def off_host(self) -> list[str]:
        """Requests to anything but 127.0.0.1 (data:, blob: and about: URLs stay in the page)."""
        bad = []
        for url in self.requests:
            parsed = urlparse(url)
            if parsed.scheme in LOCAL_SCHEMES:
                continue
            if parsed.hostname != "127.0.0.1" and not (parsed.scheme == "file" and not parsed.hostname):
                bad.append(url)
        return bad


@contextmanager
def open_page(tmp_path: Path, *, width: int = 1400, height: int = 900) -> Iterator[tuple[object, PageLog]]:
    """A fresh headless Chromium profile and one page in it; yields (page, log)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    log = PageLog()
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": width, "height": height},
        )
        try:
            page = context.new_page()
            page.on("console", lambda m: log.console_errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: log.page_errors.append(str(e)))
            page.on("request", lambda r: log.requests.append(r.url))
            yield page, log
        finally:
            context.close()


def save_screenshot(page: object, name: str) -> Path:
    """Save a screenshot under out/test-artifacts/ (kept after the run, for a person to look at)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))  # type: ignore[attr-defined]
    return path
