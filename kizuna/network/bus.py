"""Buses: how nodes' messages travel. `Bus` is the interface; `SimulatedBus` steps in simulated
time with a link model per pair of nations; the Zenoh bus for live nodes is in
`kizuna.network.zenoh_bus`.

The link model (one per pair of nations, both directions, from the scenario's ``[[network.links]]``):

* **bandwidth** — each direction is a queue: a message leaves when the link has finished sending
  the ones before it, taking ``8·bytes / bandwidth_bps`` seconds; a message that would wait more
  than `MAX_QUEUE_S` is dropped (``congestion``);
* **latency** — one-way delay drawn from a normal law (mean ``latency_s``, s.d. ``jitter_s``),
  truncated at zero, so messages can overtake each other;
* **loss** — each message is lost with probability ``loss`` (``lost``);
* **outages** — a message that would be on the link during an outage is lost (``outage``); a
  partition is an outage of every link that crosses it;
* nations with no link between them cannot talk (``no-link``).

Every draw comes from the run's seed (one stream per direction), so the same run gives the same
deliveries. The bus records each message's fate per destination for ``messages.parquet``.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from kizuna.rng import stream
from kizuna.scenario.schema import Link

__all__ = ["FATES", "MAX_QUEUE_S", "Bus", "Delivery", "FaultyBus", "SimulatedBus"]

MAX_QUEUE_S = 5.0
"""A message that would wait longer than this for a link's bandwidth is dropped."""

FATES = ("delivered", "lost", "outage", "congestion", "no-link")


class Bus(Protocol):
    """What a node needs of a network: send bytes to partners, and take what has arrived."""

    def send(
        self, sender: str, to: Sequence[str], data: bytes, now_s: float, *, seq: int = -1, n_tracks: int = 0
    ) -> None:
        """Send ``data`` from ``sender`` to each nation in ``to`` (a separate copy each); ``seq`` and
        ``n_tracks`` describe the message for the log."""
        ...

    def receive(self, nation: str, now_s: float) -> list[bytes]:
        """Messages for ``nation`` that have arrived by ``now_s``, in arrival order."""
        ...


@dataclass
class Delivery:
    """One message to one destination: a row of ``messages.parquet``."""

    sent_s: float
    sender: str
    receiver: str
    seq: int
    n_bytes: int
    n_tracks: int
    fate: str
    arrival_s: float = float("nan")


@dataclass
class _Direction:
    link: Link
    rng: np.random.Generator
    busy_until_s: float = 0.0


@dataclass
class SimulatedBus:
    """A deterministic simulated network (module docstring): ``links`` from the scenario, ``seed``
    the run's seed; `log` holds every message's `Delivery`."""

    links: Sequence[Link]
    seed: int
    log: list[Delivery] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._dir: dict[tuple[str, str], _Direction] = {}
        for link in self.links:
            a, b = link.nations
            for s, r in ((a, b), (b, a)):
                self._dir[(s, r)] = _Direction(link, stream(self.seed, f"link:{s}->{r}"))
        self._queues: dict[str, list[tuple[float, int, bytes]]] = {}
        self._count = 0

    def send(
        self, sender: str, to: Sequence[str], data: bytes, now_s: float, *, seq: int = -1, n_tracks: int = 0
    ) -> None:
        for receiver in to:
            if receiver == sender:
                continue
            record = Delivery(now_s, sender, receiver, seq, len(data), n_tracks, "delivered")
            self.log.append(record)
            d = self._dir.get((sender, receiver))
            if d is None:
                record.fate = "no-link"
                continue
            link = d.link
            # Both draws every time, so one message's fate never shifts the next one's draws.
            lost = d.rng.random() < link.loss
            latency = max(0.0, link.latency_s + link.jitter_s * d.rng.standard_normal())
            start = max(now_s, d.busy_until_s)
            if start - now_s > MAX_QUEUE_S:
                record.fate = "congestion"
                continue
            done = start + 8.0 * len(data) / link.bandwidth_bps
            d.busy_until_s = done
            arrival = done + latency
            if any(o.start_s < arrival and o.end_s > now_s for o in link.outages):
                record.fate = "outage"
                continue
            if lost:
                record.fate = "lost"
                continue
            record.arrival_s = arrival
            heapq.heappush(self._queues.setdefault(receiver, []), (arrival, self._count, data))
            self._count += 1

    def receive(self, nation: str, now_s: float) -> list[bytes]:
        queue = self._queues.get(nation, [])
        out: list[bytes] = []
        while queue and queue[0][0] <= now_s:
            out.append(heapq.heappop(queue)[2])
        return out

    def in_flight(self) -> int:
        """Messages sent and not yet taken by their receiver."""
        return sum(len(q) for q in self._queues.values())


@dataclass
class FaultyBus:
    """Faults injected around any bus, for exercises and tests of live nodes: each received
    message is lost with probability ``loss``; during each ``cut`` window (start, end) in
    scenario seconds the node is cut off — nothing leaves, nothing arrives (what arrives is
    discarded). Draws come from ``seed``."""

    inner: Bus
    loss: float = 0.0
    cut: Sequence[tuple[float, float]] = ()
    seed: int = 0
    dropped: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.loss < 1.0:
            raise ValueError(f"loss must be in [0, 1), got {self.loss}")
        for start, end in self.cut:
            if not end > start:
                raise ValueError(f"a cut window must end after it starts, got ({start}, {end})")
        self._rng = np.random.default_rng(self.seed)

    def _cut(self, now_s: float) -> bool:
        return any(start <= now_s < end for start, end in self.cut)

    def send(
        self, sender: str, to: Sequence[str], data: bytes, now_s: float, *, seq: int = -1, n_tracks: int = 0
    ) -> None:
        if self._cut(now_s):
            self.dropped += len(to)
            return
        self.inner.send(sender, to, data, now_s, seq=seq, n_tracks=n_tracks)

    def receive(self, nation: str, now_s: float) -> list[bytes]:
        got = self.inner.receive(nation, now_s)
        if self._cut(now_s):
            self.dropped += len(got)
            return []
        keep = self._rng.random(len(got)) >= self.loss
        self.dropped += int((~keep).sum())
        return [m for m, k in zip(got, keep, strict=True) if k]
