"""A live node: one nation's node as its own process, on Zenoh, paced by the wall clock.

`run_live` is what ``kizuna node`` runs. The node is the same `kizuna.node.Node` the simulation
steps; here its bus is a `kizuna.network.zenoh_bus.ZenohBus` (peer to peer, no broker), its keys
come from the files the scenario names, and its state is kept in SQLite (`kizuna.node_store`) so
that a node killed and restarted carries on with the same system track numbers.

**Clock.** Scenario time is ``(wall − clock_start) · speed`` seconds. Nodes of one exercise share
``clock_start`` (a UNIX time) and ``speed``; at speed 1 with ``clock_start`` at the scenario's
epoch, scenario time is real time. The node steps at the scenario's ``step_s``; a node that falls
behind (or restarted after a while) catches up step by step without sleeping.

**Feeds.** Detections come from a file (a recording's ``detections.parquet``: the rows of this
nation's sensors, each given to the tracker once the clock reaches its time) and from CoT, DIS and
ASTERIX received over UDP (`kizuna.interop.feeds`), as detections of an ``external`` source.

**Outputs** (``out``): ``picture_<NATION>/`` and ``tracks_<NATION>/`` — the same rows as a
simulated recording's tables, at every step, as folders of Parquet parts written every
``flush_every_steps`` (`kizuna.recording.PartsWriter`: a kill loses at most the last few steps, and
a restarted node appends) — and ``audit.jsonl``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nacl.signing
import numpy as np
import pandas as pd

from kizuna.interop.feeds import Feeds, feed_sensor_id
from kizuna.interop.outputs import OutputError, PictureOutputs, parse_output
from kizuna.network.bus import Bus, FaultyBus
from kizuna.network.messages import SOURCE_BITS
from kizuna.network.release import ReleasePolicy
from kizuna.network.signing import AuditLog, KeyFileError, load_signing_key, load_verify_key
from kizuna.network.zenoh_bus import BusError, ZenohBus
from kizuna.node import Node, NodeSettings, picture_rows, source_bits_of, track_rows
from kizuna.node_store import NodeStore
from kizuna.recording import PICTURE_SCHEMA, TRACK_SCHEMA, PartsWriter
from kizuna.scenario import LoadedScenario
from kizuna.sensors import DetectionBatch
from kizuna.sensors.io import read_detections_checked
from kizuna.tracking.tracker import select_rows, surveillance_tracker

__all__ = ["LiveError", "LiveOptions", "LiveSummary", "run_live"]

_log = logging.getLogger("kizuna.live")


class LiveError(RuntimeError):
    """A node that cannot start: bad key files, a port in use, a peer that never answers."""


@dataclass(frozen=True)
class LiveOptions:
    nation: str
    listen: Sequence[str] = ()
    connect: Sequence[str] = ()
    detections: Path | None = None
    out: Path = Path("out/node")
    state: Path | None = None
    speed: float = 1.0
    clock_start: float | None = None
    until_s: float | None = None
    wait_for_peers_s: float = 10.0
    loss: float = 0.0
    cut: Sequence[tuple[float, float]] = ()
    seed: int = 0
    outputs: Sequence[tuple[str, str]] = ()
    feeds: Sequence[tuple[str, str]] = ()
    """(format, URL) pairs to listen on: ("cot", "udp://127.0.0.1:6970"), ("dis", …), ("asterix", …)."""
    """(format, URL) pairs: ("cot", "udp://127.0.0.1:6969"), ("dis", …), ("asterix", …)."""
    flush_every_steps: int = 10
    """Steps between two parts of the picture files: what a kill can lose (the state file keeps
    the last step)."""


@dataclass
class LiveSummary:
    nation: str
    steps: int = 0
    resumed_at_s: float | None = None
    end_s: float = 0.0
    system_tracks: int = 0
    messages_sent: int = 0
    messages_accepted: int = 0
    messages_rejected: dict[str, int] = field(default_factory=dict)
    dropped_by_faults: int = 0
    peers_at_start: int = 0
    bus_received: int = 0
    bus_missed: int = 0


def _keys(
    loaded: LoadedScenario, nation: str
) -> tuple[nacl.signing.SigningKey, dict[str, nacl.signing.VerifyKey]]:
    s = loaded.scenario
    me = next(n for n in s.nations if n.code == nation)
    if me.key_file is None:
        raise LiveError(f"{loaded.source.name}: nation {nation} names no key_file; a live node signs its "
                        "messages (kizuna keygen writes keys)")  # fmt: skip
    try:
        signing = load_signing_key(loaded.resolve(me.key_file))
        verify = {}
        for n in s.nations:
            if n.code == nation:
                continue
            if n.public_key_file is None:
                raise LiveError(f"{loaded.source.name}: partner {n.code} names no public_key_file; "
                                "its messages could not be verified")  # fmt: skip
            verify[n.code] = load_verify_key(loaded.resolve(n.public_key_file))
    except KeyFileError as exc:
        raise LiveError(str(exc)) from None
    return signing, verify


def _feed(options: LiveOptions, loaded: LoadedScenario) -> DetectionBatch:
    if options.detections is None:
        return DetectionBatch.empty()
    batch, _ = read_detections_checked(options.detections)
    own = {x.id for x in loaded.scenario.sensors if x.nation == options.nation}
    layer = np.array([str(sid).split("/")[0] for sid in batch.sensor_id], dtype=object)
    return select_rows(batch, np.isin(layer, list(own)))


def run_live(
    loaded: LoadedScenario,
    options: LiveOptions,
    *,
    on_step: Callable[[LiveSummary], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_rows: Callable[[str, Any], None] | None = None,
) -> LiveSummary:
    """Run one nation's node until ``until_s`` (scenario seconds; default the scenario's end).

    ``on_rows(table, columns)`` sees each step's ``picture_<NATION>`` and ``tracks_<NATION>`` rows
    as they are written (the COP of ``kizuna node --serve`` follows the node this way)."""
    s = loaded.scenario
    nations = tuple(n.code for n in s.nations)
    if options.nation not in nations:
        raise LiveError(f"{options.nation} is not a nation of {loaded.source.name} ({list(nations)})")
    if options.speed <= 0:
        raise LiveError(f"--speed must be positive, got {options.speed}")
    signing, verify = _keys(loaded, options.nation)
    try:
        wanted = [parse_output(fmt, url) for fmt, url in options.outputs]
        outputs = PictureOutputs(wanted, s.epoch, sic=nations.index(options.nation) + 1).open()
        listen = [parse_output(fmt, url) for fmt, url in options.feeds]
        if any(f.scheme != "udp" for f in listen):
            raise OutputError("feeds listen on udp://HOST:PORT only")
    except OutputError as exc:
        raise LiveError(str(exc)) from None
    feed = _feed(options, loaded)
    try:
        zenoh = ZenohBus(options.nation, listen=list(options.listen), connect=list(options.connect))
        zenoh.open()
    except (BusError, ValueError) as exc:
        raise LiveError(str(exc)) from None
    summary = LiveSummary(options.nation)
    try:
        if options.connect and not zenoh.wait_for_peers(1, options.wait_for_peers_s):
            _log.warning("%s: no peer reachable at %s after %.0f s; carrying on alone until one answers",
                         options.nation, ", ".join(options.connect), options.wait_for_peers_s)  # fmt: skip
        summary.peers_at_start = len(zenoh.peers())
        bus: Bus = zenoh
        faulty = None
        if options.loss > 0 or options.cut:
            bus = faulty = FaultyBus(zenoh, options.loss, options.cut, options.seed)
        out = Path(options.out)
        out.mkdir(parents=True, exist_ok=True)
        pictures = PartsWriter(out / f"picture_{options.nation}", PICTURE_SCHEMA)
        local_tracks = PartsWriter(out / f"tracks_{options.nation}", TRACK_SCHEMA)
        with AuditLog(out / "audit.jsonl") as audit:
            bits = source_bits_of(s) | {
                feed_sensor_id(options.nation, f.fmt): SOURCE_BITS["external"] for f in listen
            }
            node = Node(
                options.nation, nations, ReleasePolicy(nations, s.release), bus, signing, verify,
                settings=NodeSettings.from_scenario(s), audit=audit,
                tracker=surveillance_tracker(source_bits=bits),
            )  # fmt: skip
            store = NodeStore(
                options.state or out / f"state_{options.nation}.sqlite", options.nation, nations
            )
            summary.resumed_at_s = store.load(node)
            clock_start = time.time() if options.clock_start is None else options.clock_start
            feeds = Feeds(
                options.nation, listen, s.epoch, lambda: (time.time() - clock_start) * options.speed
            )
            try:
                feeds.start()
            except OSError as exc:
                raise LiveError(f"{options.nation}: cannot listen for a feed: {exc}") from None
            end_s = s.duration_s if options.until_s is None else min(options.until_s, s.duration_s)
            done_s = node.tracker.time_s if summary.resumed_at_s is not None else -np.inf
            k = 0 if summary.resumed_at_s is None else int(np.floor(summary.resumed_at_s / s.step_s)) + 1
            try:
                while k * s.step_s <= end_s + 1e-9:
                    if should_stop is not None and should_stop():
                        break
                    t = k * s.step_s
                    now = (time.time() - clock_start) * options.speed
                    if now < t:
                        time.sleep((t - now) / options.speed)
                    rows = (feed.time_s > done_s) & (feed.time_s <= t)
                    clock = (time.time() - clock_start) * options.speed
                    batch = DetectionBatch.concatenate([select_rows(feed, rows), feeds.take(t)])
                    if len(batch):
                        batch = select_rows(batch, np.argsort(batch.time_s, kind="stable"))
                    picture = node.step(batch, t, clock_s=max(clock, t))
                    done_s = t
                    summary.steps += 1
                    summary.end_s = t
                    pic_rows = picture_rows([picture], nations)
                    if pic_rows is not None:
                        pictures.write(pic_rows)
                        outputs.send(pd.DataFrame(pic_rows))
                        if on_rows is not None:
                            on_rows(f"picture_{options.nation}", pic_rows)
                    if len(node.last_columns.get("track_id", ())):
                        own_rows = track_rows(node.last_columns)
                        local_tracks.write(own_rows)
                        if on_rows is not None:
                            on_rows(f"tracks_{options.nation}", own_rows)
                    if summary.steps % options.flush_every_steps == 0:
                        pictures.flush()
                        local_tracks.flush()
                    store.save(node, t, picture)
                    summary.system_tracks = len(picture)
                    summary.messages_sent = node.sealer.next_seq - 1
                    summary.messages_accepted = len(node.received)
                    summary.messages_rejected = {
                        f"{a}:{b}": v for (a, b), v in node.verifier.rejected.items()
                    }
                    summary.dropped_by_faults = faulty.dropped if faulty is not None else 0
                    summary.bus_received, summary.bus_missed = zenoh.received, zenoh.missed
                    if on_step is not None:
                        on_step(summary)
                    k += 1
            finally:
                feeds.close()
                pictures.flush()
                local_tracks.flush()
                store.close()
    finally:
        zenoh.close()
        outputs.close()
    return summary
