"""Variants: the scenario changed one named way, checked and applied without touching the original."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from kizuna.scenario import LoadedScenario, ScenarioError, load_scenario, parse_scenario
from kizuna.scenario.variants import apply_variant, variant_names

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "indo-pacific.toml"


@pytest.fixture(scope="module")
def demo() -> LoadedScenario:
    return load_scenario(EXAMPLE)


def test_the_demo_names_its_variants(demo: LoadedScenario) -> None:
    assert variant_names(demo.scenario) == ["no-sharing", "no-leo", "degraded-links", "no-aus-sharing"]


def test_no_sharing_removes_every_release_rule_and_nothing_else(demo: LoadedScenario) -> None:
    v = apply_variant(demo, "no-sharing").scenario
    assert v.release == [] and demo.scenario.release
    assert v.sensors == demo.scenario.sensors and v.network == demo.scenario.network


def test_no_leo_drops_the_layer(demo: LoadedScenario) -> None:
    v = apply_variant(demo, "no-leo").scenario
    assert {x.id for x in demo.scenario.sensors} - {x.id for x in v.sensors} == {"USA-leo-ir"}


def test_degraded_links_scale_latency_and_set_loss(demo: LoadedScenario) -> None:
    v = apply_variant(demo, "degraded-links").scenario
    for before, after in zip(demo.scenario.network.links, v.network.links, strict=True):
        assert after.latency_s == pytest.approx(3 * before.latency_s)
        assert after.jitter_s == pytest.approx(3 * before.jitter_s)
        assert after.loss == 0.2 and after.bandwidth_bps == before.bandwidth_bps
        assert after.outages == before.outages


def test_dropping_a_nations_rules(demo: LoadedScenario) -> None:
    v = apply_variant(demo, "no-aus-sharing").scenario
    assert all(r.nation != "AUS" for r in v.release)
    assert len(v.release) == len([r for r in demo.scenario.release if r.nation != "AUS"])


def test_unknown_variant_names_the_choices(demo: LoadedScenario) -> None:
    with pytest.raises(ValueError, match="no-leo"):
        apply_variant(demo, "no-such-thing")


def test_bad_variants_are_scenario_errors() -> None:
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    data["variants"] = [
        {"name": "no-sharing"},
        {"name": "x", "drop_sensors": ["USA-nowhere"], "drop_release": ["FRA"]},
        {"name": "x"},
    ]
    with pytest.raises(ScenarioError) as err:
        parse_scenario(data, source="v.toml")
    text = "\n".join(str(p) for p in err.value.problems)
    assert "variants[0].name" in text and "built in" in text
    assert "variants[1].drop_sensors[0]" in text and "USA-nowhere" in text
    assert "variants[1].drop_release[0]" in text
    assert "defined more than once" in text
