"""One nation's node: its tracker over its own sensors, its reports to partners, and its picture.

A step reads like the data flow:

1. **receive** — messages that arrived are opened (`kizuna.network.signing.Verifier`: signature,
   replay, release list) and their tracks, once checked against the release rules, join the
   picture as partners' sources;
2. **track** — the national tracker takes the node's own detections;
3. **fuse** — the node's firm local tracks and its partners' latest reports become system tracks
   (`kizuna.fusion.picture.SystemPicture`);
4. **publish** — when due, the node reports its firm local tracks, each with its system number,
   to every partner the release rules allow (`kizuna.network.release.ReleasePolicy`), leaving out
   what another nation is responsible for reporting to that partner; partners that may receive the
   same tracks share one signed message.

The node runs the same way in simulation (`kizuna.simulation`, on a `SimulatedBus`) and live
(`kizuna node`, on Zenoh). It ties layers together: tracking, fusion and network meet here only.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import nacl.signing
import numpy as np
from numpy.typing import NDArray

from kizuna.frames import ecef_to_geodetic
from kizuna.fusion.category import classify
from kizuna.fusion.picture import PictureParameters, SystemPicture, SystemTracks
from kizuna.network.bus import Bus
from kizuna.network.messages import CATEGORIES, SOURCE_BITS, Tracks, pack_tracks, valid_track_rows
from kizuna.network.release import ReleasePolicy
from kizuna.network.signing import AuditLog, Sealer, Verifier
from kizuna.recording import SIGMA_COLUMNS, position_columns
from kizuna.scenario.schema import Scenario
from kizuna.sensors import DetectionBatch
from kizuna.tracking.tracker import Tracker, surveillance_tracker

__all__ = ["FIRM", "Node", "NodeSettings", "picture_rows", "source_bits_of", "track_rows"]

FIRM = ("confirmed", "coasting")
"""Local track statuses a node shares and fuses."""

_log = logging.getLogger("kizuna.node")


@dataclass(frozen=True)
class NodeSettings:
    """How a node shares: from the scenario's ``[network]`` table."""

    publish_interval_s: float = 1.0
    reporting_responsibility: bool = True
    picture: PictureParameters = field(default_factory=PictureParameters)

    @staticmethod
    def from_scenario(s: Scenario) -> NodeSettings:
        net = s.network
        return NodeSettings(
            publish_interval_s=net.publish_interval_s,
            reporting_responsibility=net.reporting_responsibility,
            picture=PictureParameters(stale_after_s=net.stale_after_s),
        )


def source_bits_of(s: Scenario) -> dict[str, int]:
    """Sensor id → the bit of its kind (`SOURCE_BITS`), for the trackers' ``source_bits``."""
    return {x.id: SOURCE_BITS[x.kind] for x in s.sensors}


