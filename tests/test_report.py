"""The HTML report: self-contained, every section present, and table numbers equal to the Parquet files.

Numbers are compared exactly: each numeric cell's `data-value` is the unrounded value the report
read, and the expected value is recomputed here with pandas straight from the recording. The
`check_*` helpers take the table as a frame so tests/test_report_browser.py can run the same checks
on the numbers a browser reads from the DOM.
"""

from __future__ import annotations

import base64
import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_simulation import loaded, small_scenario

from kizuna.metrics.picture import FIRM_STATUSES
from kizuna.report.html import CUSTODY_GATE_M, REPORT_SECTIONS, write_report
from kizuna.simulation import run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
DURATION_S = 300.0
"""Long enough for the first ballistic missiles (launched from 200 s) to be tracked, lost and held."""
TABLES = ("custody", "custody-intervals", "custody-phases", "gospa-mean", "siap", "links")


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
        return table_frame(self.headers[table_id], self.tables[table_id])


def make_recording(tmp: Path) -> Path:
    """The small scenario's recording (the demo, shortened), shared with the browser test."""
    out = tmp / "rec"
    run(loaded(small_scenario(tmp, duration_s=DURATION_S, civil_count=50)), out)
    return out


def table_frame(headers: list[str], rows: list[list[tuple[str | None, str]]]) -> pd.DataFrame:
    """A table as a frame: the data-value where a cell has one (as float), else its text."""
    values = [[float(v) if v is not None else text for v, text in row] for row in rows]
    return pd.DataFrame(values, columns=headers)


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_recording(tmp_path_factory.mktemp("report"))


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


def check_custody(recording: Path, got: pd.DataFrame) -> None:
    expected = pd.read_parquet(recording / "custody.parquet")
    assert len(got) == len(expected)
    key = ["target_id", "nation", "picture"]
    merged = got.merge(expected, on=key, suffixes=("_got", ""), validate="one_to_one")
    assert len(merged) == len(expected)
    for column in ("first_time_s", "first_detection_time_s", "first_confirmed_time_s", "held_fraction"):
        assert_same(merged[f"{column}_got"], merged[column])
    for column in ("n_breaks", "n_id_switches"):
        assert_same(merged[f"{column}_got"], merged[column])


def check_gospa(recording: Path, got: pd.DataFrame) -> None:
    gospa = pd.read_parquet(recording / "gospa.parquet")
    got = got.set_index("nation")
    expected = gospa.groupby(["nation", "picture"])["gospa_m"].mean().unstack("picture")
    assert sorted(got.index) == sorted(expected.index)
    for picture in ("own", "coalition"):
        assert_same(got[picture], expected.loc[got.index, picture])


def check_siap(recording: Path, got: pd.DataFrame) -> None:
    expected = pd.read_parquet(recording / "siap.parquet")
    assert list(got[["nation", "picture"]].itertuples(index=False)) == list(
        expected[["nation", "picture"]].itertuples(index=False)
    )
    assert "commonality" in got.columns
    for column in expected.columns.drop(["nation", "picture"]):
        assert_same(got[column], expected[column])


def check_links(recording: Path, got: pd.DataFrame) -> None:
    messages = pd.read_parquet(recording / "messages.parquet")
    got = got.set_index(["sender", "receiver"])
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


def _step_s(recording: Path) -> float:
    return float(json.loads((recording / "scenario.json").read_text(encoding="utf-8"))["scenario"]["step_s"])


