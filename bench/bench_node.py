"""Benchmark: coalition nodes — verify + fuse throughput on one core, and end-to-end latency over Zenoh.

Run:  .venv/bin/python bench/bench_node.py [--parts throughput,latency] [--tracks 10,100,1000]
          [--cells 100@10,500@10,100@50,1000@10] [--duration-s 20] [--quick] [--out out/bench_node]

The script re-executes itself with ``OMP_NUM_THREADS=1`` (and the OpenBLAS, MKL and Numba
equivalents) unless they are already set; the latency cell's two node processes inherit them.

**World** (seeded, the same in every process): K air targets flying straight ECEF lines at 250 m/s
and 10 km, spread uniformly over 20–40° N, 125–150° E (tens of km apart: association is never in
doubt, this measures cost, not accuracy). A nation's sensor gives a position fix (ECEF, σ = 100 m
per axis) of every target at every step. Nodes are `kizuna.node.Node` with the default
`surveillance_tracker` (IMM) and default `PictureParameters`; keys from `keys_from_seed`; release
rules allow every nation everything.

**Throughput** (``--tracks``: M = 10, 100, 1,000): node USA of the coalition (USA, JPN, AUS) tracks
K = M targets with its own sensor; JPN and AUS each send one signed report of M tracks per step (1 s
apart) — the truth plus an error drawn from the reported covariance (σ 100 m, 10 m/s), quality
10, and the system numbers USA gave those objects (a converged coalition). Every message is
sealed before any timing. Each step, outside the timed region, USA's tracker takes its detections
and its firm tracks go into its picture (what `Node.step` does between receiving and fusing); then
the timed region is ``node.take(data, t)`` for the two messages and ``node.picture.update(t)`` —
exactly the receive and fuse work of `Node.step`. Inside it, `Verifier.open` (envelope decode,
Ed25519, body decode, payload checks, replay window) is timed on its own; the rest of ``take``
(release check, `SystemPicture.receive`) is "receive". A separate pass times Ed25519 alone
(`VerifyKey.verify` over the same bodies). The first step after the reports arrive (the one that
associates them with USA's tracks) and ``--warm-steps`` more are reported apart; the figures are
over the steady steps after them. Messages/s = 2 × steps / time; track updates/s = messages/s × M.

**Latency** (``--cells N@R``: N targets at R Hz): two OS processes on 127.0.0.1, each with its own
`ZenohBus` (USA listens, JPN connects). The parent picks t0, a wall-clock instant a few seconds
ahead, and passes it to both. USA steps at t0 + k/R: at the start of a step it reads the wall clock,
t = wall − t0, builds the fixes of all N targets at t, and calls ``node.step(detections, t)``
with ``publish_interval_s = 0`` — track, fuse, seal and put one message of its firm tracks, stamped
valid_time_s = t. A step that starts late (USA behind) starts at once. JPN waits on its bus
(`ZenohBus.wait_for`), takes every message that has arrived (``node.take``) and then runs
``node.picture.update(clock)`` (JPN has no sensor: its own tracker would only step on nothing).
The latency of a report is JPN's wall clock after that update minus (t0 + valid_time_s): USA's
tracking, signing and put, Zenoh, JPN's queue, verification and fusion. The split: USA's track +
fuse + seal (step start to the moment the node hands the message to its bus), put + Zenoh + JPN's
queue (to the moment JPN's wait returned with it) and JPN's take + update. Reports of the first
``--discard-s`` seconds (the tracker confirming tracks) are left out. Fused updates/s = tracks in
the reports JPN fused / the measured span. Both processes warm up (Numba, first calls) on a
throwaway node before t0. The machine's 1-minute load average before and after each cell is
recorded: other work on the machine shows up as latency.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from kizuna.constants import DEG
from kizuna.frames import geodetic_to_ecef
from kizuna.fusion.category import classify
from kizuna.network.messages import SOURCE_BITS, Tracks, decode_envelope, pack_tracks
from kizuna.network.release import ReleasePolicy
from kizuna.network.signing import Opened, Sealer, keys_from_seed
from kizuna.node import Node, NodeSettings
from kizuna.scenario.schema import ReleaseRule
from kizuna.sensors.detections import MEASUREMENT_KINDS, Z_MAX, DetectionBatch
from kizuna.tracking import kernels
from kizuna.tracking.tracker import surveillance_tracker

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")

SEED = 11
KEY_SEED = 5
SPEED_M_PER_S = 250.0
ALTITUDE_M = 10_000.0
LAT_DEG, LON_DEG = (20.0, 40.0), (125.0, 150.0)
SIGMA_M = 100.0  # sensor fix, per axis
REPORT_SIGMA = np.array([100.0, 100.0, 100.0, 10.0, 10.0, 10.0])  # partners' reported σ, m and m/s
REPORT_QUALITY = 10
POSITION = MEASUREMENT_KINDS.index("position")
SOURCE_BIT = SOURCE_BITS["radar"]
LOOPBACK = "127.0.0.1"
QUANTILES = (("p50", 50), ("p90", 90), ("p99", 99), ("max", 100))


# --- The world -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    """K targets on straight ECEF lines (module docstring); ``state(t)`` is (K, 6)."""

    pos0_m: np.ndarray  # (K, 3)
    vel_m_per_s: np.ndarray  # (K, 3)

    @staticmethod
    def make(k: int, seed: int = SEED) -> World:
        rng = np.random.default_rng([seed, k])
        lat = rng.uniform(*LAT_DEG, k) * DEG
        lon = rng.uniform(*LON_DEG, k) * DEG
        heading = rng.uniform(0.0, 2 * np.pi, k)
        pos = geodetic_to_ecef(lat, lon, np.full(k, ALTITUDE_M)).reshape(k, 3)
        east = np.column_stack([-np.sin(lon), np.cos(lon), np.zeros(k)])
        north = np.column_stack([-np.sin(lat) * np.cos(lon), -np.sin(lat) * np.sin(lon), np.cos(lat)])
        vel = SPEED_M_PER_S * (np.sin(heading)[:, None] * east + np.cos(heading)[:, None] * north)
        return World(pos, vel)

    def __len__(self) -> int:
        return len(self.pos0_m)

    def state(self, t_s: float) -> np.ndarray:
        return np.hstack([self.pos0_m + self.vel_m_per_s * t_s, self.vel_m_per_s])

    def detections(
        self, t_s: float, sensor_id: str, rng: np.random.Generator, first_id: int
    ) -> DetectionBatch:
        """A position fix (σ = `SIGMA_M`) of every target at ``t_s``."""
        m = len(self)
        z = np.full((m, Z_MAX), np.nan)
        z[:, :3] = self.pos0_m + self.vel_m_per_s * t_s + rng.normal(0.0, SIGMA_M, (m, 3))
        cov = np.full((m, Z_MAX, Z_MAX), np.nan)
        cov[:, :3, :3] = np.eye(3) * SIGMA_M**2
        return DetectionBatch(
            detection_id=np.arange(first_id, first_id + m, dtype=np.int64),
            time_s=np.full(m, t_s),
            sensor_id=np.full(m, sensor_id, dtype=object),
            kind=np.full(m, POSITION, dtype=np.int8),
            z=z,
            cov=cov,
            sensor_pos_m=np.zeros((m, 3)),
            sensor_vel_m_per_s=np.zeros((m, 3)),
        )

    def report(
        self, t_s: float, nations: Sequence[str], sender: str, numbers: np.ndarray, rng: np.random.Generator
    ) -> Tracks:
        """A partner's report of every target at ``t_s``: truth + an error drawn from its covariance."""
        m = len(self)
        x = self.state(t_s) + rng.normal(0.0, 1.0, (m, 6)) * REPORT_SIGMA
        ped = np.zeros((m, len(nations)), dtype=np.uint8)
        ped[:, list(nations).index(sender)] = SOURCE_BIT
        return Tracks(
            time_s=float(t_s),
            nations=tuple(nations),
            track_id=np.arange(1, m + 1, dtype=np.int64),
            system_number=numbers.astype(np.int64),
            x=x,
            P=np.tile(np.diag(REPORT_SIGMA**2), (m, 1, 1)),
            quality=np.full(m, REPORT_QUALITY, dtype=np.uint8),
            category=classify(x),
            pedigree=ped,
        )


