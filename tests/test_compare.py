"""`kizuna compare`: baseline and variants in worker processes, one comparison page equal to the Parquet.

One small scenario (a few threats, two ballistic missiles launched early so the pictures hold
something) runs as baseline + no-sharing + degraded-links (a scenario variant) in 2 processes; a
fourth run, no-leo, is made to fail (its folder is a file) and must not cost the others. Numbers
are compared exactly through each cell's `data-value`, recomputed here with pandas.
"""

from __future__ import annotations

import base64
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tomli_w
from test_report import PNG_MAGIC, _ReportParser, assert_same
from test_simulation import small_scenario
from typer.testing import CliRunner

from kizuna.cli import app
from kizuna.report.compare import COMPARISON_SECTIONS, HEADLINE, RunResult, write_comparison

RUNS = ["baseline", "no-sharing", "degraded-links"]
FAILING = "no-leo"


def compare_scenario(tmp: Path) -> Path:
    """The demo cut to 160 s with two short-range ballistic missiles launched at 10 s and 30 s."""
    path = small_scenario(tmp, duration_s=160.0, civil_count=10)
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    launch = {"red-bomber-1": None, "red-bm-1": 10.0, "red-bm-3": 30.0}
    data["targets"] = [t for t in data["targets"] if t["id"] in launch]
    for target in data["targets"]:
        if launch[target["id"]] is not None:
            target["launch_s"] = launch[target["id"]]
    path.write_bytes(tomli_w.dumps(data).encode("utf-8"))
    return path


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, int]:
    tmp = tmp_path_factory.mktemp("compare")
    out = tmp / "cmp"
    out.mkdir()
    (out / FAILING).write_text("in the way", encoding="utf-8")  # the no-leo run cannot make its folder
    args = ["compare", str(compare_scenario(tmp)), "--out", str(out), "--jobs", "2"]
    for name in [*RUNS[1:], FAILING]:
        args += ["--variant", name]
    result = CliRunner().invoke(app, args)
    return out, result.output, result.exit_code


@pytest.fixture(scope="module")
def parsed(compared: tuple[Path, str, int]) -> _ReportParser:
    parser = _ReportParser()
    parser.feed((compared[0] / "comparison.html").read_text(encoding="utf-8"))
    parser.close()
    return parser


def _read(out: Path, run: str, table: str) -> pd.DataFrame:
    return pd.read_parquet(out / run / f"{table}.parquet")


@pytest.mark.slow
def test_runs_finish_and_the_failed_one_is_reported(
    compared: tuple[Path, str, int], parsed: _ReportParser
) -> None:
    out, output, code = compared
    assert code == 1, output
    assert f"run {FAILING} failed" in output
    for run in RUNS:
        assert (out / run / "report.html").is_file() and (out / run / "custody.parquet").is_file()
    assert parsed.sections == list(COMPARISON_SECTIONS)
    runs = parsed.frame("runs").set_index("run")
    assert list(runs.index) == [*RUNS, FAILING]
    assert (runs.loc[RUNS, "status"] == "ok").all() and runs.loc[FAILING, "status"] == "failed"
    assert runs.loc[FAILING, "error"] != "" and (runs.loc[RUNS, "error"] == "").all()
    assert "USA-leo-ir" in runs.loc[FAILING, "changes"]
    assert runs.loc["no-sharing", "n_release_rules"] == 0 < runs.loc["baseline", "n_release_rules"]
    assert str(out / "comparison.html") in output.replace("\n", "")


@pytest.mark.slow
def test_images_are_inline_pngs_and_nothing_is_external(
    compared: tuple[Path, str, int], parsed: _ReportParser
) -> None:
    assert len(parsed.images) == 2  # custody bars, coalition GOSPA over time
    for src in parsed.images:
        prefix = "data:image/png;base64,"
        assert src.startswith(prefix)
        assert base64.b64decode(src[len(prefix) :], validate=True).startswith(PNG_MAGIC)
    text = (compared[0] / "comparison.html").read_text(encoding="utf-8")
    for bad in ("http://", "https://", 'src="/', "<script", "<link", "url("):
        assert bad not in text
    assert not any(v.startswith(("http:", "https:", "/", "file:")) for v in parsed.attribute_values)