class Node:
    """One nation's node (module docstring). ``nations`` is the coalition in scenario order; the
    node signs with ``signing_key`` and trusts ``verify_keys``; ``bus`` carries its messages."""

    def __init__(
        self,
        nation: str,
        nations: Sequence[str],
        policy: ReleasePolicy,
        bus: Bus,
        signing_key: nacl.signing.SigningKey,
        verify_keys: dict[str, nacl.signing.VerifyKey],
        *,
        settings: NodeSettings | None = None,
        tracker: Tracker | None = None,
        audit: AuditLog | None = None,
        first_seq: int = 1,
    ) -> None:
        self.nation = nation
        self.nations = tuple(nations)
        self.index = self.nations.index(nation)
        self.policy = policy
        self.bus = bus
        self.settings = settings or NodeSettings()
        self.tracker = tracker if tracker is not None else surveillance_tracker()
        self.audit = audit
        self.sealer = Sealer(nation, signing_key, first_seq=first_seq)
        peers = {n: k for n, k in verify_keys.items() if n != nation}
        self.verifier = Verifier(nation, peers, audit=audit)
        self.picture = SystemPicture(
            self.index, len(self.nations), reach_size=self._reach_size, params=self.settings.picture
        )
        self.next_publish_s = -np.inf
        self.received: list[tuple[str, int, float]] = []
        """(sender, seq, time) of every accepted message, for ``messages.parquet``."""
        self.withheld: Counter[str] = Counter()
        """Local firm tracks the release rules kept from each partner (summed over reports)."""
        self.suppressed: Counter[str] = Counter()
        """Tracks left out of reports to a partner because another nation reports them."""
        self.last_columns: dict[str, NDArray[np.generic]] = {}
        """The tracker's live tracks at the last step (`Tracker.tracks_at`), firm or not."""
        self._warned: set[str] = set()
        self.not_cleared = 0
        """Received tracks refused because a contributor does not release them to this node."""

    def _reach_size(self, nation: int, category: int, bits: int) -> int:
        return len(self.policy.reach(self.nations[nation], category, bits))

    # --- the step --------------------------------------------------------------------------------

    def step(self, detections: DetectionBatch, now_s: float, *, clock_s: float | None = None) -> SystemTracks:
        """Track, receive, fuse and (when due) publish, at ``now_s`` (module docstring).
        ``clock_s`` is the time messages are checked against (age, replay window) when it differs
        from the step's time: a live node catching up steps behind the clock its partners keep."""
        for data in self.bus.receive(self.nation, now_s):
            self.take(data, now_s if clock_s is None else clock_s)
        self.tracker.step(detections)
        local = self.local_tracks(now_s)
        self.picture.set_local(now_s, local.track_id, local.x, local.P, local.quality,
                               local.pedigree[:, self.index])  # fmt: skip
        picture = self.picture.update(now_s)
        if now_s >= self.next_publish_s:
            self.publish(local, picture, now_s)
            self.next_publish_s = now_s + self.settings.publish_interval_s - 1e-9
        return picture

    def take(self, data: bytes, now_s: float) -> bool:
        """Open one message and put its tracks in the picture; False when it was rejected."""
        opened = self.verifier.open(data, now_s)
        if opened is None:
            return False
        message, tracks = opened.message, opened.tracks
        self.received.append((message.sender, message.seq, now_s))
        ped = self._pedigree_here(tracks)
        if ped is None:
            self.not_cleared += len(tracks)
            self._warn_once(message.sender, "%s: report from %s names nations outside the coalition; dropped",
                            self.nation, message.sender)  # fmt: skip
            return True
        cleared = self.policy.releasable(ped, tracks.category, self.nation)
        if not cleared.all():
            self.not_cleared += int((~cleared).sum())
            self._warn_once(message.sender, "%s: %d track(s) from %s not cleared for %s by their "
                            "contributors; dropped", self.nation, int((~cleared).sum()), message.sender,
                            self.nation)  # fmt: skip
        rows = np.flatnonzero(cleared)
        self.picture.receive(
            self.nations.index(message.sender), tracks.time_s, tracks.track_id[rows], tracks.x[rows],
            tracks.P[rows], tracks.quality[rows], ped[rows], tracks.system_number[rows],
        )  # fmt: skip
        return True

    def _warn_once(self, sender: str, fmt: str, *args: object) -> None:
        """WARNING the first time per sender, DEBUG after (a partner's mistake repeats per report)."""
        level = logging.DEBUG if sender in self._warned else logging.WARNING
        self._warned.add(sender)
        _log.log(level, fmt, *args)

    def _pedigree_here(self, tracks: Tracks) -> NDArray[np.uint8] | None:
        """The report's pedigree in this coalition's nation order; None if it names a stranger."""
        if tracks.nations == self.nations:
            return tracks.pedigree
        if not set(tracks.nations) <= set(self.nations):
            return None
        ped = np.zeros((len(tracks), len(self.nations)), dtype=np.uint8)
        for j, n in enumerate(tracks.nations):
            ped[:, self.nations.index(n)] = tracks.pedigree[:, j]
        return ped

    def local_tracks(self, now_s: float) -> Tracks:
        """The tracker's firm tracks predicted to ``now_s``, with their system numbers."""
        cols = self.last_columns = self.tracker.tracks_at(now_s)
        if len(cols["track_id"]) == 0:
            return Tracks.empty(self.nations, now_s)
        firm = np.isin(cols["status"], FIRM)
        x = np.stack([cols[c] for c in ("x_m", "y_m", "z_m", "vx_m_per_s", "vy_m_per_s", "vz_m_per_s")],
                     axis=1)[firm].astype(np.float64)  # fmt: skip
        ids = cols["track_id"][firm].astype(np.int64)
        ped = np.zeros((len(ids), len(self.nations)), dtype=np.uint8)
        ped[:, self.index] = cols["sources"][firm]
        return Tracks(
            time_s=float(now_s),
            nations=self.nations,
            track_id=ids,
            system_number=self.picture.numbers_of_local(ids),
            x=x,
            P=np.asarray(cols["P"], dtype=np.float64)[firm],
            quality=np.asarray(cols["quality"], dtype=np.uint8)[firm],
            category=classify(x) if len(x) else np.zeros(0, np.uint8),
            pedigree=ped,
        )

    def publish(self, local: Tracks, picture: SystemTracks, now_s: float) -> int:
        """Report ``local`` to every partner the rules allow (module docstring); returns the number
        of messages sent."""
        partners = [n for n in self.nations if n != self.nation]
        valid = valid_track_rows(local)
        if not valid.all():  # a track partners would refuse must not spoil the whole report
            _log.warning("%s: %d local track(s) not reportable (non-finite state or covariance)",
                         self.nation, int((~valid).sum()))  # fmt: skip
            local = local.take(valid)
        masks: dict[str, NDArray[np.bool_]] = {}
        for dest in partners:
            ok = self.policy.releasable(local.pedigree, local.category, dest)
            self.withheld[dest] += int((~ok).sum())
            if self.settings.reporting_responsibility:
                elsewhere = self._reported_elsewhere(local, picture, dest)
                self.suppressed[dest] += int((ok & elsewhere).sum())
                ok &= ~elsewhere
            masks[dest] = ok
        groups: dict[bytes, list[str]] = {}
        for dest, ok in masks.items():
            if ok.any():
                groups.setdefault(np.packbits(ok).tobytes(), []).append(dest)
        sent = 0
        for dests in groups.values():
            rows = np.flatnonzero(masks[dests[0]])
            seq = self.sealer.next_seq
            data = self.sealer.seal(now_s, now_s, dests, pack_tracks(local.take(rows)))
            self.bus.send(self.nation, dests, data, now_s, seq=seq, n_tracks=len(rows))
            sent += 1
            if self.audit is not None:
                withheld = {d: int((~masks[d]).sum()) for d in partners if d not in dests}
                self.audit.release(now_s, self.nation, seq, dests, len(rows), withheld)
        return sent

    def _reported_elsewhere(self, local: Tracks, picture: SystemTracks, dest: str) -> NDArray[np.bool_]:
        """Which local tracks another nation is responsible for reporting to ``dest``."""
        if len(local) == 0 or len(picture) == 0:
            return np.zeros(len(local), dtype=bool)
        at = np.searchsorted(picture.number, local.system_number)
        at = np.minimum(at, len(picture) - 1)
        known = picture.number[at] == local.system_number
        reporter = np.where(known, picture.reporter[at], self.index)
        other = known & (reporter != self.index)
        if not other.any():
            return other
        # The reporter's own data must be releasable to dest, else dest would get nothing.
        ped = np.zeros_like(local.pedigree)
        rows = np.flatnonzero(other)
        ped[rows, reporter[rows]] = picture.pedigree[at[rows], reporter[rows]]
        return other & self.policy.releasable(ped, picture.category[at], dest)