class SendClock:
    """The sender's bus, noting the wall time at which the node hands it a message (before the put)."""

    def __init__(self, bus: Any) -> None:
        self.bus = bus
        self.put_at = np.nan

    def send(self, sender: str, to: Sequence[str], data: bytes, now_s: float, *, seq: int = -1,
             n_tracks: int = 0) -> None:  # fmt: skip
        self.put_at = time.time()
        self.bus.send(sender, to, data, now_s, seq=seq, n_tracks=n_tracks)

    def receive(self, nation: str, now_s: float) -> list[bytes]:
        return list(self.bus.receive(nation, now_s))


class NullBus:
    """A bus that carries nothing: for the throughput node, which only takes what it is handed."""

    def send(self, sender: str, to: Sequence[str], data: bytes, now_s: float, *, seq: int = -1,
             n_tracks: int = 0) -> None:  # fmt: skip
        pass

    def receive(self, nation: str, now_s: float) -> list[bytes]:
        return []


def make_node(nation: str, nations: Sequence[str], bus: Any, *, publish_interval_s: float = 1.0) -> Node:
    rules = [ReleaseRule(nation=n, to=[d for d in nations if d != n]) for n in nations]
    signing, verify = keys_from_seed(KEY_SEED, nations)
    return Node(
        nation, nations, ReleasePolicy(nations, rules), bus, signing[nation], verify,
        settings=NodeSettings(publish_interval_s=publish_interval_s),
        tracker=surveillance_tracker(source_bits={f"{nation}-r1": SOURCE_BIT}),
    )  # fmt: skip


