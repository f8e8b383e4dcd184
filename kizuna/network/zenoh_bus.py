"""The live bus: one node's `Bus` over Zenoh, peer to peer, no router.

Each node is its own process with its own `ZenohBus`. A message from nation S to nation D is put
on the key ``{coalition}/tracks/{D}/{S}``, and a node subscribes to ``{coalition}/tracks/{me}/*``,
so it only ever receives what was addressed to it: the sender chooses the keys from the release
rules, and the signatures checked above the bus (`kizuna.network.signing`) stop forgeries. The bus
only carries bytes.

* **No silent loss.** Track messages go with ``CongestionControl.BLOCK`` and reliable reliability:
  a slow receiver slows the sender down rather than losing reports (Zenoh's default, DROP, loses
  some of a burst sent flat out). Publishers number their messages (miss detection), so a gap a
  receiver sees is counted in `ZenohBus.missed` and logged. Zenoh's own session close drops what is
  still queued to a slow partner, so `ZenohBus.close` first waits for partners to confirm
  (`ZenohBus.flush`).
* **Late joiners.** Each destination key has one *advanced publisher* (``zenoh.ext``), declared on
  the first send and kept, caching its last ``cache_samples`` messages and announcing itself
  (publisher detection); the node's *advanced subscriber* asks every publisher it finds, now or
  later, for that history. So a partner that starts (or restarts) late gets each sender's latest
  report at once instead of waiting for the next one. It needs timestamping on, which `ZenohBus`
  sets. (A queryable answered from a dict of latest reports would also do; the advanced API keeps
  it to one declaration per key and also finds publishers that appear after the subscriber.)
* **Threading.** Zenoh delivers samples on its own threads. The subscriber callback only copies the
  payload's bytes into a bounded queue; the node drains it with `ZenohBus.receive` once a step. A
  full queue drops the message and counts it (`ZenohBus.dropped`): Zenoh's threads never block on
  us. The warning about drops is logged by `receive`, on the node's thread.
* **Presence.** Each bus declares a liveliness token ``{coalition}/nodes/{me}`` after its
  subscriber, so `ZenohBus.partners` (nations whose buses are up and listening) and
  `ZenohBus.peers` (Zenoh sessions connected) let a node say at start "no peer reachable at …"
  rather than publish into the void.

Endpoints are checked before Zenoh sees them; a malformed one, or a listen port already in use,
raises `BusError` naming it. A ``connect`` peer that does not answer is not an error: peers may
start later, and Zenoh keeps trying in the background.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

import zenoh
import zenoh.ext

__all__ = ["DEFAULT_QUEUE_MAX", "BusError", "ZenohBus", "check_endpoint"]

DEFAULT_QUEUE_MAX = 100_000
"""Messages a bus holds for its node before it drops new arrivals."""

_log = logging.getLogger("kizuna.network")

_IP_PROTOCOLS = ("tcp", "udp", "tls", "quic", "ws")
_ENDPOINT = re.compile(r"^(?P<proto>[a-z0-9-]+)/(?P<address>[^?#]+?)(?P<metadata>\?[^#]*)?(?P<config>#.*)?$")
_HOST_PORT = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(?P<port>[0-9]{1,5})$")
_CHUNK = re.compile(r"^[A-Za-z0-9_.-]+$")
_CONNECT_RETRY = '{"period_init_ms": 100, "period_max_ms": 1000, "period_increase_factor": 2}'
"""Retry unreachable peers quickly: partners are often started a moment after each other."""


LEASE_MS = 2_000
"""How long a peer may stay silent before its session is closed (Zenoh's default is 10 s): a
killed partner is noticed within 2 s, and puts to it stop waiting on a dead link."""


class BusError(RuntimeError):
    """The bus cannot start: a bad endpoint, a port in use, or Zenoh refusing to open."""


def check_endpoint(endpoint: str) -> str:
    """``endpoint`` if it reads ``<protocol>/<host>:<port>`` (``tcp/127.0.0.1:7447``); else `BusError`
    saying what was expected."""
    m = _ENDPOINT.match(endpoint) if isinstance(endpoint, str) else None
    if m is None:
        example = "e.g. 'tcp/127.0.0.1:7447'"
        raise BusError(f"bad endpoint {endpoint!r}: expected <protocol>/<host>:<port>, {example}")
    proto, address = m["proto"], m["address"]
    if proto == "unixsock-stream":
        return endpoint
    if proto not in _IP_PROTOCOLS:
        raise BusError(f"bad endpoint {endpoint!r}: protocol {proto!r} is not one of "
                       f"{', '.join((*_IP_PROTOCOLS, 'unixsock-stream'))}")  # fmt: skip
    hp = _HOST_PORT.match(address)
    if hp is None:
        raise BusError(f"bad endpoint {endpoint!r}: expected <host>:<port> after '{proto}/', "
                       f"e.g. '{proto}/127.0.0.1:7447'")  # fmt: skip
    if int(hp["port"]) > 65535:
        raise BusError(f"bad endpoint {endpoint!r}: port {hp['port']} is not in 0–65535")
    return endpoint


def _check_chunk(what: str, value: str) -> str:
    if not isinstance(value, str) or _CHUNK.match(value) is None:
        raise ValueError(f"{what} {value!r} cannot be part of a key: use letters, digits, '_', '-' or '.'")
    return value


def _one_line(error: BaseException) -> str:
    """Zenoh's message without its Rust source locations: the first line, cut at ' at /'."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text.split(" at /", 1)[0]


class ZenohBus:
    """One live node's `kizuna.network.bus.Bus` over Zenoh (module docstring).

    ``listen`` and ``connect`` are Zenoh endpoints (``tcp/127.0.0.1:7447``); ``coalition`` prefixes
    every key, so two coalitions on one network never mix; ``cache_samples`` is how many past
    messages per (sender, destination) a late joiner receives; ``open_timeout_s`` bounds the
    handshake with one peer. Use as a context manager, or call `open` and `close`.
    """

    def __init__(
        self,
        nation: str,
        *,
        listen: Sequence[str],
        connect: Sequence[str],
        coalition: str = "kizuna",
        cache_samples: int = 1,
        open_timeout_s: float = 5.0,
        queue_max: int = DEFAULT_QUEUE_MAX,
    ) -> None:
        self.nation = _check_chunk("nation", nation)
        self.coalition = _check_chunk("coalition", coalition)
        if isinstance(listen, str) or isinstance(connect, str):
            raise TypeError("listen and connect are lists of endpoints, not a single string")
        self.listen = [check_endpoint(e) for e in listen]
        self.connect = [check_endpoint(e) for e in connect]
        if cache_samples < 1:
            raise ValueError(f"cache_samples must be at least 1, not {cache_samples}")
        if not open_timeout_s > 0:
            raise ValueError(f"open_timeout_s must be positive, not {open_timeout_s}")
        if queue_max < 1:
            raise ValueError(f"queue_max must be at least 1, not {queue_max}")
        self.cache_samples = int(cache_samples)
        self.open_timeout_s = float(open_timeout_s)
        self.queue_max = int(queue_max)

        self.sent = 0
        """Messages put, one per destination."""
        self.received = 0
        """Messages that arrived and were queued for the node."""
        self.dropped = 0
        """Messages that arrived while the queue was full, and were dropped."""
        self.missed = 0
        """Messages a sender sent this node that never arrived (gaps in its sequence numbers)."""

        self._queue: deque[bytes] = deque()
        self._ready = threading.Condition(threading.Lock())
        self._dropped_reported = 0
        self._missed_reported = 0
        self._present: set[str] = set()
        self._present_lock = threading.Lock()
        self._session: zenoh.Session | None = None
        self._publishers: dict[str, Any] = {}
        self._declared: list[Any] = []
        self._closed = False

    # --- lifecycle -------------------------------------------------------------------------------

    def open(self) -> Self:
        """Start the Zenoh session, the subscriber and the presence token; `BusError` if Zenoh
        refuses (a port in use, an address it cannot use)."""
        if self._session is not None:
            return self
        if self._closed:
            raise BusError(f"{self.nation}: this bus was closed; make a new ZenohBus")
        try:
            session = zenoh.open(self._config())
        except zenoh.ZError as e:
            raise BusError(self._explain(e)) from None
        self._session = session
        try:
            me = f"{self.coalition}/tracks/{self.nation}/*"
            history = zenoh.ext.HistoryConfig(detect_late_publishers=True, max_samples=self.cache_samples)
            subscriber = zenoh.ext.declare_advanced_subscriber(session, me, self._on_sample, history=history)
            self._declared.append(subscriber)
            self._declared.append(subscriber.sample_miss_listener(self._on_miss))
            nodes = session.liveliness()
            self._declared.append(nodes.declare_subscriber(f"{self.coalition}/nodes/*", self._on_presence,
                                                           history=True))  # fmt: skip
            self._declared.append(session.declare_queryable(f"{self.coalition}/flush/{self.nation}",
                                                            _answer_flush))  # fmt: skip
            self._declared.append(nodes.declare_token(f"{self.coalition}/nodes/{self.nation}"))
        except zenoh.ZError as e:
            self.close()
            raise BusError(f"{self.nation}: Zenoh refused a declaration: {_one_line(e)}") from None
        _log.info("%s: Zenoh bus open (zid %s), listening on %s, connecting to %s", self.nation,
                  session.zid(), self.listen or "nothing", self.connect or "nobody")  # fmt: skip
        return self

    def close(self, flush_timeout_s: float = 2.0) -> None:
        """`flush` (for at most ``flush_timeout_s``), undeclare everything and close the session;
        safe to call twice."""
        if self._session is not None and not self._closed and self._publishers:
            try:
                if not self.flush(flush_timeout_s):
                    _log.warning("%s: closing before every partner confirmed all it was sent", self.nation)
            except zenoh.ZError as e:
                _log.warning("%s: flush before close failed: %s", self.nation, _one_line(e))
        self._closed = True
        session, self._session = self._session, None
        if session is None:
            return
        entities = [*self._publishers.values(), *reversed(self._declared)]
        self._publishers.clear()
        self._declared.clear()
        for entity in entities:
            try:
                entity.undeclare()
            except zenoh.ZError as e:  # the session may already be going down
                _log.debug("%s: undeclare failed: %s", self.nation, _one_line(e))
        session.close()
        with self._ready:
            self._ready.notify_all()

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- the Bus protocol ------------------------------------------------------------------------

    def send(
        self, sender: str, to: Sequence[str], data: bytes, now_s: float, *, seq: int = -1, n_tracks: int = 0
    ) -> None:
        """Put ``data`` on ``{coalition}/tracks/{D}/{sender}`` for each D in ``to`` but ``sender``.
        Blocks while the network is congested rather than drop (``CongestionControl.BLOCK``)."""
        if sender != self.nation:
            raise ValueError(f"this bus sends for {self.nation!r}, not {sender!r}")
        for receiver in to:
            if receiver == sender:
                continue
            self._publisher(receiver).put(data)
            self.sent += 1

    def receive(self, nation: str, now_s: float) -> list[bytes]:
        """Every message that has arrived for this node since the last call, in arrival order."""
        if nation != self.nation:
            raise ValueError(f"this bus receives for {self.nation!r}, not {nation!r}")
        with self._ready:
            out = list(self._queue)
            self._queue.clear()
            dropped, missed = self.dropped, self.missed
        if missed > self._missed_reported:
            _log.warning("%s: %d message(s) sent to this node never arrived (%d in all)", self.nation,
                         missed - self._missed_reported, missed)  # fmt: skip
            self._missed_reported = missed
        if dropped > self._dropped_reported:
            _log.warning("%s: receive queue full (%d messages): %d message(s) dropped since the last "
                         "report, %d in all", self.nation, self.queue_max, dropped - self._dropped_reported,
                         dropped)  # fmt: skip
            self._dropped_reported = dropped
        return out

    def flush(self, timeout_s: float = 2.0) -> bool:
        """Wait until each partner that is up and that this bus has sent to has taken in all it was
        sent; False if one has not confirmed within ``timeout_s``. (A partner that is down has
        nothing in flight: Zenoh routes nothing to a node it does not know.)

        A delivery barrier: a query to each partner's flush queryable travels behind the messages,
        on the same priority and congestion control, so the answer comes after them. Zenoh's own
        close drops what is still queued to a slow partner, so `close` flushes first."""
        if self._session is None:
            return False
        present = self.partners()
        pending = [
            self._session.get(f"{self.coalition}/flush/{receiver}", target=zenoh.QueryTarget.ALL,
                              timeout=timeout_s, congestion_control=zenoh.CongestionControl.BLOCK,
                              priority=zenoh.Priority.DATA, express=False)
            for receiver in self._publishers if receiver in present
        ]  # fmt: skip
        return all([any(reply.ok is not None for reply in replies) for replies in pending])

    # --- presence and waiting --------------------------------------------------------------------

    @property
    def zid(self) -> str:
        """This bus's Zenoh session id ("" when not open), as `peers` lists it on its partners."""
        return "" if self._session is None else str(self._session.zid())

    def peers(self) -> list[str]:
        """Zenoh ids of the peer sessions connected now (any coalition)."""
        if self._session is None:
            return []
        return [str(z) for z in self._session.info.peers_zid()]

    def wait_for_peers(self, n: int, timeout_s: float) -> bool:
        """Wait until at least ``n`` peers are connected; False if they were not within ``timeout_s``."""
        return _poll(lambda: len(self.peers()) >= n, timeout_s)

    def partners(self) -> set[str]:
        """Nations of this coalition whose buses are up and subscribed now (this one left out)."""
        with self._present_lock:
            return self._present - {self.nation}

    def wait_for_partners(self, nations: Sequence[str], timeout_s: float) -> bool:
        """Wait until every nation in ``nations`` (but this one) has its bus up and subscribed, so
        that what is sent to it now reaches it; False if not within ``timeout_s``."""
        wanted = set(nations) - {self.nation}
        return _poll(lambda: wanted <= self.partners(), timeout_s)

    def wait_for(self, nation: str, n: int, timeout_s: float) -> list[bytes]:
        """Wait until ``n`` messages have arrived (or ``timeout_s`` has passed), then take them all
        as `receive` does. For tests and tools."""
        if nation != self.nation:
            raise ValueError(f"this bus receives for {self.nation!r}, not {nation!r}")
        deadline = time.monotonic() + timeout_s
        with self._ready:
            while len(self._queue) < n and self._session is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._ready.wait(left)
        return self.receive(nation, 0.0)

    # --- below -----------------------------------------------------------------------------------

    def _config(self) -> zenoh.Config:
        config = zenoh.Config()
        timeout_ms = str(max(1, round(1000 * self.open_timeout_s)))
        settings = {
            "mode": '"peer"',
            "scouting/multicast/enabled": "false",
            "timestamping/enabled": "true",
            "listen/endpoints": json.dumps(self.listen),
            "connect/endpoints": json.dumps(self.connect),
            "connect/retry": _CONNECT_RETRY,
            "transport/unicast/open_timeout": timeout_ms,
            "transport/unicast/accept_timeout": timeout_ms,
            "transport/link/tx/lease": str(LEASE_MS),
        }
        for key, value in settings.items():
            try:
                config.insert_json5(key, value)
            except zenoh.ZError as e:
                raise BusError(f"{self.nation}: Zenoh refused {key} = {value}: {_one_line(e)}") from None
        return config

    def _explain(self, error: zenoh.ZError) -> str:
        """One line for a failed `zenoh.open`, naming the endpoint when Zenoh's message does."""
        text = _one_line(error)
        named = [e for e in (*self.listen, *self.connect) if e in str(error)]
        where = named[0] if named else ", ".join(self.listen) or "no endpoint"
        if "already in use" in str(error).lower():
            return f"{self.nation}: cannot listen on {where}: address already in use (another node there?)"
        return f"{self.nation}: cannot open the Zenoh bus on {where}: {text}"

    def _publisher(self, receiver: str) -> Any:
        pub = self._publishers.get(receiver)
        if pub is not None:
            return pub
        if self._session is None:
            raise BusError(f"{self.nation}: the bus is not open")
        key = f"{self.coalition}/tracks/{_check_chunk('destination', receiver)}/{self.nation}"
        pub = zenoh.ext.declare_advanced_publisher(
            self._session,
            key,
            congestion_control=zenoh.CongestionControl.BLOCK,
            reliability=zenoh.Reliability.RELIABLE,
            cache=zenoh.ext.CacheConfig(self.cache_samples),
            sample_miss_detection=zenoh.ext.MissDetectionConfig(),
            publisher_detection=True,
        )
        self._publishers[receiver] = pub
        return pub

    def _on_sample(self, sample: zenoh.Sample) -> None:
        """Zenoh's thread: copy the bytes and queue them, nothing else; never block."""
        data = sample.payload.to_bytes()
        with self._ready:
            if len(self._queue) >= self.queue_max:
                self.dropped += 1
                return
            self._queue.append(data)
            self.received += 1
            self._ready.notify_all()

    def _on_miss(self, miss: zenoh.ext.Miss) -> None:
        """Zenoh's thread: a sender's sequence numbers jumped; count the messages lost."""
        with self._ready:
            self.missed += miss.nb

    def _on_presence(self, sample: zenoh.Sample) -> None:
        """Zenoh's thread: note a partner's token appearing or going."""
        nation = str(sample.key_expr).rsplit("/", 1)[-1]
        with self._present_lock:
            if sample.kind == zenoh.SampleKind.PUT:
                self._present.add(nation)
            else:
                self._present.discard(nation)


def _answer_flush(query: zenoh.Query) -> None:
    """Zenoh's thread: everything sent before this query has been taken in; say so."""
    query.reply(query.key_expr, b"")


def _poll(done: Any, timeout_s: float, period_s: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() >= deadline:
            return False
        time.sleep(period_s)
    return True
