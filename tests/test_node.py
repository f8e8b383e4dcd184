"""Coalition nodes on the simulated bus: sharing, fusion, common numbers and release rules.

A small synthetic world: targets fly straight lines (air at 250 m/s and 10 km, missiles at 2 km/s
and 60 km); each nation has position sensors (ECEF fixes, 100 m) of chosen kinds that see chosen
targets. Nodes run their real trackers, seal and verify real signatures, and talk over the
`SimulatedBus`; nothing is mocked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kizuna import frames
from kizuna.constants import DEG
from kizuna.fusion.picture import NUMBER_BLOCK
from kizuna.network.bus import SimulatedBus
from kizuna.network.messages import CATEGORIES, SOURCE_BITS
from kizuna.network.release import ReleasePolicy
from kizuna.network.signing import keys_from_seed
from kizuna.node import Node, NodeSettings
from kizuna.scenario.schema import Link, Outage, ReleaseRule
from kizuna.sensors.detections import MEASUREMENT_KINDS, Z_MAX, DetectionBatch
from kizuna.tracking.tracker import surveillance_tracker

SIGMA_M = 100.0
KINDS = tuple(SOURCE_BITS)


@dataclass(frozen=True)
class Target:
    lat_deg: float
    lon_deg: float
    alt_m: float
    heading_deg: float
    speed_m_per_s: float

    def state(self, t_s: float) -> np.ndarray:
        pos0 = frames.geodetic_to_ecef(self.lat_deg * DEG, self.lon_deg * DEG, self.alt_m)
        lat, lon = self.lat_deg * DEG, self.lon_deg * DEG
        east = np.array([-np.sin(lon), np.cos(lon), 0.0])
        north = np.array([-np.sin(lat) * np.cos(lon), -np.sin(lat) * np.sin(lon), np.cos(lat)])
        h = self.heading_deg * DEG
        vel = self.speed_m_per_s * (np.sin(h) * east + np.cos(h) * north)
        return np.concatenate([np.asarray(pos0).reshape(3) + vel * t_s, vel])


def air(i: int) -> Target:
    return Target(30.0 + 0.5 * i, 135.0 + 0.3 * i, 10_000.0, 45.0 * i, 250.0)


def missile(i: int) -> Target:
    return Target(25.0 + 0.5 * i, 130.0 + 0.4 * i, 60_000.0, 90.0 + 20.0 * i, 2_000.0)


def detections(
    t_s: float, sensor_id: str, targets: list[Target], rng: np.random.Generator, first_id: int
) -> DetectionBatch:
    m = len(targets)
    z = np.full((m, Z_MAX), np.nan)
    cov = np.full((m, Z_MAX, Z_MAX), np.nan)
    for i, target in enumerate(targets):
        z[i, :3] = target.state(t_s)[:3] + rng.normal(0.0, SIGMA_M, 3)
        cov[i, :3, :3] = np.eye(3) * SIGMA_M**2
    return DetectionBatch(
        detection_id=np.arange(first_id, first_id + m, dtype=np.int64),
        time_s=np.full(m, t_s),
        sensor_id=np.full(m, sensor_id, dtype=object),
        kind=np.full(m, MEASUREMENT_KINDS.index("position"), dtype=np.int8),
        z=z,
        cov=cov,
        sensor_pos_m=np.zeros((m, 3)),
        sensor_vel_m_per_s=np.zeros((m, 3)),
    )


@dataclass
class Coalition:
    nodes: dict[str, Node]
    bus: SimulatedBus
    # per nation: (sensor id, kind, targets it sees)
    sensors: dict[str, list[tuple[str, str, list[int]]]]
    targets: list[Target]

    def run(self, steps: int, seed: int = 1, dt_s: float = 1.0) -> list[dict[str, object]]:
        return self.run_from(0, steps, seed, dt_s)

    def run_from(self, first: int, last: int, seed: int = 1, dt_s: float = 1.0) -> list[dict[str, object]]:
        """Steps ``first`` … ``last − 1``; detections are drawn per step, so the same step gives
        the same detections whether or not the run was split."""
        out = []
        for k in range(first, last):
            rng = np.random.default_rng([seed, k])
            next_id = 100_000 * k
            t = k * dt_s
            pictures = {}
            for nation, node in self.nodes.items():
                parts = []
                for sensor_id, _, seen in self.sensors[nation]:
                    parts.append(detections(t, sensor_id, [self.targets[i] for i in seen], rng, next_id))
                    next_id += len(seen)
                pictures[nation] = node.step(DetectionBatch.concatenate(parts), t)
            out.append(pictures)
        return out


def coalition(
    nations: list[str],
    rules: list[ReleaseRule],
    sensors: dict[str, list[tuple[str, str, list[int]]]],
    targets: list[Target],
    *,
    links: list[Link] | None = None,
    seed: int = 3,
    reporting_responsibility: bool = True,
) -> Coalition:
    if links is None:
        links = [Link(nations=(a, b), latency_s=0.05, jitter_s=0.01) for i, a in enumerate(nations)
                 for b in nations[i + 1 :]]  # fmt: skip
    bus = SimulatedBus(links, seed)
    signing, verify = keys_from_seed(seed, nations)
    policy = ReleasePolicy(nations, rules)
    bits = {sid: SOURCE_BITS[kind] for n in nations for sid, kind, _ in sensors.get(n, [])}
    settings = NodeSettings(reporting_responsibility=reporting_responsibility)
    nodes = {
        n: Node(n, nations, policy, bus, signing[n], verify, settings=settings,
                tracker=surveillance_tracker(source_bits=bits))
        for n in nations
    }  # fmt: skip
    return Coalition(nodes, bus, {n: sensors.get(n, []) for n in nations}, targets)


def numbers_near(picture, targets: list[Target], t_s: float, gate_m: float = 2_000.0) -> dict[int, int]:
    """Target index → the system number of the picture's track nearest to it (within the gate)."""
    out = {}
    for i, target in enumerate(targets):
        if len(picture) == 0:
            continue
        d = np.linalg.norm(picture.x[:, :3] - target.state(t_s)[:3], axis=1)
        j = int(np.argmin(d))
        if d[j] < gate_m:
            out[i] = int(picture.number[j])
    return out