def timed_open(node: Node, seconds: list[float], on_open: Callable[[Opened], None] | None = None) -> None:
    """Wrap ``node.verifier.open`` to add its time to ``seconds[0]`` (and show each accepted message)."""
    inner = node.verifier.open

    def open_(data: bytes | bytearray | memoryview, now_s: float) -> Opened | None:
        start = time.perf_counter()
        opened = inner(data, now_s)
        seconds[0] += time.perf_counter() - start
        if opened is not None and on_open is not None:
            on_open(opened)
        return opened

    node.verifier.open = open_  # type: ignore[method-assign]


# --- Part 1: throughput on one core --------------------------------------------------------------

PARTNERS = ("JPN", "AUS")
COALITION = ("USA", *PARTNERS)


def throughput(
    m: int, steps: int, warm_steps: int, track_steps: int = 6, dt_s: float = 1.0
) -> dict[str, Any]:
    """USA takes one M-track report from each partner per step and fuses (module docstring)."""
    world = World.make(m)
    node = make_node("USA", COALITION, NullBus())
    rng = np.random.default_rng([SEED, m, 1])
    next_id = 0

    def own_tracks(t: float) -> None:
        """USA's own tracker and local sources at ``t`` (not timed)."""
        nonlocal next_id
        node.tracker.step(world.detections(t, "USA-r1", rng, next_id))
        next_id += m
        local = node.local_tracks(t)
        node.picture.set_local(t, local.track_id, local.x, local.P, local.quality, local.pedigree[:, 0])

    for k in range(track_steps):  # USA confirms its tracks and numbers them, alone
        own_tracks(k * dt_s)
        node.picture.update(k * dt_s)
    pic = node.picture.last
    if pic is None or len(pic) == 0:
        raise RuntimeError(f"USA holds no system track after {track_steps} steps of its own sensor")
    near_d, near = cKDTree(pic.x[:, :3]).query(world.state((track_steps - 1) * dt_s)[:, :3])
    numbers = np.where(near_d < 2_000.0, pic.number[near], 0)
    held = int((numbers > 0).sum())

    # Every message sealed before timing: partners report the numbers USA gave (converged).
    signing, verify = keys_from_seed(KEY_SEED, COALITION)
    sealers = {p: Sealer(p, signing[p]) for p in PARTNERS}
    n_steps = 1 + warm_steps + steps
    times = [(track_steps + k) * dt_s for k in range(n_steps)]
    messages: list[list[bytes]] = []
    for t in times:
        messages.append([
            sealers[p].seal(t, t, ["USA"], pack_tracks(world.report(t, COALITION, p, numbers, rng)))
            for p in PARTNERS
        ])  # fmt: skip
    n_bytes = float(np.mean([len(d) for step in messages for d in step]))

    open_s = [0.0]
    timed_open(node, open_s)
    step_s, opens, takes, updates = [], [], [], []
    for t, step in zip(times, messages, strict=True):
        own_tracks(t)
        open_s[0] = 0.0
        start = time.perf_counter()
        for data in step:
            node.take(data, t)
        taken = time.perf_counter()
        picture = node.picture.update(t)
        end = time.perf_counter()
        step_s.append(end - start)
        opens.append(open_s[0])
        takes.append(taken - start - open_s[0])
        updates.append(end - taken)
    rejected = sum(node.verifier.rejected.values())
    fused = int((picture.n_sources == 3).sum())

    # Ed25519 alone over the same bodies (a fresh pass, not inside the node).
    envelopes = [decode_envelope(d) for step in messages for d in step]
    start = time.perf_counter()
    for e in envelopes:
        verify[e.sender].verify(e.body, e.signature)
    ed25519_s = (time.perf_counter() - start) / len(envelopes)

    steady = slice(1 + warm_steps, None)
    per_step = float(np.mean(step_s[steady]))
    return {
        "tracks_per_message": m,
        "usa_tracks_numbered": held,
        "message_bytes": n_bytes,
        "steps": steps,
        "first_step_ms": 1e3 * step_s[0],
        "ms_per_step": 1e3 * per_step,
        "ms_per_step_p90": 1e3 * float(np.percentile(step_s[steady], 90)),
        "open_ms_per_message": 1e3 * float(np.mean(opens[steady])) / 2,
        "ed25519_ms_per_message": 1e3 * ed25519_s,
        "receive_ms_per_message": 1e3 * float(np.mean(takes[steady])) / 2,
        "update_ms_per_step": 1e3 * float(np.mean(updates[steady])),
        "messages_per_s": 2 / per_step,
        "take_only_messages_per_s": 2 / float(np.mean(np.add(opens, takes)[steady])),
        "track_updates_per_s": 2 * m / per_step,
        "system_tracks": len(picture),
        "fused_from_three": fused,
        "rejected": rejected,
    }


