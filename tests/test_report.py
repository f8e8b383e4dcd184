"""The HTML report: self-contained, every section present, and table numbers equal to the Parquet files.

Numbers are compared exactly: each numeric cell's `data-value` is the unrounded value the report
read, and the expected value is recomputed here with pandas straight from the recording.
"""

from __future__ import annotations

import base64
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_simulation import loaded, small_scenario

from kizuna.report.html import REPORT_SECTIONS, write_report
from kizuna.simulation import run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class _ReportParser(HTMLParser):
    """Collects section ids, image sources, every attribute value and the tables' rows."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.images: list[str] = []
        self.attribute_values: list[str] = []
        self.tables: dict[str, list[list[tuple[str | None, str]]]] = {}
        self.headers: dict[str, list[str]] = {}
        self._table: str | None = None
        self._row: list[tuple[str | None, str]] | None = None
        self._cell: tuple[str | None, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.attribute_values += [v for v in a.values() if v is not None]
        if tag == "section":
            self.sections.append(a.get("id") or "")
        elif tag == "img":
            self.images.append(a.get("src") or "")
        elif tag == "table":
            self._table = a.get("id") or ""
            self.tables[self._table] = []
            self.headers[self._table] = []
        elif tag == "th" and self._table is not None:
            self.headers[self._table].append(a.get("data-column") or "")
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag == "td" and self._row is not None:
            self._cell = (a.get("data-value"), [])

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell[1].append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None and self._row is not None:
            self._row.append((self._cell[0], "".join(self._cell[1])))
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table is not None:
            if self._row:
                self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def frame(self, table_id: str) -> pd.DataFrame:
        """The table as a frame: the data-value where a cell has one (as float), else its text."""
        rows = [[float(v) if v is not None else text for v, text in row] for row in self.tables[table_id]]
        return pd.DataFrame(rows, columns=self.headers[table_id])


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("report")
    out = tmp / "rec"
    run(loaded(small_scenario(tmp, duration_s=120.0, civil_count=50)), out)
    return out


@pytest.fixture(scope="module")
def parsed(recording: Path) -> _ReportParser:
    path = write_report(recording)
    assert path == recording / "report.html"
    parser = _ReportParser()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    return parser


def assert_same(got: pd.Series, expected: pd.Series) -> None:
    """Exact equality, NaN equal to NaN."""
    np.testing.assert_array_equal(got.to_numpy(dtype=float), expected.to_numpy(dtype=float))


def test_every_section_is_present_once(parsed: _ReportParser) -> None:
    assert parsed.sections == list(REPORT_SECTIONS)


def test_images_are_inline_pngs_and_nothing_is_external(recording: Path, parsed: _ReportParser) -> None:
    assert len(parsed.images) == 4  # threat timeline, GOSPA, messages per minute, coverage
    for src in parsed.images:
        prefix = "data:image/png;base64,"
        assert src.startswith(prefix)
        assert base64.b64decode(src[len(prefix) :], validate=True).startswith(PNG_MAGIC)
    text = (recording / "report.html").read_text(encoding="utf-8")
    for bad in ("http://", "https://", 'src="/', "<script", "<link", "url("):
        assert bad not in text
    assert not any(v.startswith(("http:", "https:", "/", "file:")) for v in parsed.attribute_values)


def test_custody_table_equals_custody_parquet(recording: Path, parsed: _ReportParser) -> None:
    expected = pd.read_parquet(recording / "custody.parquet")
    got = parsed.frame("custody")
    assert len(got) == len(expected)
    key = ["target_id", "nation", "picture"]
    merged = got.merge(expected, on=key, suffixes=("_got", ""), validate="one_to_one")
    assert len(merged) == len(expected)
    for column in ("first_time_s", "first_detection_time_s", "first_confirmed_time_s", "held_fraction"):
        assert_same(merged[f"{column}_got"], merged[column])
    for column in ("n_breaks", "n_id_switches"):
        assert_same(merged[f"{column}_got"], merged[column])


def test_gospa_table_equals_mean_of_gospa_parquet(recording: Path, parsed: _ReportParser) -> None:
    gospa = pd.read_parquet(recording / "gospa.parquet")
    got = parsed.frame("gospa-mean").set_index("nation")
    expected = gospa.groupby(["nation", "picture"])["gospa_m"].mean().unstack("picture")
    assert sorted(got.index) == sorted(expected.index)
    for picture in ("own", "coalition"):
        assert_same(got[picture], expected.loc[got.index, picture])


def test_siap_table_equals_siap_parquet(recording: Path, parsed: _ReportParser) -> None:
    expected = pd.read_parquet(recording / "siap.parquet")
    got = parsed.frame("siap")
    assert list(got[["nation", "picture"]].itertuples(index=False)) == list(
        expected[["nation", "picture"]].itertuples(index=False)
    )
    assert "commonality" in got.columns
    for column in expected.columns.drop(["nation", "picture"]):
        assert_same(got[column], expected[column])


def test_network_table_equals_messages_parquet(recording: Path, parsed: _ReportParser) -> None:
    messages = pd.read_parquet(recording / "messages.parquet")
    got = parsed.frame("links").set_index(["sender", "receiver"])
    links = sorted(set(zip(messages.sender, messages.receiver, strict=True)))
    assert sorted(got.index) == links
    for sender, receiver in links:
        one = messages[(messages.sender == sender) & (messages.receiver == receiver)]
        row = got.loc[(sender, receiver)]
        assert row["sent"] == len(one)
        for fate in ("delivered", "lost", "outage", "congestion", "no-link"):
            assert row[fate] == (one.fate == fate).sum()
        assert row["bytes"] == one.n_bytes.sum()
        accepted = (one.outcome == "accepted").sum()
        assert row["accepted"] == accepted
        delivered = (one.fate == "delivered").sum()
        if delivered:
            assert row["acceptance"] == accepted / delivered
        else:
            assert np.isnan(row["acceptance"])


def test_text_is_escaped(tmp_path: Path, recording: Path) -> None:
    copy = tmp_path / "rec"
    shutil.copytree(recording, copy, ignore=shutil.ignore_patterns("report.html"))
    scenario = (copy / "scenario.json").read_text(encoding="utf-8")
    (copy / "scenario.json").write_text(
        scenario.replace('"name": "', '"name": "<b>&evil</b> ', 1), encoding="utf-8"
    )
    text = write_report(copy, tmp_path / "out.html").read_text(encoding="utf-8")
    assert "<b>&evil</b>" not in text
    assert "&lt;b&gt;&amp;evil&lt;/b&gt;" in text


@pytest.mark.parametrize("missing", ["custody.parquet", "audit.jsonl", "scenario.json"])
def test_missing_table_is_named(tmp_path: Path, recording: Path, missing: str) -> None:
    copy = tmp_path / "rec"
    shutil.copytree(recording, copy, ignore=shutil.ignore_patterns("report.html", missing))
    with pytest.raises(ValueError, match=missing.replace(".", r"\.")):
        write_report(copy)
