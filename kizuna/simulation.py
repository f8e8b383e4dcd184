"""Stepping a scenario in simulated time: truth -> (sensors -> nodes -> network, later) -> outputs.

One process, deterministic: the same scenario and seed give the same bytes out. The step loop reads
like the data flow; the work lives in the layers below. This module ties layers together (with
`node.py`, `cli.py` and `cop/`); nothing below imports it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from kizuna import __version__
from kizuna.constants import DEG
from kizuna.frames import ecef_to_geodetic
from kizuna.fusion.picture import SystemTracks
from kizuna.interop.outputs import PictureOutputs
from kizuna.metrics.picture import PictureMetrics, evaluate_recording
from kizuna.network.bus import SimulatedBus
from kizuna.network.release import ReleasePolicy
from kizuna.network.signing import AuditLog, keys_from_seed
from kizuna.node import Node, NodeSettings, picture_rows, source_bits_of, track_rows
from kizuna.orbits import Constellation
from kizuna.orbits.build import constellation_from_scenario
from kizuna.recording import MESSAGE_SCHEMA, PICTURE_SCHEMA, TRACK_SCHEMA, RecordingWriter, position_columns
from kizuna.rng import stream
from kizuna.scenario import LoadedScenario
from kizuna.scenario.schema import (
    Aircraft,
    CruiseMissile,
    Scenario,
)
from kizuna.sensors import DetectionBatch, DetectionLabels, Sensor
from kizuna.sensors.build import sensors_from_scenario
from kizuna.sensors.io import detection_columns
from kizuna.timebase import Epoch
from kizuna.tracking.tracker import Tracker, select_rows, surveillance_tracker
from kizuna.truth import FlightPlan, TruthSamples, generate_civil_traffic, sample_plans
from kizuna.truth.build import flight_plan, missile
from kizuna.truth.missiles import Missile, sample_missiles
from kizuna.truth.signatures import PHASES

__all__ = ["RunSummary", "World", "build_world", "run", "sample_truth", "time_grid"]

_ROWS_PER_CHUNK = 400_000
"""Target rows (objects x steps) per chunk: bounds memory whatever the run's length."""


@dataclass(frozen=True)
class World:
    """Everything that moves in a scenario, ready to sample at any times."""

    epoch: Epoch
    plans: list[FlightPlan]
    missiles: list[Missile]
    affiliation: dict[str, str]
    constellations: list[Constellation]
    sensors: list[Sensor]

    @property
    def satellite_count(self) -> int:
        return sum(len(c.satellite_ids) for c in self.constellations)