def throughput_markdown(rows: list[dict[str, Any]]) -> str:
    head = (
        "| tracks per message | bytes | ms per step (2 messages + update) | messages/s | track updates/s "
        "| open (verify) ms/message | of which Ed25519 | receive ms/message | picture update ms/step "
        "| messages/s, take alone | system tracks (3 sources) |\n"
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n"
    )
    lines = [
        f"| {r['tracks_per_message']:,} | {r['message_bytes']:,.0f} | {r['ms_per_step']:.2f} "
        f"| {r['messages_per_s']:,.0f} | {r['track_updates_per_s']:,.0f} | {r['open_ms_per_message']:.3f} "
        f"| {r['ed25519_ms_per_message']:.3f} | {r['receive_ms_per_message']:.3f} "
        f"| {r['update_ms_per_step']:.2f} | {r['take_only_messages_per_s']:,.0f} "
        f"| {r['system_tracks']:,} ({r['fused_from_three']:,}) |"
        for r in rows
    ]
    return head + "\n".join(lines)


# --- Part 2: latency over Zenoh ------------------------------------------------------------------

PAIR = ("USA", "JPN")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def warm_up_sender(world: World) -> None:
    """Run a throwaway USA node a few steps, so Numba kernels and first calls are loaded before t0."""
    node = make_node("USA", PAIR, NullBus(), publish_interval_s=0.0)
    rng = np.random.default_rng(0)
    for k in range(6):
        node.step(world.detections(0.1 * k, "USA-r1", rng, k * len(world)), 0.1 * k)


def warm_up_receiver(world: World) -> None:
    """Take and fuse a few sealed reports on a throwaway JPN node (its own replay window)."""
    node = make_node("JPN", PAIR, NullBus())
    signing, _ = keys_from_seed(KEY_SEED, PAIR)
    sealer = Sealer("USA", signing["USA"])
    rng = np.random.default_rng(0)
    numbers = np.arange(1, len(world) + 1) + 1_000_000_000
    for k in range(6):
        t = 0.1 * k
        node.take(sealer.seal(t, t, ["JPN"], pack_tracks(world.report(t, PAIR, "USA", numbers, rng))), t)
        node.picture.update(t)