def test_sharing_gives_a_partner_what_it_cannot_see_with_common_numbers() -> None:
    targets = [air(0), air(1), air(2), missile(0)]
    sensors = {
        "USA": [("USA-r1", "radar", [0, 1, 3])],
        "JPN": [("JPN-r1", "radar", [1, 2, 3])],
        "AUS": [],
    }
    rules = [ReleaseRule(nation="USA", to=["JPN", "AUS"]), ReleaseRule(nation="JPN", to=["USA", "AUS"])]
    c = coalition(["USA", "JPN", "AUS"], rules, sensors, targets)
    history = c.run(12)
    last = history[-1]
    t = 11.0
    held = {n: numbers_near(last[n], targets, t) for n in c.nodes}
    # AUS has no sensor but holds every target through its partners
    assert set(held["AUS"]) == {0, 1, 2, 3}
    # one system track per object in every picture, and the same number everywhere
    for n in c.nodes:
        assert len(last[n]) == 4, n
    for i in range(4):
        assert held["USA"][i] == held["JPN"][i] == held["AUS"][i], i
    # shared objects are fused from both nations; the pedigree says so
    usa = last["USA"]
    both = usa.pedigree.astype(bool).sum(axis=1)
    j1 = int(np.flatnonzero(usa.number == held["USA"][1])[0])
    assert both[j1] == 2
    # the nodes sign, and every message that arrived was accepted
    for node in c.nodes.values():
        assert sum(node.verifier.rejected.values()) == 0
        assert len(node.received) > 0 or node.nation == "USA"


def test_fused_track_is_no_worse_than_either_source_and_stays_consistent() -> None:
    targets = [air(1)]
    sensors = {"USA": [("USA-r1", "radar", [0])], "JPN": [("JPN-r1", "radar", [0])]}
    rules = [ReleaseRule(nation="USA", to=["JPN"]), ReleaseRule(nation="JPN", to=["USA"])]
    c = coalition(["USA", "JPN"], rules, sensors, targets, reporting_responsibility=False)
    history = c.run(20)
    pic = history[-1]["JPN"]
    assert len(pic) == 1 and pic.n_sources[0] == 2
    local = c.nodes["JPN"].tracker.tracks_at(19.0)
    p_local = local["P"][0]
    assert np.trace(pic.P[0][:3, :3]) <= np.trace(p_local[:3, :3]) + 1e-6
    err = pic.x[0] - targets[0].state(19.0)
    assert err[:3] @ np.linalg.solve(pic.P[0][:3, :3], err[:3]) < 16.3  # χ²(3) at 99.9 %