@dataclass
class RunSummary:
    """What a run did, for the closing table and for tests."""

    scenario: str
    out_dir: Path
    steps: int
    duration_s: float
    targets_by_kind: dict[str, int]
    satellites: int
    rows: dict[str, int]
    files: list[Path]
    detections: dict[str, tuple[int, int]] = field(default_factory=dict)
    satellite_failures: dict[str, str] = field(default_factory=dict)
    elapsed_s: float = 0.0
    tracking: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per nation: frames processed, tracks ever confirmed, live at the end, late rows skipped."""
    metrics: PictureMetrics | None = None


def time_grid(scenario: Scenario) -> NDArray[np.float64]:
    """Sample times [s since epoch]: 0, step, 2·step, ... up to and including the duration."""
    n = int(np.floor(scenario.duration_s / scenario.step_s + 1e-9)) + 1
    return np.arange(n, dtype=np.float64) * scenario.step_s


def build_world(loaded: LoadedScenario) -> World:
    """Turn a validated scenario into flight plans and constellations."""
    s = loaded.scenario
    epoch = Epoch(s.epoch)
    plans: list[FlightPlan] = []
    missiles: list[Missile] = []
    affiliation: dict[str, str] = {}
    for target in s.targets:
        if isinstance(target, Aircraft | CruiseMissile):
            plans.append(flight_plan(target))
            affiliation[target.id] = target.affiliation
        else:
            missiles.append(missile(target))
            affiliation[target.id] = target.affiliation
    if s.civil_traffic is not None and s.civil_traffic.count > 0:
        civil = generate_civil_traffic(
            airports=[(a.code, a.lat_deg * DEG, a.lon_deg * DEG) for a in s.civil_traffic.airports],
            routes=list(s.civil_traffic.routes),
            count=s.civil_traffic.count,
            duration_s=s.duration_s,
            rng=stream(s.seed, "civil_traffic"),
        )
        plans.extend(civil)
        affiliation.update({p.target_id: "neutral" for p in civil})
    constellations = [constellation_from_scenario(c, epoch, loaded.resolve) for c in s.constellations]
    by_id = {c.name: c for c in constellations}
    sensors = sensors_from_scenario(s, by_id, epoch)
    return World(epoch, plans, missiles, affiliation, constellations, sensors)


def run(
    loaded: LoadedScenario,
    out_dir: str | Path,
    *,
    on_progress: Callable[[int, int], None] | None = None,
    outputs: PictureOutputs | None = None,
    output_nation: str | None = None,
    on_rows: Callable[[str, Any], None] | None = None,
) -> RunSummary:
    """Step the scenario and write the recording to `out_dir`.

    `on_progress(done_steps, total_steps)` is called after each chunk of steps. ``outputs``
    (opened by the caller) receive ``output_nation``'s picture (default: the first nation's) at
    every step, as CoT, DIS or ASTERIX. ``on_rows(name, what)`` sees every table write and JSON
    file as it happens (`RecordingWriter`'s listener).
    """
    started = time.perf_counter()
    s = loaded.scenario
    world = build_world(loaded)
    times = time_grid(s)
    objects = max(1, len(world.plans) + len(world.missiles) + world.satellite_count)
    chunk = max(1, _ROWS_PER_CHUNK // objects)
    failures: dict[str, str] = {}
    detecting = _Detecting(world, s.seed)
    out = Path(out_dir)
    with RecordingWriter(out, listener=on_rows) as rec, AuditLog(out / "audit.jsonl", append=False) as audit:
        tracking = _Coalition(world, s, audit)
        if outputs is not None:
            tracking.outputs = outputs
            tracking.output_nation = output_nation or s.nations[0].code
        tracking.declare(rec)
        rec.write_json("scenario.json", _resolved(loaded, world))
        for first in range(0, len(times), chunk):
            t_s = times[first : first + chunk]
            # Sensors look in [this chunk's first step, the next chunk's first step); the last
            # window closes just after the scenario's end so a look at the end time counts.
            t_end = times[first + chunk] if first + chunk < len(times) else s.duration_s + 1e-9
            truth = sample_truth(world, t_s)
            _record_truth(rec, truth, world.affiliation)
            failures.update(_record_satellites(rec, world, t_s))
            joined = detecting.record(rec, float(t_s[0]), float(t_end), truth)
            tracking.advance(rec, joined, t_s)
            if on_progress is not None:
                on_progress(first + len(t_s), len(times))
        tracking.finish(rec, float(times[-1]))
        rows = rec.row_counts
    metrics = evaluate_recording(out, list(tracking.trackers))
    metrics.gospa.to_parquet(out / "gospa.parquet", index=False)
    metrics.custody.to_parquet(out / "custody.parquet", index=False)
    metrics.siap.to_parquet(out / "siap.parquet", index=False)
    kinds = Counter([p.kind for p in world.plans] + [m.kind for m in world.missiles])
    return RunSummary(
        scenario=s.name,
        out_dir=out,
        steps=len(times),
        duration_s=s.duration_s,
        targets_by_kind=dict(sorted(kinds.items())),
        satellites=world.satellite_count,
        rows={name: rows.get(name, 0) for name in ("truth", "satellites", "detections")},
        files=sorted(p for p in out.iterdir() if p.is_file()),
        detections=dict(detecting.counts),
        satellite_failures=failures,
        elapsed_s=time.perf_counter() - started,
        tracking=tracking.counts(),
        metrics=metrics,
    )


def sample_truth(world: World, t_s: NDArray[np.float64]) -> TruthSamples:
    """Every target of the world at times ``t_s``: flight plans first, then missiles."""
    return TruthSamples.concatenate([sample_plans(world.plans, t_s), sample_missiles(world.missiles, t_s)])


def _record_truth(rec: RecordingWriter, samples: TruthSamples, affiliation: dict[str, str]) -> None:
    t_s = samples.t_s
    # Time-major rows: all targets at t0, then all at t1... (transpose to (T, N)).
    t_idx, n_idx = np.nonzero(samples.active.T)
    if t_idx.size == 0:
        return
    pos = samples.pos_m[n_idx, t_idx]
    vel = samples.vel_m_per_s[n_idx, t_idx]
    lat, lon, alt = ecef_to_geodetic(pos)
    ids = np.asarray(samples.target_ids, dtype=object)[n_idx]
    kinds = np.asarray(samples.kinds, dtype=object)[n_idx]
    affiliations = np.array([affiliation[i] for i in samples.target_ids], dtype=object)[n_idx]
    phases = np.asarray(PHASES, dtype=object)[samples.phase[n_idx, t_idx]]
    rec.write(
        "truth",
        {
            "time_s": t_s[t_idx],
            "target_id": ids,
            "kind": kinds,
            "affiliation": affiliations,
            **position_columns(pos, vel, lat, lon, alt),
            "phase": phases,
            "ir_intensity_w_per_sr": samples.ir_intensity_w_per_sr[n_idx, t_idx],
            "rcs_m2": samples.rcs_m2[n_idx, t_idx],
        },
    )


class _Detecting:
    """Runs every sensor over successive time windows and records what they detect.

    Each sensor draws from its own stream (``rng.stream(seed, "sensor:<id>")``), and detection ids
    run on across windows, so the result does not depend on how the run is chunked.
    """

    def __init__(self, world: World, seed: int) -> None:
        self.world = world
        self.rngs = {x.sensor_id: stream(seed, f"sensor:{x.sensor_id}") for x in world.sensors}
        self.next_id = 0
        self.counts: dict[str, tuple[int, int]] = {x.sensor_id: (0, 0) for x in world.sensors}

    def record(self, rec: RecordingWriter, t0_s: float, t1_s: float, on_grid: TruthSamples) -> DetectionBatch:
        """Detections of every sensor looking in [t0_s, t1_s) (recorded, and returned without
        labels); ``on_grid`` is the truth already sampled at this window's steps, reused when every
        look falls on a step."""
        looks = {x.sensor_id: x.look_times(t0_s, t1_s) for x in self.world.sensors}
        if not any(len(v) for v in looks.values()):
            return DetectionBatch.empty()
        union = np.unique(np.concatenate(list(looks.values())))
        at = np.minimum(np.searchsorted(on_grid.t_s, union), len(on_grid.t_s) - 1)
        if np.array_equal(on_grid.t_s[at], union):
            truth = on_grid.take_times(at)  # every look on a step: no second sampling
        else:
            truth = sample_truth(self.world, union)  # once for all sensors
        batches: list[DetectionBatch] = []
        labels: list[DetectionLabels] = []
        for sensor in self.world.sensors:
            times = looks[sensor.sensor_id]
            if len(times) == 0:
                continue
            batch, label = sensor.observe(
                truth.take_times(np.searchsorted(union, times)), self.next_id, self.rngs[sensor.sensor_id]
            )
            self.next_id += len(batch)
            n, false = self.counts[sensor.sensor_id]
            self.counts[sensor.sensor_id] = (n + len(batch), false + int(label.is_false_alarm.sum()))
            batches.append(batch)
            labels.append(label)
        joined = DetectionBatch.concatenate(batches)
        if len(joined):
            rec.write("detections", detection_columns(joined, DetectionLabels.concatenate(labels)))
        return joined


class _Coalition:
    """One node per nation (`kizuna.node.Node`) on a `SimulatedBus`: each tracks its own sensors,
    shares under the release rules and fuses what it receives. Writes each nation's own-sensor
    picture to ``tracks_<NATION>`` and its coalition picture to ``picture_<NATION>`` at every step.

    A step's pictures hold every detection up to and including the step time; detections after
    the chunk's last step wait for the next chunk. Nodes step in the scenario's nation order, and
    a message is never delivered at the time it is sent (its link takes time), so the order does
    not matter. Keys are derived from the seed (`keys_from_seed`): a simulated run needs no key
    files.
    """

    def __init__(self, world: World, scenario: Scenario, audit: AuditLog | None) -> None:
        nations = [n.code for n in scenario.nations]
        self.nation_of = {x.sensor_id: x.nation for x in world.sensors}
        self.bus = SimulatedBus(scenario.network.links, scenario.seed)
        signing, verify = keys_from_seed(scenario.seed, nations)
        policy = ReleasePolicy(nations, scenario.release)
        settings = NodeSettings.from_scenario(scenario)
        bits = source_bits_of(scenario)
        self.nodes: dict[str, Node] = {
            n: Node(n, nations, policy, self.bus, signing[n], verify, settings=settings,
                    tracker=surveillance_tracker(source_bits=bits), audit=audit)
            for n in nations
        }  # fmt: skip
        self.waiting: dict[str, DetectionBatch] = {n: DetectionBatch.empty() for n in nations}
        self.names = tuple(nations)
        self.outputs: PictureOutputs | None = None
        self.output_nation = ""

    @property
    def trackers(self) -> dict[str, Tracker]:
        return {n: node.tracker for n, node in self.nodes.items()}

    def declare(self, rec: RecordingWriter) -> None:
        for nation in self.nodes:
            rec.declare(f"tracks_{nation}", TRACK_SCHEMA)
            rec.declare(f"picture_{nation}", PICTURE_SCHEMA)
        rec.declare("messages", MESSAGE_SCHEMA)

    def _nation(self, sensor_id: NDArray[np.object_]) -> NDArray[np.object_]:
        # a satellite layer's rows carry "<layer id>/<satellite id>"
        names, inverse = np.unique(sensor_id.astype(str), return_inverse=True)
        nation = np.array([self.nation_of.get(n.split("/")[0], "") for n in names], dtype=object)
        return nation[inverse.reshape(-1)]

    def advance(self, rec: RecordingWriter, batch: DetectionBatch, t_s: NDArray[np.float64]) -> None:
        nation_of_row = self._nation(batch.sensor_id) if len(batch) else np.zeros(0, dtype=object)
        mine: dict[str, DetectionBatch] = {}
        edges: dict[str, NDArray[np.intp]] = {}
        for nation in self.nodes:
            mine[nation] = DetectionBatch.concatenate(
                [self.waiting[nation], select_rows(batch, nation_of_row == nation)]
            )
            edges[nation] = np.searchsorted(mine[nation].time_s, t_s, side="right")
        tracks: dict[str, list[dict[str, NDArray[np.generic]]]] = {n: [] for n in self.nodes}
        pictures: dict[str, list[SystemTracks]] = {n: [] for n in self.nodes}
        start = dict.fromkeys(self.nodes, 0)
        for i, t in enumerate(t_s):
            for nation, node in self.nodes.items():
                edge = int(edges[nation][i])
                pictures[nation].append(
                    node.step(select_rows(mine[nation], slice(start[nation], edge)), float(t))
                )
                if self.outputs is not None and nation == self.output_nation:
                    rows = picture_rows(pictures[nation][-1:], self.names)
                    if rows is not None:
                        self.outputs.send(pd.DataFrame(rows))
                start[nation] = edge
                tracks[nation].append(node.last_columns)
        for nation in self.nodes:
            self.waiting[nation] = select_rows(mine[nation], slice(start[nation], len(mine[nation])))
            cols = {name: np.concatenate([p[name] for p in tracks[nation]]) for name in tracks[nation][0]}
            if len(cols["track_id"]):
                rec.write(f"tracks_{nation}", track_rows(cols))
            rows = picture_rows(pictures[nation], self.names)
            if rows is not None:
                rec.write(f"picture_{nation}", rows)

    def finish(self, rec: RecordingWriter, end_s: float) -> None:
        """Write ``messages``: every message to every destination and what became of it."""
        log = self.bus.log
        if not log:
            return
        accepted = {(n, sender, seq) for n, node in self.nodes.items() for sender, seq, _ in node.received}
        outcome = []
        for d in log:
            if d.fate != "delivered":
                outcome.append("not-delivered")
            elif (d.receiver, d.sender, d.seq) in accepted:
                outcome.append("accepted")
            else:
                outcome.append("pending" if d.arrival_s > end_s else "rejected")
        rec.write(
            "messages",
            {
                "sent_s": np.array([d.sent_s for d in log]),
                "sender": np.array([d.sender for d in log], dtype=object),
                "receiver": np.array([d.receiver for d in log], dtype=object),
                "seq": np.array([d.seq for d in log], dtype=np.int64),
                "n_bytes": np.array([d.n_bytes for d in log], dtype=np.int64),
                "n_tracks": np.array([d.n_tracks for d in log], dtype=np.int64),
                "fate": np.array([d.fate for d in log], dtype=object),
                "arrival_s": np.array([d.arrival_s for d in log]),
                "outcome": np.array(outcome, dtype=object),
            },
        )

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for nation, node in self.nodes.items():
            t = node.tracker
            out[nation] = {
                "frames": t.n_frames,
                "confirmed": t.n_confirmed,
                "live": len(t.table),
                "late_rows_skipped": t.late_rows_skipped,
                "system_tracks": len(node.picture.last) if node.picture.last is not None else 0,
                "messages_sent": node.sealer.next_seq - 1,
                "messages_accepted": len(node.received),
                "messages_rejected": sum(node.verifier.rejected.values()),
            }
        return out


def _record_satellites(rec: RecordingWriter, world: World, t_s: NDArray[np.float64]) -> dict[str, str]:
    failures: dict[str, str] = {}
    for constellation in world.constellations:
        eph = constellation.propagate(world.epoch, t_s)
        n_sat, n_t = len(eph.satellite_ids), len(t_s)
        pos = np.swapaxes(eph.pos_m, 0, 1).reshape(-1, 3)
        vel = np.swapaxes(eph.vel_m_per_s, 0, 1).reshape(-1, 3)
        lat, lon, alt = ecef_to_geodetic(pos)
        rec.write(
            "satellites",
            {
                "time_s": np.repeat(t_s, n_sat),
                "satellite_id": np.tile(np.asarray(eph.satellite_ids, dtype=object), n_t),
                "constellation_id": np.full(n_sat * n_t, constellation.name, dtype=object),
                **position_columns(pos, vel, lat, lon, alt),
            },
        )
        failures.update(eph.failures)
    return failures


def _resolved(loaded: LoadedScenario, world: World) -> dict[str, Any]:
    """The validated scenario as resolved: defaults filled in, plus what was derived from it."""
    return {
        "kizuna_version": __version__,
        "source": loaded.source.name,
        "scenario": loaded.scenario.model_dump(mode="json"),
        "derived": {
            "epoch_utc": world.epoch.utc.isoformat(),
            "steps": len(time_grid(loaded.scenario)),
            "flight_plans": len(world.plans),
            "satellites": {c.name: list(c.satellite_ids) for c in world.constellations},
        },
    }