def run_sender(spec: dict[str, Any]) -> dict[str, Any]:
    from kizuna.network.zenoh_bus import ZenohBus

    world = World.make(spec["n_targets"])
    warm_up_sender(world)
    bus = ZenohBus("USA", listen=[f"tcp/{LOOPBACK}:{spec['port']}"], connect=[])
    bus.open()
    try:
        if not bus.wait_for_partners(["JPN"], spec["t0"] - time.time() + 5.0):
            raise RuntimeError("JPN's bus never came up")
        timed_bus = SendClock(bus)
        node = make_node("USA", PAIR, timed_bus, publish_interval_s=0.0)
        rng = np.random.default_rng([SEED, spec["n_targets"], 2])
        t0, period, duration = spec["t0"], 1.0 / spec["rate_hz"], spec["duration_s"]
        late_start_s = t0 - time.time()
        steps: list[tuple[float, float, float]] = []  # (t, put − step start, step end − step start)
        k, next_id = 0, 0
        while True:
            wait = t0 + k * period - time.time()
            if wait > 0:
                time.sleep(wait)
            start = time.time()
            t = start - t0
            if t > duration:
                break
            timed_bus.put_at = np.nan
            node.step(world.detections(t, "USA-r1", rng, next_id), t)
            steps.append((t, timed_bus.put_at - start, time.time() - start))
            next_id += len(world)
            k = max(k + 1, int(np.floor((time.time() - t0) / period)))  # a late step is not replayed
        return {"role": "sender", "steps": steps, "sent": bus.sent, "ready_before_t0_s": late_start_s}
    finally:
        bus.close()


def run_receiver(spec: dict[str, Any]) -> dict[str, Any]:
    from kizuna.network.zenoh_bus import ZenohBus

    world = World.make(spec["n_targets"])
    warm_up_receiver(world)
    bus = ZenohBus("JPN", listen=[], connect=[f"tcp/{LOOPBACK}:{spec['port']}"])
    bus.open()
    try:
        node = make_node("JPN", PAIR, bus)
        opened: list[tuple[float, int]] = []
        timed_open(node, [0.0], lambda o: opened.append((o.message.valid_time_s, len(o.tracks))))
        t0, end = spec["t0"], spec["t0"] + spec["duration_s"] + spec["grace_s"]
        rows: list[tuple[float, int, float, float]] = []  # (valid time, tracks, wait returned, fused)
        batches: list[int] = []
        while time.time() < end:
            got = bus.wait_for("JPN", 1, 0.05)
            if not got:
                continue
            drained = time.time()
            clock = drained - t0
            opened.clear()
            for data in got:
                node.take(data, clock)
            node.picture.update(clock)
            done = time.time()
            batches.append(len(got))
            rows += [(vt, n, drained, done) for vt, n in opened]
        return {
            "role": "receiver",
            "rows": rows,
            "batches": batches,
            "received": bus.received,
            "dropped": bus.dropped,
            "missed": bus.missed,
            "rejected": {f"{a}:{b}": v for (a, b), v in node.verifier.rejected.items()},
            "system_tracks_end": len(node.picture.last or ()),
        }
    finally:
        bus.close()


def latency_cell(n_targets: int, rate_hz: float, duration_s: float, discard_s: float,
                 startup_s: float) -> dict[str, Any]:  # fmt: skip
    """One cell: USA and JPN node processes over Zenoh on loopback (module docstring)."""
    port = free_port()
    load_before = os.getloadavg()[0]
    spec = {"n_targets": n_targets, "rate_hz": rate_hz, "duration_s": duration_s, "port": port,
            "t0": time.time() + startup_s, "grace_s": 3.0}  # fmt: skip
    procs: dict[str, subprocess.Popen[bytes]] = {}
    with tempfile.TemporaryDirectory(prefix="bench_node_") as folder:
        files = {role: Path(folder) / f"{role}.json" for role in ("receiver", "sender")}
        logs = {role: Path(folder) / f"{role}.log" for role in files}
        try:
            for role in ("receiver", "sender"):
                cmd = [sys.executable, __file__, "--role", role, "--spec", json.dumps(spec),
                       "--role-out", str(files[role])]  # fmt: skip
                with logs[role].open("wb") as log:
                    procs[role] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
            deadline = spec["t0"] + duration_s + 60.0
            for role, proc in procs.items():
                proc.wait(timeout=max(deadline - time.time(), 5.0))
                if proc.returncode != 0:
                    raise RuntimeError(f"{role} exited {proc.returncode}:\n{logs[role].read_text()[-3000:]}")
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(timeout=10)
        sender = json.loads(files["sender"].read_text())
        receiver = json.loads(files["receiver"].read_text())
    out = summarise_latency(n_targets, rate_hz, duration_s, discard_s, sender, receiver)
    return {**out, "load_before": load_before, "load_after": os.getloadavg()[0]}


