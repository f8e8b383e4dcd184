"""Scenario files: the example loads; broken files give every problem at once with key paths."""

from __future__ import annotations

import copy
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from kizuna.cli import app
from kizuna.scenario import ScenarioError, load_scenario, parse_scenario
from kizuna.scenario.loader import effective_region
from kizuna.scenario.reference import render_reference

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "indo-pacific.toml"


def example_data() -> dict[str, Any]:
    return tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))


def problems_of(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data, source="test.toml")
    return {p.path: p.message for p in info.value.problems}


def test_example_loads_with_every_part() -> None:
    s = load_scenario(EXAMPLE).scenario
    assert {n.code for n in s.nations} == {"USA", "JPN", "AUS"}
    assert {x.kind for x in s.sensors} == {"radar", "ship_radar", "oth_radar", "space_ir"}
    assert {t.kind for t in s.targets} == {"aircraft", "cruise_missile", "ballistic_missile", "glide_vehicle"}
    assert s.epoch.utcoffset() is not None and s.epoch.utcoffset().total_seconds() == 0
    assert s.civil_traffic is not None and s.civil_traffic.count == 200


def test_broken_file_reports_every_problem_with_key_paths() -> None:
    data = example_data()
    data["duration_s"] = -5.0  # negative duration
    data["sensors"][3]["max_range_m"] = "far"  # wrong type
    data["sensors"][0]["max_rnge_m"] = 1.0  # unknown key (typo)
    del data["sensors"][1]["revisit_s"]  # missing field
    data["epoch"] = "2027-02-30T00:00:00Z"  # bad date
    found = problems_of(data)
    assert "duration_s" in found and "greater than 0" in found["duration_s"]
    assert "sensors[3].max_range_m" in found and "'far'" in found["sensors[3].max_range_m"]
    assert "did you mean 'max_range_m'" in found["sensors[0].max_rnge_m"]
    assert found["sensors[1].revisit_s"] == "required key is missing"
    assert "epoch" in found
    assert len(found) == 5


def test_naive_epoch_shows_the_fix() -> None:
    data = example_data()
    data["epoch"] = "2027-03-01T02:00:00"
    message = problems_of(data)["epoch"]
    assert "no timezone" in message and "Z" in message


def test_unknown_kind_and_missing_kind() -> None:
    data = example_data()
    data["sensors"][0]["kind"] = "radr"
    del data["targets"][2]["kind"]
    found = problems_of(data)
    assert "unknown kind 'radr'" in found["sensors[0].kind"]
    assert "kind" in found["targets[2]"]


def test_cross_references_are_checked_together() -> None:
    data = example_data()
    data["sensors"][0]["nation"] = "FRA"  # not a declared nation
    data["sensors"][5]["constellation"] = "nope"  # the space_ir sensor
    data["constellations"][0]["planes"] = 5  # 28 is not divisible by 5
    data["targets"][1]["id"] = data["targets"][0]["id"]  # duplicate id
    data["civil_traffic"]["routes"][0] = ["HND", "XXX"]  # unknown airport
    data["network"]["links"][0]["nations"] = ["USA", "USA"]
    data["sensors"][0]["elevation_max_deg"] = 0.1  # below elevation_min_deg = 0.5
    found = problems_of(data)
    assert "FRA" in found["sensors[0].nation"]
    assert "nope" in found["sensors[5].constellation"]
    assert "must divide total" in found["constellations[0].planes"]
    assert "used more than once" in found["targets[1]"]
    assert "XXX" in found["civil_traffic.routes[0][1]"]
    assert "two different nations" in found["network.links[0].nations"]
    assert "elevation_min_deg" in found["sensors[0].elevation_max_deg"]


def test_missing_tle_file_is_a_scenario_error(tmp_path: Path) -> None:
    data = example_data()
    data["constellations"].append({"kind": "tle", "id": "extra", "nation": "JPN", "file": "missing.tle"})
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data, source="t.toml", base_dir=tmp_path)
    assert any(p.path == "constellations[1].file" and "not found" in p.message for p in info.value.problems)


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nduration_s = = 3\n', encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(bad)
    assert "line 2" in str(info.value)


