"""Feeds into a live node: CoT, DIS and ASTERIX CAT062 received over UDP become detections.

``kizuna node … --feed-cot udp://127.0.0.1:6969 --feed-dis udp://127.0.0.1:3000
--feed-asterix udp://127.0.0.1:8600`` listens on those addresses. Each decoded record becomes a
``position`` detection (ECEF fix with a covariance) of a pseudo-sensor ``<NATION>-feed-<format>``
whose source kind is ``external``. The node's own tracker tracks them like any other sensor, and
its reports to partners carry the ``external`` bit, which release rules can allow or withhold.

* **CoT**: the event's point; covariance from ``ce`` (1-σ horizontal) and ``le`` (1-σ vertical),
  rotated from local east-north-up to ECEF; unknown errors (9999999) use ``default_sigma_m``;
  the time is the event's ``time``.
* **DIS**: the Entity State location (ECEF); DIS carries no accuracy, so ``default_sigma_m`` on
  each axis; the time is the arrival time (a DIS timestamp is only the time past the hour).
* **ASTERIX CAT062**: WGS-84 position and geometric altitude (0 if absent), ``default_sigma_m``;
  the time of track resolved to the UTC day nearest the node's clock.

Records that cannot be decoded are counted and logged by the listeners, and the feed keeps
running. A record with a time older than the node's re-processing window is counted by the tracker
and skipped.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from kizuna.constants import DEG
from kizuna.frames import enu_rotation, geodetic_to_ecef
from kizuna.interop.asterix import AsterixListener, Cat062Record, resolve_time_of_track
from kizuna.interop.cot import COT_UNKNOWN_ERROR_M, CotEvent, CotListener
from kizuna.interop.dis import DisListener, EntityState
from kizuna.interop.outputs import Output
from kizuna.sensors.detections import MEASUREMENT_KINDS, Z_MAX, DetectionBatch

__all__ = ["Feeds", "feed_sensor_id"]

_POSITION = MEASUREMENT_KINDS.index("position")


def feed_sensor_id(nation: str, fmt: str) -> str:
    """The pseudo-sensor a feed's detections carry."""
    return f"{nation}-feed-{fmt}"