def summarise_latency(n_targets: int, rate_hz: float, duration_s: float, discard_s: float,
                      sender: dict[str, Any], receiver: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    to_put_s = {t: put for t, put, _ in sender["steps"]}  # keyed by the exact valid time (JSON keeps floats)
    rows = [r for r in receiver["rows"] if r[0] >= discard_s]
    steps = [s for s in sender["steps"] if s[0] >= discard_s]
    vt = np.array([r[0] for r in rows])
    ntr = np.array([r[1] for r in rows])
    drained = np.array([r[2] for r in rows])
    done = np.array([r[3] for r in rows])
    sender_ms = np.array([1e3 * to_put_s.get(float(v), np.nan) for v in vt])
    out: dict[str, Any] = {
        "cell": f"{n_targets}@{rate_hz:g}",
        "n_targets": n_targets,
        "rate_hz": rate_hz,
        "offered_updates_per_s": n_targets * rate_hz,
        "duration_s": duration_s,
        "discard_s": discard_s,
        "samples": len(rows),
        "sender_steps": len(steps),
        "sender_steps_per_s": len(steps) / (duration_s - discard_s),
        "sender_step_ms_p50": float(np.median([1e3 * s[2] for s in steps])) if steps else np.nan,
        "sender_step_ms_p99": float(np.percentile([1e3 * s[2] for s in steps], 99)) if steps else np.nan,
        "tracks_per_report": float(np.mean(ntr)) if len(ntr) else 0.0,
        "fused_updates_per_s": float(ntr.sum()) / (duration_s - discard_s),
        "reports_per_batch": float(np.mean(receiver["batches"])) if receiver["batches"] else 0.0,
        "received": receiver["received"],
        "dropped": receiver["dropped"],
        "missed": receiver["missed"],
        "rejected": receiver["rejected"],
        "jpn_system_tracks_end": receiver["system_tracks_end"],
    }
    if len(rows):
        t0 = float(receiver["t0"])
        lat_ms = 1e3 * (done - (t0 + vt))
        receiver_ms = 1e3 * (done - drained)
        wire_ms = lat_ms - receiver_ms - sender_ms
        for name, v in (
            ("latency", lat_ms),
            ("sender", sender_ms),
            ("wire", wire_ms),
            ("receiver", receiver_ms),
        ):
            v = v[np.isfinite(v)]
            out[f"{name}_ms"] = {q: float(np.percentile(v, p)) for q, p in QUANTILES}
        cols = (vt, lat_ms, sender_ms, wire_ms, receiver_ms)
        out["per_report"] = {  # valid time s, then latency and its three parts in ms
            "columns": ["valid_time_s", "latency_ms", "sender_ms", "wire_ms", "receiver_ms"],
            "rows": [[round(float(c), 4) for c in row] for row in zip(*cols, strict=True)],
        }
    return out


def latency_markdown(rows: list[dict[str, Any]]) -> str:
    head = (
        "| targets @ rate | offered updates/s | fused updates/s | reports "
        "| latency p50 / p90 / p99 / max (ms) | USA track + fuse + seal p50 / p99 "
        "| put + Zenoh + JPN's queue p50 / p99 | JPN take + update p50 / p99 | reports per drain "
        "| load avg before / after |\n"
        "| --- | ---: | ---: | ---: | --- | --- | --- | --- | ---: | --- |\n"
    )
    lines = []
    for r in rows:
        if "latency_ms" not in r:
            cell = f"{r['n_targets']:,} @ {r['rate_hz']:g} Hz | {r['offered_updates_per_s']:,.0f}"
            lines.append(f"| {cell} | – | 0 | no report fused | | | | | |")
            continue
        lat, a, w, b = (r[f"{k}_ms"] for k in ("latency", "sender", "wire", "receiver"))
        lines.append(
            f"| {r['n_targets']:,} @ {r['rate_hz']:g} Hz | {r['offered_updates_per_s']:,.0f} "
            f"| {r['fused_updates_per_s']:,.0f} | {r['samples']:,} "
            f"| {lat['p50']:.1f} / {lat['p90']:.1f} / **{lat['p99']:.1f}** / {lat['max']:.1f} "
            f"| {a['p50']:.1f} / {a['p99']:.1f} | {w['p50']:.1f} / {w['p99']:.1f} "
            f"| {b['p50']:.1f} / {b['p99']:.1f} | {r['reports_per_batch']:.2f} "
            f"| {r['load_before']:.2f} / {r['load_after']:.2f} |"
        )
    return head + "\n".join(lines)


# --- Main ----------------------------------------------------------------------------------------


def single_thread() -> None:
    """Re-execute with one BLAS/OpenMP thread unless that is already set."""
    if all(os.environ.get(v) == "1" for v in THREAD_VARS):
        return
    env = {**os.environ, **dict.fromkeys(THREAD_VARS, "1")}
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


def parse_cells(text: str) -> list[tuple[int, float]]:
    cells = []
    for item in text.split(","):
        n, _, rate = item.strip().partition("@")
        cells.append((int(n), float(rate)))
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="throughput,latency", help="throughput, latency or both")
    parser.add_argument("--tracks", default="10,100,1000", help="tracks per message (throughput)")
    parser.add_argument("--steps", type=int, default=0, help="timed steps per throughput cell (0: by size)")
    parser.add_argument("--warm-steps", type=int, default=3)
    parser.add_argument("--cells", default="100@10,500@10,100@50,1000@10", help="latency cells N@R (Hz)")
    parser.add_argument("--duration-s", type=float, default=20.0, help="latency: length of each cell")
    parser.add_argument(
        "--discard-s", type=float, default=3.0, help="latency: reports before this are left out"
    )
    parser.add_argument("--startup-s", type=float, default=12.0, help="latency: t0 this far after launch")
    parser.add_argument("--quick", action="store_true", help="smoke check: small cells, short runs (~1 min)")
    parser.add_argument("--out", default="", help="write PREFIX.json and PREFIX.md")
    parser.add_argument("--role", choices=("sender", "receiver"), help=argparse.SUPPRESS)
    parser.add_argument("--spec", default="", help=argparse.SUPPRESS)
    parser.add_argument("--role-out", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    single_thread()
    if args.role:
        spec = json.loads(args.spec)
        result = run_sender(spec) if args.role == "sender" else run_receiver(spec)
        result["t0"] = spec["t0"]
        Path(args.role_out).write_text(json.dumps(result))
        return
    if args.quick:
        args.tracks = "10,100"
        args.cells = "100@10,500@10" if args.cells == parser.get_default("cells") else args.cells
        args.duration_s, args.discard_s, args.startup_s = 8.0, 2.0, 8.0
    parts = set(args.parts.split(","))
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"NumPy {np.__version__}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, "
        f"Kizuna Numba kernels {kernels.ENABLED}, load average {os.getloadavg()[0]:.2f}"
    )
    started = time.perf_counter()
    t_rows: list[dict[str, Any]] = []
    l_rows: list[dict[str, Any]] = []
    if "throughput" in parts:
        throughput(10, 5, 1)  # warm-up: imports, Numba kernels, first calls
        for m in (int(v) for v in args.tracks.split(",")):
            steps = args.steps or (10 if args.quick else {10: 300, 100: 100}.get(m, 30))
            print(f"throughput: {m} tracks per message, {steps} steps", file=sys.stderr, flush=True)
            t_rows.append(throughput(m, steps, args.warm_steps))
            print(throughput_markdown(t_rows[-1:]), flush=True)
    if "latency" in parts:
        for n, rate in parse_cells(args.cells):
            print(f"latency: {n} targets at {rate:g} Hz, {args.duration_s:g} s", file=sys.stderr, flush=True)
            l_rows.append(latency_cell(n, rate, args.duration_s, args.discard_s, args.startup_s))
            print(latency_markdown(l_rows[-1:]), flush=True)
    print(f"\nall parts ({time.perf_counter() - started:.0f} s in all):\n")
    tables = []
    if t_rows:
        tables.append("Verify + fuse, one core (USA takes one report from JPN and one from AUS per step):\n\n"
                      + throughput_markdown(t_rows))  # fmt: skip
    if l_rows:
        title = (f"End-to-end latency, USA → JPN over Zenoh on loopback ({args.duration_s:g} s per cell, "
                 f"first {args.discard_s:g} s left out):")  # fmt: skip
        tables.append(title + "\n\n" + latency_markdown(l_rows))
    text = "\n\n".join(tables)
    print(text)
    if args.out:
        prefix = Path(args.out)
        prefix.parent.mkdir(parents=True, exist_ok=True)
        prefix.with_suffix(".md").write_text(text + "\n")
        dump = {
            "argv": sys.argv,
            "load_average_end": os.getloadavg(),
            "throughput": t_rows,
            "latency": l_rows,
        }
        prefix.with_suffix(".json").write_text(json.dumps(dump, indent=1))


if __name__ == "__main__":
    main()