def test_validate_command_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["validate", str(EXAMPLE)])
    assert ok.exit_code == 0, ok.output
    text = EXAMPLE.read_text(encoding="utf-8").replace("duration_s = 1800.0", "duration_s = -1800.0")
    text = text.replace('name = "Japan"', 'name = "Japan"\ncapital = "Tokyo"')
    bad = tmp_path / "bad.toml"
    bad.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 2
    assert "2 problems" in result.output
    assert "nations[1].capital" in result.output and "duration_s" in result.output


def test_console_script_prints_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("name = 3\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "kizuna", "validate", str(bad)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "epoch: required key is missing" in proc.stderr


_PATHS = st.sampled_from(
    [
        ("duration_s",),
        ("epoch",),
        ("sensors", 0, "site", "lat_deg"),
        ("sensors", 4, "route"),
        ("sensors", 5, "field_of_regard_deg"),
        ("constellations", 0, "total"),
        ("targets", 0, "waypoints"),
        ("targets", 6, "launch"),
        ("civil_traffic", "routes"),
        ("network", "links", 1, "outages"),
        ("release", 0, "to"),
        ("nations",),
    ]
)
_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=_PATHS, value=_VALUES, delete=st.booleans())
def test_mutated_scenarios_never_crash(path: tuple[Any, ...], value: Any, delete: bool) -> None:
    data = copy.deepcopy(example_data())
    node: Any = data
    for key in path[:-1]:
        node = node[key]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    problems = []
    try:
        parse_scenario(data, source="mutant.toml")
    except ScenarioError as exc:  # the only exception a bad scenario may raise
        problems = exc.problems
        assert problems
    assert all(isinstance(p.path, str) and p.message for p in problems)


def test_region_derived_from_contents_crosses_the_antimeridian() -> None:
    data = example_data()
    del data["region"]
    data["targets"][0]["waypoints"][0]["lon_deg"] = 179.0
    data["targets"][0]["waypoints"][1]["lon_deg"] = -179.0
    region = effective_region(parse_scenario(data))
    assert region.lon_max_deg > 180.0  # unwrapped, not a box around the whole world
    assert region.lon_max_deg - region.lon_min_deg < 120.0
    assert region.lat_min_deg < -33.95 < region.lat_max_deg  # Sydney airport inside


def test_reference_doc_is_generated_from_the_schema() -> None:
    committed = (ROOT / "docs" / "scenario-reference.md").read_text(encoding="utf-8")
    assert committed == render_reference(), "run: kizuna schema-doc --out docs/scenario-reference.md"


def test_impossible_sensor_parameters_are_scenario_errors(tmp_path: Path) -> None:
    data = example_data()
    data["sensors"][0]["sigma_range_m"] = -50.0  # negative sigma
    data["sensors"][1]["elevation_max_deg"] = 95.0  # beyond the zenith
    data["sensors"][5]["field_of_regard_deg"] = 200.0  # a cone wider than a hemisphere
    data["sensors"][6]["sigma_azimuth_deg"] = 0.0  # a perfect sensor does not exist
    bad_tle = tmp_path / "bad.tle"
    bad_tle.write_text(
        "1 25544U 98067A   08264.51782528 -.00002182  00000-0 -11606-4 0  2927\n", encoding="utf-8"
    )
    data["constellations"].append({"kind": "tle", "id": "bad", "nation": "JPN", "file": "bad.tle"})
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data, source="t.toml", base_dir=tmp_path)
    found = {p.path: p.message for p in info.value.problems}
    assert "greater than 0" in found["sensors[0].sigma_range_m"]
    assert "less than or equal to 90" in found["sensors[1].elevation_max_deg"]
    assert "less than or equal to 180" in found["sensors[5].field_of_regard_deg"]
    assert "greater than 0" in found["sensors[6].sigma_azimuth_deg"]
    assert len(found) == 4  # schema errors come first; the TLE file is checked once they are fixed
    del data["sensors"]
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data, source="t.toml", base_dir=tmp_path)
    assert any(
        p.path == "constellations[1].file" and "does not parse" in p.message for p in info.value.problems
    )