def test_a_partition_heals_without_double_tracks_or_new_numbers() -> None:
    targets = [air(0), air(1)]
    sensors = {"USA": [("USA-r1", "radar", [0, 1])], "JPN": [("JPN-r1", "radar", [0, 1])]}
    rules = [ReleaseRule(nation="USA", to=["JPN"]), ReleaseRule(nation="JPN", to=["USA"])]
    links = [Link(nations=("USA", "JPN"), latency_s=0.05, outages=[Outage(start_s=8.0, end_s=30.0)])]
    c = coalition(["USA", "JPN"], rules, sensors, targets, links=links)
    history = c.run(45)
    before = {n: numbers_near(history[7][n], targets, 7.0) for n in c.nodes}
    during = {n: numbers_near(history[25][n], targets, 25.0) for n in c.nodes}
    after = {n: numbers_near(history[44][n], targets, 44.0) for n in c.nodes}
    assert before["USA"] == before["JPN"]
    # cut off, each keeps its picture with the numbers it had
    assert during["USA"] == before["USA"] and during["JPN"] == before["JPN"]
    # healed: still one system track per object, same numbers as before the cut
    assert after["USA"] == after["JPN"] == before["USA"]
    for n in c.nodes:
        assert len(history[44][n]) == 2
    outage = [d for d in c.bus.log if d.fate == "outage"]
    assert outage and all(8.0 - 1.0 < d.sent_s < 30.0 for d in outage)


def test_numbers_converge_to_the_one_more_partners_can_see() -> None:
    """JPN does not release aircraft to AUS; AUS releases everything. Both see aircraft 0: the
    number every holder can share is AUS's, and JPN adopts it."""
    targets = [air(0)]
    sensors = {"JPN": [("JPN-r1", "radar", [0])], "AUS": [("AUS-r1", "radar", [0])], "USA": []}
    rules = [
        ReleaseRule(nation="JPN", to=["USA"]),
        ReleaseRule(nation="JPN", to=["AUS"], categories=["missile"]),
        ReleaseRule(nation="AUS", to=["USA", "JPN"]),
    ]
    c = coalition(["USA", "JPN", "AUS"], rules, sensors, targets)
    history = c.run(15)
    held = {n: numbers_near(history[-1][n], targets, 14.0) for n in c.nodes}
    assert held["USA"][0] == held["JPN"][0] == held["AUS"][0]
    assert held["AUS"][0] // NUMBER_BLOCK == 3  # AUS's block: the third nation
    # AUS's picture has no JPN data
    aus = history[-1]["AUS"]
    assert not aus.pedigree[:, 1].any()


def brute_force_allowed(rules: list[ReleaseRule], sender: str, dest: str, category: str, bits: int) -> bool:
    """The release rules read literally, rule by rule (independent of the compiled table)."""
    if sender == dest:
        return True
    for kind, bit in SOURCE_BITS.items():
        if not bits & bit:
            continue
        if not any(
            r.nation == sender and dest in r.to
            and ("all" in r.categories or category in r.categories)
            and ("all" in r.sources or kind in r.sources)
            for r in rules
        ):  # fmt: skip
            return False
    return True