@pytest.mark.slow
def test_custody_table_equals_each_runs_custody(
    compared: tuple[Path, str, int], parsed: _ReportParser
) -> None:
    out = compared[0]
    got = parsed.frame("custody").set_index(["target_id", "nation"])
    for run in RUNS:
        custody = _read(out, run, "custody")
        expected = custody[custody["picture"] == "coalition"].set_index(["target_id", "nation"])
        assert sorted(got.index) == sorted(expected.index)
        for measure in ("held_fraction", "first_confirmed_time_s"):
            assert_same(got[f"{measure}:{run}"], expected.loc[got.index, measure])
    assert f"held_fraction:{FAILING}" not in got.columns
    assert got[f"held_fraction:{RUNS[0]}"].max() > 0.5  # the scenario does hold its missiles


@pytest.mark.slow
def test_gospa_table_equals_means_of_each_runs_gospa(
    compared: tuple[Path, str, int], parsed: _ReportParser
) -> None:
    got = parsed.frame("gospa-mean").set_index(["nation", "picture"])
    for run in RUNS:
        expected = _read(compared[0], run, "gospa").groupby(["nation", "picture"])["gospa_m"].mean()
        assert sorted(got.index) == sorted(expected.index)
        assert_same(got[f"gospa_m:{run}"], expected.loc[got.index])


@pytest.mark.slow
def test_siap_table_equals_each_runs_siap(compared: tuple[Path, str, int], parsed: _ReportParser) -> None:
    got = parsed.frame("siap")
    assert set(got["run"]) == set(RUNS)
    for run in RUNS:
        expected = _read(compared[0], run, "siap").set_index(["nation", "picture"])
        mine = got[got["run"] == run].set_index(["nation", "picture"])
        assert sorted(mine.index) == sorted(expected.index)
        for column in ("completeness", "spuriousness", "ambiguity", "position_accuracy_m", "commonality"):
            assert_same(mine[column], expected.loc[mine.index, column])


@pytest.mark.slow
def test_network_table_equals_each_runs_messages(
    compared: tuple[Path, str, int], parsed: _ReportParser
) -> None:
    got = parsed.frame("network").set_index("run")
    assert list(got.index) == RUNS
    for run in RUNS:
        m = _read(compared[0], run, "messages")
        row = got.loc[run]
        assert row["sent"] == len(m) and row["bytes"] == m["n_bytes"].sum()
        assert row["delivered"] == (m["fate"] == "delivered").sum()
        assert row["lost"] == (m["fate"] != "delivered").sum()
        assert row["accepted"] == (m["outcome"] == "accepted").sum()
        assert row["rejected"] == (m["outcome"] == "rejected").sum()
    assert got.loc["no-sharing", "sent"] == 0 < got.loc["baseline", "sent"]
    assert got.loc["degraded-links", "lost"] > got.loc["baseline", "lost"]  # 20 % loss


@pytest.mark.slow
def test_delta_is_variant_minus_baseline(compared: tuple[Path, str, int], parsed: _ReportParser) -> None:
    out = compared[0]
    got = parsed.frame("delta").set_index("run")
    assert list(got.index) == RUNS
    expected = {}
    for run in RUNS:
        custody, gospa, siap = (_read(out, run, t) for t in ("custody", "gospa", "siap"))
        row = siap[(siap["nation"] == "coalition") & (siap["picture"] == "coalition")]
        expected[run] = {
            "custody": custody.loc[custody["picture"] == "coalition", "held_fraction"].mean(),
            "gospa_m": gospa.loc[gospa["picture"] == "coalition", "gospa_m"].mean(),
            "completeness": row["completeness"].iloc[0],
        }
    for run in RUNS:
        for m in HEADLINE:
            assert got.loc[run, m] == expected[run][m]
            assert got.loc[run, f"{m}_delta"] == expected[run][m] - expected["baseline"][m]
    # what sharing buys: without it, custody falls
    assert got.loc["no-sharing", "custody_delta"] < 0


@pytest.mark.slow
def test_no_sharing_coalition_custody_is_own_sensor_custody(compared: tuple[Path, str, int]) -> None:
    custody = _read(compared[0], "no-sharing", "custody")
    key = ["nation", "target_id"]
    own = custody[custody["picture"] == "own"].set_index(key).sort_index()
    coalition = custody[custody["picture"] == "coalition"].set_index(key).sort_index()
    assert list(own.index) == list(coalition.index)
    for column in ("held_fraction", "first_confirmed_time_s", "n_breaks"):
        assert_same(coalition[column], own[column])
    baseline = _read(compared[0], "baseline", "custody")
    shared = baseline[baseline["picture"] == "coalition"].set_index(key).sort_index()
    assert (shared["held_fraction"] >= coalition["held_fraction"]).all()


