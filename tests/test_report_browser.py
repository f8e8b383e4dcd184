"""The analyst's report in a real browser: Debian's Chromium opens report.html from a file:// URL.

Every section is shown, every plot decodes, the numbers the browser reads from the DOM (`data-value`
attributes) equal the values recomputed from the Parquet files (the same checks as
tests/test_report.py), and the page logs no error and requests nothing but itself. A full-page
screenshot is kept as out/test-artifacts/report.png for a person to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import ARTIFACTS, PageLog, open_page
from test_report import CHECKS, TABLES, make_recording, table_frame

from kizuna.report.html import REPORT_SECTIONS, write_report

pytestmark = pytest.mark.slow  # builds a recording and starts Chromium: about 30 s in all

_READ_TABLES = """(ids) => Object.fromEntries(ids.map((id) => {
  const table = document.getElementById(id);
  if (table === null) return [id, null];
  const headers = [...table.querySelectorAll("th")].map((th) => th.dataset.column);
  const rows = [...table.querySelectorAll("tr")]
    .filter((tr) => tr.querySelector("td") !== null)
    .map((tr) => [...tr.querySelectorAll("td")].map((td) => [td.getAttribute("data-value"), td.textContent]));
  return [id, {headers, rows}];
}))"""
_READ_IMAGES = """() => [...document.images].map((img) => ({
  alt: img.alt, complete: img.complete, width: img.naturalWidth, height: img.naturalHeight,
}))"""


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(recording folder, its report.html)."""
    recording = make_recording(tmp_path_factory.mktemp("report-browser"))
    return recording, write_report(recording)


@pytest.fixture(scope="module")
def opened(
    report: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[object, PageLog]]:
    """The report loaded in Chromium: (page, log)."""
    _, path = report
    with open_page(tmp_path_factory.mktemp("chromium")) as (page, log):
        page.goto(path.as_uri(), wait_until="load")  # type: ignore[attr-defined]
        yield page, log


def test_every_section_is_shown(opened: tuple[object, PageLog]) -> None:
    page, _ = opened
    ids = page.evaluate("() => [...document.querySelectorAll('section')].map((s) => s.id)")  # type: ignore[attr-defined]
    assert ids == list(REPORT_SECTIONS)
    for section in REPORT_SECTIONS:
        locator = page.locator(f"section#{section}")  # type: ignore[attr-defined]
        assert locator.is_visible(), section
        box = locator.bounding_box()
        assert box is not None and box["width"] > 0 and box["height"] > 0, section


def test_every_image_decodes(opened: tuple[object, PageLog]) -> None:
    page, _ = opened
    images = page.evaluate(_READ_IMAGES)  # type: ignore[attr-defined]
    assert len(images) == 4  # threat timeline, GOSPA, messages per minute, coverage
    for image in images:
        assert image["complete"] and image["width"] > 0 and image["height"] > 0, image["alt"]


@pytest.mark.parametrize("table", TABLES)
def test_numbers_in_the_dom_equal_the_parquet_files(
    report: tuple[Path, Path], opened: tuple[object, PageLog], table: str
) -> None:
    recording, _ = report
    page, _ = opened
    read = page.evaluate(_READ_TABLES, [table])[table]  # type: ignore[attr-defined]
    assert read is not None, f"#{table} is missing"
    CHECKS[table](recording, table_frame(read["headers"], read["rows"]))


def test_no_errors_and_no_requests_but_the_file(
    report: tuple[Path, Path], opened: tuple[object, PageLog]
) -> None:
    _, path = report
    page, log = opened
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)  # type: ignore[attr-defined]
    assert log.console_errors == []
    assert log.page_errors == []
    assert log.requests and log.requests[0] == path.as_uri()
    others = [u for u in log.requests if u != path.as_uri() and not u.startswith("data:")]
    assert others == []
    assert log.off_host() == []