NATIONS = ["USA", "JPN", "AUS"]


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list[ReleaseRule], dict[str, list[tuple[str, str, list[int]]]]]:
    rules = []
    for nation in NATIONS:
        for _ in range(draw(st.integers(0, 2))):
            others = [n for n in NATIONS if n != nation]
            to = draw(st.lists(st.sampled_from(others), min_size=1, max_size=2, unique=True))
            cats = draw(st.lists(st.sampled_from(["all", *CATEGORIES]), min_size=1, max_size=2, unique=True))
            srcs = draw(st.lists(st.sampled_from(["all", *KINDS]), min_size=1, max_size=2, unique=True))
            rules.append(ReleaseRule(nation=nation, to=to, categories=cats, sources=srcs))
    sensors = {}
    for nation in NATIONS:
        sensors[nation] = []
        for k in range(draw(st.integers(0, 2))):
            kind = draw(st.sampled_from(KINDS))
            seen = draw(st.lists(st.integers(0, 3), min_size=1, max_size=4, unique=True))
            sensors[nation].append((f"{nation}-s{k}", kind, sorted(seen)))
    return rules, sensors


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_release_property_no_leaks(world: tuple[list[ReleaseRule], dict]) -> None:
    """Over random rules and sensor layouts: every track a nation receives, and every contributor
    in its picture, is one the rules clear for it — zero leaks."""
    rules, sensors = world
    targets = [air(0), air(1), missile(0), missile(1)]
    c = coalition(NATIONS, rules, sensors, targets)
    # Record what each node accepted, with the tracks it carried, by wrapping the bus receive.
    seen: list[tuple[str, str, str, int]] = []
    for node in c.nodes.values():
        original = node.take

        def take(data: bytes, now_s: float, node: Node = node, original=original) -> bool:
            opened = node.verifier.open(data, now_s)
            if opened is not None:
                tr = opened.tracks
                j = tr.nations.index(opened.message.sender)
                for cat, bits in zip(tr.category, tr.pedigree[:, j], strict=True):
                    seen.append((opened.message.sender, node.nation, CATEGORIES[cat], int(bits)))
                # hand the same bytes to the real path on a fresh replay state
                node.verifier._windows.pop(opened.message.sender, None)
            return original(data, now_s)

        node.take = take  # type: ignore[method-assign]
    history = c.run(8)
    for sender, dest, category, bits in seen:
        assert brute_force_allowed(rules, sender, dest, category, bits), (sender, dest, category, bits)
    for pictures in history:
        for dest, pic in pictures.items():
            d = NATIONS.index(dest)
            for row in pic.pedigree:
                for j, bits in enumerate(row):
                    if j != d and bits:
                        assert any(r.nation == NATIONS[j] and dest in r.to for r in rules)


@pytest.mark.parametrize(
    ("rule", "category", "bits", "expected"),
    [
        (ReleaseRule(nation="JPN", to=["USA"], sources=["radar"]), 0, SOURCE_BITS["radar"], True),
        (ReleaseRule(nation="JPN", to=["USA"], sources=["radar"]), 0, SOURCE_BITS["space_ir"], False),
        (ReleaseRule(nation="JPN", to=["USA"], sources=["radar"]),
         0, SOURCE_BITS["radar"] | SOURCE_BITS["oth_radar"], False),
        (ReleaseRule(nation="JPN", to=["USA"], categories=["missile"]), 1, SOURCE_BITS["radar"], True),
        (ReleaseRule(nation="JPN", to=["USA"], categories=["missile"]), 0, SOURCE_BITS["radar"], False),
        (ReleaseRule(nation="JPN", to=["AUS"]), 0, SOURCE_BITS["radar"], False),
    ],
)  # fmt: skip
def test_release_policy_reads_rules_literally(
    rule: ReleaseRule, category: int, bits: int, expected: bool
) -> None:
    policy = ReleasePolicy(NATIONS, [rule])
    ped = np.zeros((1, 3), dtype=np.uint8)
    ped[0, 1] = bits
    assert bool(policy.releasable(ped, [category], "USA")[0]) is expected
    assert brute_force_allowed([rule], "JPN", "USA", CATEGORIES[category], bits) is expected


def test_a_fused_track_goes_only_where_every_contributor_allows() -> None:
    rules = [ReleaseRule(nation="USA", to=["JPN", "AUS"]), ReleaseRule(nation="JPN", to=["USA"])]
    policy = ReleasePolicy(NATIONS, rules)
    ped = np.array([[SOURCE_BITS["radar"], SOURCE_BITS["radar"], 0]], dtype=np.uint8)  # USA + JPN data
    assert policy.releasable(ped, [0], "USA")[0]  # JPN allows USA; USA's own data
    assert not policy.releasable(ped, [0], "AUS")[0]  # JPN does not allow AUS
    assert policy.releasable(ped[:, [0, 2, 2]] * [1, 0, 0], [0], "AUS")[0]  # USA-only data may go