@pytest.mark.parametrize(
    ("variants", "message"),
    [
        (["no-such-thing"], "no variant 'no-such-thing'"),
        (["no-sharing", "no-sharing"], "more than once"),
        (["baseline"], "always runs"),
    ],
)
def test_bad_variant_names_exit_2_before_anything_runs(
    tmp_path: Path, variants: list[str], message: str
) -> None:
    scenario = compare_scenario(tmp_path)
    args = ["compare", str(scenario), "--out", str(tmp_path / "cmp")]
    for name in variants:
        args += ["-v", name]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "cmp").exists()


def test_no_variant_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["compare", str(compare_scenario(tmp_path))])
    assert result.exit_code == 2 and "at least one variant" in result.output


def _fake_recording(folder: Path, scale: float) -> Path:
    """The tables write_comparison reads, small and made up."""
    folder.mkdir(parents=True)
    (folder / "scenario.json").write_text('{"scenario": {"name": "fake", "sensors": [{}], "release": []}}')
    pd.DataFrame(
        {
            "nation": ["USA", "USA"],
            "picture": ["own", "coalition"],
            "target_id": ["t1", "t1"],
            "kind": ["aircraft"] * 2,
            "first_time_s": [0.0, 0.0],
            "held_fraction": [0.25 * scale, 0.5 * scale],
            "first_confirmed_time_s": [np.nan, 4.0],
        }
    ).to_parquet(folder / "custody.parquet")
    pd.DataFrame(
        {"nation": ["USA"] * 4, "picture": ["own", "own", "coalition", "coalition"],
         "time_s": [0.0, 1.0, 0.0, 1.0], "gospa_m": [1e3, 2e3, 3e3 * scale, 5e3]}
    ).to_parquet(folder / "gospa.parquet")  # fmt: skip
    pd.DataFrame(
        {"nation": ["USA", "coalition"], "picture": ["coalition"] * 2, "completeness": [0.5, 0.5 * scale]}
    ).to_parquet(folder / "siap.parquet")
    pd.DataFrame(
        {
            "sender": ["USA"],
            "receiver": ["JPN"],
            "n_bytes": [100],
            "fate": ["lost"],
            "outcome": ["not-delivered"],
        }
    ).to_parquet(folder / "messages.parquet")
    return folder


def test_a_failed_run_is_listed_and_the_others_kept(tmp_path: Path) -> None:
    runs = {
        "baseline": _fake_recording(tmp_path / "baseline", 1.0),
        "broken": RunResult("broken", tmp_path / "broken", "broken", error="ValueError: <bad> & worse"),
        "half": _fake_recording(tmp_path / "half", 0.5),
    }
    page = write_comparison(runs, tmp_path / "comparison.html")
    text = page.read_text(encoding="utf-8")
    assert "ValueError: &lt;bad&gt; &amp; worse" in text and "<bad>" not in text
    parser = _ReportParser()
    parser.feed(text)
    assert parser.sections == list(COMPARISON_SECTIONS)
    status = parser.frame("runs").set_index("run")["status"]
    assert status.to_dict() == {"baseline": "ok", "broken": "failed", "half": "ok"}
    delta = parser.frame("delta").set_index("run")
    assert list(delta.index) == ["baseline", "half"]
    assert delta.loc["half", "custody_delta"] == 0.25 - 0.5
    assert delta.loc["half", "gospa_m_delta"] == (1.5e3 + 5e3) / 2 - (3e3 + 5e3) / 2
    assert delta.loc["half", "completeness_delta"] == 0.25 - 0.5
    assert parser.frame("network").set_index("run").loc["half", "lost"] == 1


def test_a_failed_baseline_leaves_no_delta(tmp_path: Path) -> None:
    runs = {
        "baseline": RunResult("baseline", tmp_path / "nowhere", error="OSError: disk full"),
        "other": _fake_recording(tmp_path / "other", 1.0),
    }
    text = write_comparison(runs, tmp_path / "c.html").read_text(encoding="utf-8")
    assert "did not finish" in text and "OSError: disk full" in text