def picture_rows(pictures: list[SystemTracks], nations: tuple[str, ...]) -> dict[str, Any] | None:
    """System tracks of successive steps as rows of `PICTURE_SCHEMA`."""
    pictures = [p for p in pictures if len(p)]
    if not pictures:
        return None
    x = np.concatenate([p.x for p in pictures])
    p_all = np.concatenate([p.P for p in pictures])
    lat, lon, alt = ecef_to_geodetic(x[:, 0:3])
    sigma = np.sqrt(np.maximum(np.diagonal(p_all, axis1=1, axis2=2), 0.0))
    contributed = np.concatenate([p.pedigree for p in pictures]) != 0
    code = contributed.astype(np.int64) @ (1 << np.arange(len(nations), dtype=np.int64))
    codes, inverse = np.unique(code, return_inverse=True)
    names_of = [
        "+".join(n for k, n in enumerate(nations) if int(c) >> k & 1) for c in codes
    ]  # one label per distinct set of contributors
    labels = np.asarray(names_of, dtype=object)[inverse.reshape(-1)]
    return {
        "time_s": np.concatenate([np.full(len(p), p.time_s) for p in pictures]),
        "track_id": np.concatenate([p.number for p in pictures]),
        "status": np.full(len(x), "confirmed", dtype=object),
        **position_columns(x[:, 0:3], x[:, 3:6], lat, lon, alt),
        **{name: sigma[:, i] for i, name in enumerate(SIGMA_COLUMNS)},
        "quality": np.concatenate([p.quality for p in pictures]).astype(np.int8),
        "category": np.asarray(CATEGORIES, dtype=object)[np.concatenate([p.category for p in pictures])],
        "pedigree": labels,
        "n_sources": np.concatenate([p.n_sources for p in pictures]),
        "reporter": np.asarray(nations, dtype=object)[np.concatenate([p.reporter for p in pictures])],
    }


def track_rows(cols: dict[str, NDArray[np.generic]]) -> dict[str, Any]:
    """`Tracker.tracks_at` columns as rows of `TRACK_SCHEMA`."""
    pos = np.stack([cols["x_m"], cols["y_m"], cols["z_m"]], axis=-1).astype(np.float64)
    vel = np.stack([cols["vx_m_per_s"], cols["vy_m_per_s"], cols["vz_m_per_s"]], axis=-1).astype(np.float64)
    lat, lon, alt = ecef_to_geodetic(pos)
    p = np.asarray(cols["P"], dtype=np.float64)
    sigma = np.sqrt(np.maximum(np.diagonal(p, axis1=1, axis2=2), 0.0))
    return {
        "time_s": cols["time_s"],
        "track_id": cols["track_id"],
        "status": cols["status"],
        **position_columns(pos, vel, lat, lon, alt),
        **{name: sigma[:, i] for i, name in enumerate(SIGMA_COLUMNS)},
        "quality": cols["quality"],
        "n_updates": cols["n_updates"],
        "last_sensor_id": cols["last_sensor_id"],
    }
