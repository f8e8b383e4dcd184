"""Variants: the scenario changed in one named way, to compare architectures.

``no-sharing`` is built in (no nation releases anything: national pictures only); a scenario's
``[[variants]]`` name others — sensors dropped, a nation's release rules removed, links degraded
(`kizuna.scenario.schema.Variant`). `apply_variant` returns a new, validated `LoadedScenario`;
the original is untouched.
"""

from __future__ import annotations

from dataclasses import replace

from kizuna.scenario.loader import LoadedScenario
from kizuna.scenario.schema import Link, Scenario, Variant

__all__ = ["BUILT_IN", "apply_variant", "variant_names"]

BUILT_IN = {
    "no-sharing": Variant(name="no-sharing", description="No nation releases anything.", no_sharing=True),
}


def variant_names(s: Scenario) -> list[str]:
    """Every variant a run can take: the built-in ones, then the scenario's."""
    return [*BUILT_IN, *(v.name for v in s.variants)]


def _changed_link(link: Link, variant: Variant) -> Link:
    data = link.model_dump()
    for change in variant.links:
        if change.nations is not None and set(change.nations) != set(link.nations):
            continue
        data["latency_s"] *= change.latency_factor
        data["jitter_s"] *= change.latency_factor
        data["bandwidth_bps"] *= change.bandwidth_factor
        if change.loss is not None:
            data["loss"] = change.loss
        data["outages"] = [*data["outages"], *(o.model_dump() for o in change.outages)]
    return Link.model_validate(data)


def apply_variant(loaded: LoadedScenario, name: str) -> LoadedScenario:
    """The scenario as variant ``name`` makes it; ValueError naming the choices if there is none."""
    s = loaded.scenario
    variant = BUILT_IN.get(name) or next((v for v in s.variants if v.name == name), None)
    if variant is None:
        raise ValueError(f"no variant {name!r} in {loaded.source.name} (variants: {variant_names(s)})")
    data = s.model_dump()
    dropped = set(variant.drop_sensors)
    kept = [model.id not in dropped for model in s.sensors]
    data["sensors"] = [x for x, keep in zip(data["sensors"], kept, strict=True) if keep]
    if variant.no_sharing:
        data["release"] = []
    else:
        data["release"] = [r for r in data["release"] if r["nation"] not in set(variant.drop_release)]
    data["network"]["links"] = [_changed_link(link, variant).model_dump() for link in s.network.links]
    data["name"] = f"{s.name} [{variant.name}]"
    changed = Scenario.model_validate(data)
    return replace(loaded, scenario=changed)