def check_intervals(recording: Path, got: pd.DataFrame) -> None:
    """The held intervals add up to custody.parquet's held_fraction and agree with its other columns.

    Independently of the report: the number of samples per threat and per phase comes from
    truth.parquet, and at each interval's first step a firm track of that picture lies within the
    custody gate of the threat.
    """
    custody = pd.read_parquet(recording / "custody.parquet").set_index(["target_id", "nation", "picture"])
    truth = pd.read_parquet(recording / "truth.parquet")
    threats = truth[truth["affiliation"] == "hostile"]
    n_samples = threats.groupby("target_id").size()
    step = _step_s(recording)
    assert len(got) > 0, "the recording should hold some threat for a while"
    assert set(got["picture"]) <= {"own", "coalition"}
    for key, row in custody.iterrows():
        target, nation, picture = key
        one = got[(got.target_id == target) & (got.nation == nation) & (got.picture == picture)]
        one = one.sort_values("start_s")
        n = int(n_samples[target])
        # total held steps / steps of flight == held_fraction, exactly; and the same in seconds
        assert one["n_steps"].sum() / n == row["held_fraction"], key
        duration = float((one["end_s"] - one["start_s"]).sum())
        assert duration / (n * step) == pytest.approx(row["held_fraction"], rel=1e-12, abs=1e-15)
        np.testing.assert_allclose(one["end_s"] - one["start_s"], one["n_steps"] * step, rtol=1e-12)
        if one.empty:
            assert np.isnan(row["first_confirmed_time_s"])
            continue
        # within the flight, in order, not overlapping, not touching (a gap is a break)
        assert one["start_s"].iloc[0] >= row["first_time_s"]
        assert one["end_s"].iloc[-1] <= row["last_time_s"] + step
        assert (one["start_s"].to_numpy()[1:] > one["end_s"].to_numpy()[:-1]).all()
        assert one["start_s"].iloc[0] == row["first_confirmed_time_s"]
        ends_with_life = one["end_s"].iloc[-1] == row["last_time_s"] + step
        assert len(one) - int(ends_with_life) == row["n_breaks"]
        # a firm track of the picture within the gate at each interval's first step
        table = f"tracks_{nation}" if picture == "own" else f"picture_{nation}"
        tracks = pd.read_parquet(recording / f"{table}.parquet")
        tracks = tracks[tracks["status"].isin(FIRM_STATUSES)]
        for start in one["start_s"]:
            at = tracks[tracks.time_s == start][["x_m", "y_m", "z_m"]].to_numpy()
            where = threats[(threats.target_id == target) & (threats.time_s == start)]
            d = np.linalg.norm(at - where[["x_m", "y_m", "z_m"]].to_numpy(), axis=1)
            assert d.min() < CUSTODY_GATE_M


def check_phases(recording: Path, got: pd.DataFrame) -> None:
    """Per-phase held fractions, weighted by each phase's samples in truth, give back held_fraction."""
    custody = pd.read_parquet(recording / "custody.parquet")
    truth = pd.read_parquet(recording / "truth.parquet")
    counts = truth[truth["affiliation"] == "hostile"].groupby(["target_id", "phase"]).size().unstack()
    phases = [c for c in got.columns if c not in ("target_id", "kind", "nation", "picture")]
    assert set(phases) == set(counts.columns)
    merged = got.merge(custody, on=["target_id", "nation", "picture"], validate="one_to_one")
    assert len(merged) == len(custody)
    for _, row in merged.iterrows():
        n = counts.loc[row["target_id"]]
        for phase in phases:
            assert np.isnan(row[phase]) == (np.isnan(n[phase]) or n[phase] == 0)
        held = sum(row[p] * n[p] for p in phases if np.isfinite(row[p]))
        assert held / n.sum() == pytest.approx(row["held_fraction"], rel=1e-12, abs=1e-15)


CHECKS = {
    "custody": check_custody,
    "custody-intervals": check_intervals,
    "custody-phases": check_phases,
    "gospa-mean": check_gospa,
    "siap": check_siap,
    "links": check_links,
}
assert tuple(CHECKS) == TABLES


@pytest.mark.parametrize("table", TABLES)
def test_table_equals_recomputation_from_parquet(recording: Path, parsed: _ReportParser, table: str) -> None:
    CHECKS[table](recording, parsed.frame(table))


def test_timeline_is_built_from_held_intervals_not_first_firm_track(
    recording: Path, parsed: _ReportParser
) -> None:
    """A threat lost before the end of its life shows a gap: less than first firm track to the end."""
    intervals = parsed.frame("custody-intervals")
    custody = pd.read_parquet(recording / "custody.parquet")
    step = _step_s(recording)
    broken = custody[(custody["n_breaks"] > 0) & (custody["held_fraction"] > 0)]
    assert len(broken) > 0, "the small scenario should lose some threat for a while"
    for row in broken.itertuples():
        one = intervals[
            (intervals.target_id == row.target_id)
            & (intervals.nation == row.nation)
            & (intervals.picture == row.picture)
        ]
        assert (one["end_s"] - one["start_s"]).sum() < row.last_time_s + step - row.first_confirmed_time_s


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