class Feeds:
    """UDP feeds of one node (module docstring). ``clock`` gives the node's scenario time now;
    `take` returns the detections received with times up to a step's time."""

    def __init__(
        self,
        nation: str,
        feeds: Sequence[Output],
        epoch_utc: datetime,
        clock: Callable[[], float],
        *,
        default_sigma_m: float = 500.0,
    ) -> None:
        self.nation = nation
        self.feeds = list(feeds)
        self.epoch = epoch_utc
        self.clock = clock
        self.sigma_m = float(default_sigma_m)
        self._lock = threading.Lock()
        self._rows: list[tuple[float, str, np.ndarray, np.ndarray]] = []
        self._listeners: list[Any] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None
        self._next_id = 1 << 40

    # --- lifecycle -------------------------------------------------------------------------------

    def start(self) -> Feeds:
        for feed in self.feeds:
            if feed.fmt == "cot":
                self._start_cot(feed)
            elif feed.fmt == "dis":
                self._listeners.append(DisListener(self._on_dis, host=feed.host, port=feed.port).start())
            elif feed.fmt == "asterix":
                listener = AsterixListener(feed.port, host=feed.host, callback=self._on_asterix)
                self._listeners.append(listener.start())
        return self

    def _start_cot(self, feed: Output) -> None:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._loop_thread = threading.Thread(target=self._loop.run_forever, name="cot-feed", daemon=True)
            self._loop_thread.start()
        listener = CotListener(self._on_cot, host=feed.host, port=feed.port)
        asyncio.run_coroutine_threadsafe(listener.start(), self._loop).result(timeout=10)
        self._listeners.append(listener)

    def close(self) -> None:
        for listener in self._listeners:
            if isinstance(listener, CotListener):
                if self._loop is not None:
                    self._loop.call_soon_threadsafe(listener.close)
            elif hasattr(listener, "close"):
                listener.close()
            else:
                listener.stop()
        self._listeners.clear()
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._loop_thread is not None:
                self._loop_thread.join(timeout=5)
            self._loop.close()
            self._loop = None

    def __enter__(self) -> Feeds:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def rejected(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for listener in self._listeners:
            name = type(listener).__name__
            for reason, n in dict(getattr(listener, "rejected", {})).items():
                out[f"{name}:{reason}"] = out.get(f"{name}:{reason}", 0) + n
        return out

    # --- callbacks (listener threads) ------------------------------------------------------------

    def _add(self, time_s: float, fmt: str, pos: np.ndarray, cov: np.ndarray) -> None:
        if not (np.isfinite(time_s) and np.isfinite(pos).all() and np.isfinite(cov).all()):
            return
        with self._lock:
            self._rows.append((float(time_s), feed_sensor_id(self.nation, fmt), pos, cov))

    def _enu_cov(self, lat_deg: float, lon_deg: float, sh_m: float, sv_m: float) -> np.ndarray:
        rot = enu_rotation(lat_deg * DEG, lon_deg * DEG)
        return rot.T @ np.diag([sh_m**2, sh_m**2, sv_m**2]) @ rot

    def _on_cot(self, event: CotEvent) -> None:
        pos = np.asarray(geodetic_to_ecef(event.lat_deg * DEG, event.lon_deg * DEG, event.hae_m)).reshape(3)
        ce = self.sigma_m if event.ce_m >= COT_UNKNOWN_ERROR_M else max(event.ce_m, 1.0)
        le = self.sigma_m if event.le_m >= COT_UNKNOWN_ERROR_M else max(event.le_m, 1.0)
        time_s = (event.time - self.epoch).total_seconds()
        self._add(time_s, "cot", pos, self._enu_cov(event.lat_deg, event.lon_deg, ce, le))

    def _on_dis(self, state: EntityState) -> None:
        pos = np.asarray(state.location_m, dtype=np.float64)
        self._add(self.clock(), "dis", pos, np.eye(3) * self.sigma_m**2)

    def _on_asterix(self, records: Sequence[Cat062Record], source: object = None) -> None:
        for record in records:
            if record.lat_deg is None or record.lon_deg is None:
                continue
            alt = record.geometric_alt_m if record.geometric_alt_m is not None else 0.0
            pos = np.asarray(geodetic_to_ecef(record.lat_deg * DEG, record.lon_deg * DEG, alt)).reshape(3)
            near = self.epoch + timedelta(seconds=self.clock())
            time_s = (resolve_time_of_track(record.time_of_day_s, near) - self.epoch).total_seconds()
            self._add(time_s, "asterix", pos, np.eye(3) * self.sigma_m**2)

    # --- the node's side -------------------------------------------------------------------------

    def take(self, upto_s: float) -> DetectionBatch:
        """Detections received with times up to ``upto_s``, sorted by time (later ones wait)."""
        with self._lock:
            ready = [r for r in self._rows if r[0] <= upto_s]
            self._rows = [r for r in self._rows if r[0] > upto_s]
        if not ready:
            return DetectionBatch.empty()
        ready.sort(key=lambda r: (r[0], r[1]))
        m = len(ready)
        z = np.full((m, Z_MAX), np.nan)
        cov = np.full((m, Z_MAX, Z_MAX), np.nan)
        z[:, :3] = np.stack([r[2] for r in ready])
        cov[:, :3, :3] = np.stack([r[3] for r in ready])
        ids = np.arange(self._next_id, self._next_id + m, dtype=np.int64)
        self._next_id += m
        return DetectionBatch(
            detection_id=ids,
            time_s=np.array([r[0] for r in ready]),
            sensor_id=np.array([r[1] for r in ready], dtype=object),
            kind=np.full(m, _POSITION, dtype=np.int8),
            z=z,
            cov=cov,
            sensor_pos_m=np.zeros((m, 3)),
            sensor_vel_m_per_s=np.zeros((m, 3)),
        )
