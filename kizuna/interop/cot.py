"""Cursor-on-Target (CoT): a picture out as CoT XML events, strict decoding in, UDP and TCP transport.

CoT is the XML event format of the TAK ecosystem (MITRE's Event schema 2.0): one ``<event>`` with
the attributes ``version uid type how time start stale``, exactly one ``<point lat lon hae ce le>``
and a free-form ``<detail>``. Facts used here are listed in docs of the schema and in
docs/interop.md.

Encoding (`cot_events`), one event per picture row:

* ``uid`` is ``kizuna-<track_id>``: the system track number is common across nations, so every
  nation's feed names the same track the same way and a TAK client replaces, not duplicates, it.
* ``type`` follows the CoT atom tree ``a-<affiliation>-<dimension>-…`` (`COT_TYPE_BY_CATEGORY`):
  ``air`` → ``a-<aff>-A`` (air track, no further function claimed); ``missile`` →
  ``a-<aff>-A-W-M`` (air / weapon / missile in flight, the 2525 air-track branch CoT copies);
  ``space`` → ``a-<aff>-P`` (battle dimension P = space in MIL-STD-2525B, which CoT's second
  letter follows; some third-party tables read ``P`` as "pending" — we follow 2525B). Anything
  else → ``a-<aff>-X`` (dimension X, "other"). The affiliation defaults to ``u`` (unknown): a
  surveillance picture does not identify friend or foe.
* ``how`` is ``m-f``: machine-generated, fused. Every row is a system track fused from one or
  more nations' sensor tracks (``pedigree``); ``m-f`` also for single-source tracks, since they
  are still the output of the tracker's fusion, not raw measurements.
* ``time`` = ``start`` = epoch + ``time_s`` (the instant the track state pertains to, which in
  Kizuna is also when the picture row was produced), to the nearest millisecond (half up), written
  ``YYYY-MM-DDTHH:MM:SS.mmmZ``; ``stale`` = time + ``stale_s``.
* ``<point>``: ``lat``/``lon`` geodetic WGS-84 degrees; ``hae`` = ``alt_m``, the height above the
  WGS-84 ellipsoid (not MSL: CoT's ``hae`` is ellipsoidal, as is Kizuna's altitude). ``ce`` and
  ``le`` are 1-sigma metres: the picture carries only the ECEF standard deviations
  ``sigma_{x,y,z}_m`` (no cross terms), so the covariance is taken as ``diag(σx², σy², σz²)`` in
  ECEF and rotated to ENU at the track, ``C_enu = R diag(σ²) Rᵀ``; then
  ``ce = sqrt((C_ee + C_nn) / 2)`` (the per-axis RMS horizontal 1-sigma; equals σ for a circular
  error) and ``le = sqrt(C_uu)``. A missing (NaN) sigma gives 9999999, CoT's "unknown".
* ``<detail>``: ``<track course speed slope/>`` — course in degrees clockwise from true north in
  [0, 360), horizontal speed in m/s, slope (climb angle) in degrees, from the ECEF velocity rotated
  to ENU at the track; ``<kizuna track_number quality category pedigree reporter n_sources/>``;
  ``<remarks>`` with the release marking.

Rows whose position is not finite produce no event (logged once per call): batches report per
element, they do not raise.

Decoding (`parse_cot`) is strict and never raises anything but `CotError` on bad bytes: size cap
64 KiB, `defusedxml` with DTDs forbidden (so billion-laughs and external entities are refused
before expansion), root ``event``, required attributes present and well-formed, exactly one
``point``, finite numbers in range.

Transport: `CotListener` is an asyncio UDP endpoint (one datagram = one event, as TAK clients send
on UDP); `send_udp` a blocking sender; `CotTcpClient` a blocking TCP streamer that writes events
back to back with no separator (TAK servers and pytak frame a stream on ``</event>``).
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import logging
import math
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape, quoteattr

import defusedxml
import defusedxml.ElementTree as DefusedET
import numpy as np
import pandas as pd

from kizuna.frames import ecef_vector_to_enu, enu_rotation
from kizuna.timebase import require_utc

__all__ = [
    "COT_TYPE_BY_CATEGORY",
    "COT_UNKNOWN_ERROR_M",
    "HOW_FUSED",
    "MAX_EVENT_BYTES",
    "XML_DECLARATION",
    "CotConnectionError",
    "CotError",
    "CotEvent",
    "CotListener",
    "CotTcpClient",
    "cot_events",
    "cot_type",
    "encode_tak_v1",
    "parse_cot",
    "send_udp",
    "track_course_speed",
]

_log = logging.getLogger(__name__)

XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>'
"""Every event starts with it: takproto.parse_proto returns None for XML without ``<?xml``."""

MAX_EVENT_BYTES = 64 * 1024
"""Decoder size cap. A track event is ~700 bytes; a UDP datagram is at most 65,507 bytes."""

COT_UNKNOWN_ERROR_M = 9_999_999.0
"""CoT's value for an unknown ``ce``/``le`` (Event schema 2.0)."""

HOW_FUSED = "m-f"
"""``how`` of every event we write: machine-generated, fused (see module docstring)."""

COT_TYPE_BY_CATEGORY: dict[str, str] = {"air": "A", "missile": "A-W-M", "space": "P"}
"""Picture ``category`` → the CoT type after ``a-<affiliation>-``; other categories get ``X``."""

_AFFILIATIONS = frozenset("fhupansjkox")
"""CoT affiliation letters: friend, hostile, unknown, pending, assumed friend, neutral, suspect,
joker, faker, none (o), other (x)."""

_REQUIRED_COLUMNS = (
    "time_s", "track_id", "vx_m_per_s", "vy_m_per_s", "vz_m_per_s", "lat_deg", "lon_deg", "alt_m",
    "sigma_x_m", "sigma_y_m", "sigma_z_m", "quality", "category", "pedigree", "reporter",
)  # fmt: skip


class CotError(ValueError):
    """A CoT message that Kizuna refuses; ``reason`` is a short stable code for counters."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        super().__init__(f"{reason}: {detail}" if detail else reason)


class CotConnectionError(ConnectionError):
    """No CoT/TAK endpoint accepts our connection."""


# --------------------------------------------------------------------------------------- encoding


def cot_type(category: str, affiliation: str = "u") -> str:
    """The CoT type of a track of `category` (``air``/``missile``/``space``) and `affiliation`."""
    _check_affiliation(affiliation)
    return f"a-{affiliation}-{COT_TYPE_BY_CATEGORY.get(category, 'X')}"


def _check_affiliation(affiliation: str) -> None:
    if affiliation not in _AFFILIATIONS:
        raise ValueError(
            f"affiliation {affiliation!r} is not a CoT affiliation letter; expected one of "
            f"{''.join(sorted(_AFFILIATIONS))} (e.g. 'u' unknown, 'h' hostile, 'f' friend)"
        )


def track_course_speed(
    vel_m_per_s: np.ndarray, lat_deg: np.ndarray, lon_deg: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Course (deg from true north, clockwise, [0, 360)), horizontal speed (m/s) and slope (deg).

    ``vel_m_per_s`` is ``(N, 3)`` ECEF; it is rotated to ENU at each (lat, lon):
    ``course = atan2(v_e, v_n)``, ``speed = hypot(v_e, v_n)``, ``slope = atan2(v_u, speed)``.
    """
    v_enu = ecef_vector_to_enu(vel_m_per_s, np.radians(lat_deg), np.radians(lon_deg))
    ve, vn, vu = v_enu[..., 0], v_enu[..., 1], v_enu[..., 2]
    speed = np.hypot(ve, vn)
    course = np.mod(np.degrees(np.arctan2(ve, vn)), 360.0)
    course = np.where(course >= 360.0, 0.0, course)  # mod of -tiny rounds to 360.0
    slope = np.degrees(np.arctan2(vu, speed))
    return course, speed, slope


def _ce_le_m(sigma_m: np.ndarray, lat_deg: np.ndarray, lon_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal (ce) and vertical (le) 1-sigma from ECEF per-axis sigmas (see module docstring)."""
    rot = enu_rotation(np.radians(lat_deg), np.radians(lon_deg))  # (N, 3, 3), rows e, n, u
    var_enu = np.einsum("nij,nj->ni", rot**2, sigma_m**2)  # diag of R diag(σ²) Rᵀ
    ce = np.sqrt((var_enu[:, 0] + var_enu[:, 1]) / 2.0)
    le = np.sqrt(var_enu[:, 2])
    ce = np.where(np.isfinite(ce), ce, COT_UNKNOWN_ERROR_M)
    le = np.where(np.isfinite(le), le, COT_UNKNOWN_ERROR_M)
    return ce, le


def _iso_ms(epoch_utc: dt.datetime, offset_s: np.ndarray) -> np.ndarray:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ`` strings of epoch + offset_s, to the nearest millisecond.

    Summed in microseconds (the datetime's own resolution), then rounded half up to milliseconds.
    """
    epoch_us = np.datetime64(epoch_utc.replace(tzinfo=None), "us")
    offset_us = np.rint(offset_s * 1e6).astype(np.int64).astype("timedelta64[us]")
    when_ms = (epoch_us + offset_us + np.timedelta64(500, "us")).astype("datetime64[ms]")
    return np.char.add(np.datetime_as_string(when_ms, unit="ms"), "Z")


def cot_events(
    picture: pd.DataFrame,
    epoch_utc: dt.datetime,
    *,
    stale_s: float = 30.0,
    affiliation: str = "u",
    release_marking: str = "REL TO USA, JPN, AUS",
) -> list[bytes]:
    """One CoT event (UTF-8 XML bytes with declaration) per picture row, in row order.

    `picture` has the columns of `kizuna.recording.PICTURE_SCHEMA`; `epoch_utc` is the scenario
    epoch (timezone-aware). Rows with a non-finite position are skipped and logged.
    """
    epoch_utc = require_utc(epoch_utc)
    _check_affiliation(affiliation)
    if not (math.isfinite(stale_s) and stale_s > 0):
        raise ValueError(f"stale_s must be a positive number of seconds, got {stale_s!r}")
    missing = [c for c in _REQUIRED_COLUMNS if c not in picture.columns]
    if missing:
        raise ValueError(
            f"picture lacks columns {missing}; expected the columns of kizuna.recording.PICTURE_SCHEMA"
        )
    if len(picture) == 0:
        return []

    lat = picture["lat_deg"].to_numpy(np.float64)
    lon = picture["lon_deg"].to_numpy(np.float64)
    alt = picture["alt_m"].to_numpy(np.float64)
    t_s = picture["time_s"].to_numpy(np.float64)
    ok = np.isfinite(lat) & np.isfinite(lon) & np.isfinite(alt) & np.isfinite(t_s)
    ok &= (np.abs(lat) <= 90.0) & (np.abs(lon) <= 180.0)
    if not ok.all():
        _log.warning("cot_events: %d of %d rows have no valid position/time; skipped", (~ok).sum(), len(ok))

    vel = picture[["vx_m_per_s", "vy_m_per_s", "vz_m_per_s"]].to_numpy(np.float64)
    sigma = picture[["sigma_x_m", "sigma_y_m", "sigma_z_m"]].to_numpy(np.float64)
    course, speed, slope = track_course_speed(vel, lat, lon)
    ce, le = _ce_le_m(sigma, lat, lon)
    t_s_safe = np.where(ok, t_s, 0.0)
    time_str = _iso_ms(epoch_utc, t_s_safe)
    stale_str = _iso_ms(epoch_utc, t_s_safe + stale_s)
    types = np.array([cot_type(str(c), affiliation) for c in picture["category"]], dtype=object)
    has_velocity = np.isfinite(course) & np.isfinite(speed) & np.isfinite(slope)

    remarks = escape(release_marking)
    track_id = picture["track_id"].to_numpy()
    quality = picture["quality"].to_numpy()
    n_sources = picture["n_sources"].to_numpy() if "n_sources" in picture.columns else None
    category = picture["category"].to_numpy()
    pedigree = picture["pedigree"].to_numpy()
    reporter = picture["reporter"].to_numpy()

    events: list[bytes] = []
    for i in np.flatnonzero(ok):
        track_xml = (
            f'<track course="{course[i]:.9f}" speed="{speed[i]:.6f}" slope="{slope[i]:.9f}"/>'
            if has_velocity[i]
            else ""
        )
        n_src = f' n_sources="{int(n_sources[i])}"' if n_sources is not None else ""
        xml = (
            f'<event version="2.0" uid={quoteattr(f"kizuna-{int(track_id[i])}")} type="{types[i]}"'
            f' how="{HOW_FUSED}" time="{time_str[i]}" start="{time_str[i]}" stale="{stale_str[i]}">'
            f'<point lat="{lat[i]:.9f}" lon="{lon[i]:.9f}" hae="{alt[i]:.3f}"'
            f' ce="{ce[i]:.3f}" le="{le[i]:.3f}"/>'
            f"<detail>{track_xml}"
            f'<kizuna track_number="{int(track_id[i])}" quality="{int(quality[i])}"'
            f" category={quoteattr(str(category[i]))} pedigree={quoteattr(str(pedigree[i]))}"
            f" reporter={quoteattr(str(reporter[i]))}{n_src}/>"
            f"<remarks>{remarks}</remarks></detail></event>"
        )
        events.append(XML_DECLARATION + xml.encode("utf-8"))
    return events


def encode_tak_v1(xml: bytes) -> bytes:
    """TAK protocol v1 stream framing of a CoT XML event: ``0xbf <varint length> <protobuf>``."""
    import takproto  # optional dependency, imported only where used

    return bytes(takproto.xml2proto(xml, takproto.TAKProtoVer.STREAM))


# --------------------------------------------------------------------------------------- decoding


@dataclass(frozen=True)
class CotEvent:
    """A decoded CoT event; times are timezone-aware UTC, errors 1-sigma metres (9999999 unknown)."""

    uid: str
    type: str
    how: str
    time: dt.datetime
    start: dt.datetime
    stale: dt.datetime
    lat_deg: float
    lon_deg: float
    hae_m: float
    ce_m: float
    le_m: float
    course_deg: float | None = None
    speed_m_per_s: float | None = None
    track_number: int | None = None
    quality: int | None = None
    category: str | None = None
    pedigree: str | None = None
    reporter: str | None = None
    remarks: str | None = None


_TYPE_RE = re.compile(r"[A-Za-z0-9_.]+(-[A-Za-z0-9_.]+)*(;[^;]*)?")
_HOW_RE = re.compile(r"[A-Za-z0-9_]+(-[A-Za-z0-9_]+)*")
_NUMBER_RE = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_INT_RE = re.compile(r"[+-]?\d{1,18}")
_TIME_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})")


def _attr(elem: Element, name: str, where: str) -> str:
    value = elem.get(name)
    if value is None:
        raise CotError("missing-attribute", f"<{where}> has no {name!r} attribute")
    return value.strip()


def _number(text: str, name: str) -> float:
    if not _NUMBER_RE.fullmatch(text):
        raise CotError("bad-number", f"{name}={text[:40]!r} is not a decimal number")
    value = float(text)
    if not math.isfinite(value):
        raise CotError("bad-number", f"{name}={text[:40]!r} is not finite")
    return value


def _optional_int(elem: Element, name: str) -> int | None:
    text = elem.get(name)
    if text is None:
        return None
    if not _INT_RE.fullmatch(text.strip()):
        raise CotError("bad-number", f"{name}={text[:40]!r} is not an integer")
    return int(text)


def _time(text: str, name: str) -> dt.datetime:
    m = _TIME_RE.fullmatch(text)
    if not m:
        raise CotError("bad-time", f"{name}={text[:40]!r} is not an xs:dateTime with a timezone (…Z)")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    micro = int((m.group(7) or "0")[:6].ljust(6, "0"))
    zone = m.group(8)
    try:
        if zone == "Z":
            tz = dt.UTC
        else:
            sign = 1 if zone[0] == "+" else -1
            tz = dt.timezone(sign * dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
        when = dt.datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)
        return when.astimezone(dt.UTC)
    except (ValueError, OverflowError) as exc:
        raise CotError("bad-time", f"{name}={text[:40]!r}: {exc}") from None


def _fromstring(data: bytes) -> Element:
    try:
        return DefusedET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DTDForbidden:
        raise CotError("forbidden-dtd", "a DOCTYPE (entity declarations) is refused") from None
    except defusedxml.EntitiesForbidden:
        raise CotError("forbidden-entity", "entity declarations are refused") from None
    except defusedxml.ExternalReferenceForbidden:
        raise CotError("forbidden-external", "external references are refused") from None
    except ParseError as exc:
        raise CotError("malformed-xml", str(exc)) from None
    except (ValueError, LookupError, UnicodeError) as exc:  # e.g. an unknown declared encoding
        raise CotError("malformed-xml", f"{type(exc).__name__}: {exc}") from None


def parse_cot(data: bytes) -> CotEvent:
    """Decode one CoT XML event strictly; any defect raises `CotError` with a ``reason`` code.

    Checks: at most `MAX_EVENT_BYTES`; no DTD/entities; root ``event``; ``version`` ≥ 2.0;
    ``uid``, ``type``, ``how`` well-formed; ``time``/``start``/``stale`` xs:dateTime with timezone
    and ``stale`` not before ``start``; exactly one ``point`` whose ``lat`` ∈ [-90, 90],
    ``lon`` ∈ [-180, 180], ``hae`` finite, ``ce``/``le`` ≥ 0; optional ``detail/track``
    ``course``/``speed`` finite (speed ≥ 0) and ``detail/kizuna`` fields.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise CotError("not-bytes", f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > MAX_EVENT_BYTES:
        raise CotError("too-large", f"{len(data)} bytes > {MAX_EVENT_BYTES}")
    root = _fromstring(data)
    if root.tag != "event":
        raise CotError("not-event", f"root element is <{str(root.tag)[:40]}>, expected <event>")

    version = _number(_attr(root, "version", "event"), "version")
    if version < 2.0:
        raise CotError("bad-version", f"version {version} < 2.0")
    uid = _attr(root, "uid", "event")
    if not uid or len(uid) > 256:
        raise CotError("bad-uid", "uid must be 1–256 characters")
    type_ = _attr(root, "type", "event")
    if not _TYPE_RE.fullmatch(type_):
        raise CotError("bad-type", f"type={type_[:40]!r} is not a CoT type such as a-u-A")
    how = _attr(root, "how", "event")
    if not _HOW_RE.fullmatch(how):
        raise CotError("bad-how", f"how={how[:40]!r} is not a CoT how such as m-f")
    time = _time(_attr(root, "time", "event"), "time")
    start = _time(_attr(root, "start", "event"), "start")
    stale = _time(_attr(root, "stale", "event"), "stale")
    if stale < start:
        raise CotError("stale-before-start", f"stale {stale.isoformat()} < start {start.isoformat()}")

    points = root.findall("point")
    if len(points) != 1:
        raise CotError("bad-point-count", f"{len(points)} <point> elements, expected exactly one")
    point = points[0]
    lat = _number(_attr(point, "lat", "point"), "lat")
    lon = _number(_attr(point, "lon", "point"), "lon")
    hae = _number(_attr(point, "hae", "point"), "hae")
    ce = _number(_attr(point, "ce", "point"), "ce")
    le = _number(_attr(point, "le", "point"), "le")
    if not -90.0 <= lat <= 90.0:
        raise CotError("bad-latitude", f"lat {lat} outside [-90, 90]")
    if not -180.0 <= lon <= 180.0:
        raise CotError("bad-longitude", f"lon {lon} outside [-180, 180]")
    if ce < 0.0 or le < 0.0:
        raise CotError("bad-error", f"ce {ce} / le {le} must be ≥ 0")

    fields: dict[str, Any] = {}
    details = root.findall("detail")
    if len(details) > 1:
        raise CotError("bad-detail-count", f"{len(details)} <detail> elements, expected at most one")
    if details:
        fields = _detail_fields(details[0])
    return CotEvent(uid, type_, how, time, start, stale, lat, lon, hae, ce, le, **fields)


def _detail_fields(detail: Element) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    track = detail.find("track")
    if track is not None:
        if track.get("course") is not None:
            fields["course_deg"] = _number(track.get("course", "").strip(), "course")
        if track.get("speed") is not None:
            speed = _number(track.get("speed", "").strip(), "speed")
            if speed < 0.0:
                raise CotError("bad-speed", f"speed {speed} < 0")
            fields["speed_m_per_s"] = speed
    kz = detail.find("kizuna")
    if kz is not None:
        fields["track_number"] = _optional_int(kz, "track_number")
        fields["quality"] = _optional_int(kz, "quality")
        for name in ("category", "pedigree", "reporter"):
            fields[name] = kz.get(name)
    remarks = detail.find("remarks")
    if remarks is not None:
        fields["remarks"] = remarks.text or ""
    return fields


# -------------------------------------------------------------------------------------- transport


class _ListenerProtocol(asyncio.DatagramProtocol):
    def __init__(self, listener: CotListener) -> None:
        self._listener = listener

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self._listener._handle(data, addr)

    def error_received(self, exc: Exception) -> None:  # ICMP errors etc.: log, keep listening
        _log.debug("CoT listener socket error: %s", exc)


class CotListener:
    """A UDP CoT receiver on asyncio: one datagram = one event.

    Each datagram is decoded with `parse_cot`; a good event goes to `callback` and counts in
    ``accepted``, a bad one counts in ``rejected[reason]`` and is logged — WARNING (with the
    source address) the first time a reason is seen, DEBUG after — and never stops the listener.
    An exception raised by `callback` is logged and counted as ``rejected["callback-error"]``.

    Use ``async with CotListener(cb, port=0) as lst:`` (``lst.port`` is the bound port) or
    ``await start()`` / ``close()``.
    """

    def __init__(self, callback: Callable[[CotEvent], None], host: str = "127.0.0.1", port: int = 0) -> None:
        self.callback = callback
        self.host = host
        self.requested_port = port
        self.accepted = 0
        self.rejected: collections.Counter[str] = collections.Counter()
        self._transport: asyncio.DatagramTransport | None = None

    @property
    def port(self) -> int:
        """The bound UDP port (after `start`)."""
        if self._transport is None:
            raise RuntimeError("CotListener is not started; await start() first")
        return int(self._transport.get_extra_info("sockname")[1])

    async def start(self) -> CotListener:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _ListenerProtocol(self), local_addr=(self.host, self.requested_port)
        )
        self._transport = transport
        return self

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    async def __aenter__(self) -> CotListener:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def _reject(self, reason: str, addr: Any, detail: str) -> None:
        self.rejected[reason] += 1
        level = logging.WARNING if self.rejected[reason] == 1 else logging.DEBUG
        _log.log(level, "CoT from %s rejected (%s): %s", addr, reason, detail[:200])

    def _handle(self, data: bytes, addr: Any) -> None:
        try:
            event = parse_cot(data)
        except CotError as exc:
            self._reject(exc.reason, addr, str(exc))
            return
        try:
            self.callback(event)
        except Exception as exc:  # a consumer bug must not stop the feed
            self._reject("callback-error", addr, f"{type(exc).__name__}: {exc}")
            return
        self.accepted += 1


def send_udp(events: Iterable[bytes], host: str, port: int) -> int:
    """Send each event as one UDP datagram to ``host:port``; returns the number sent."""
    n = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for event in events:
            if len(event) > 65_507:
                raise ValueError(f"a {len(event)}-byte event does not fit one UDP datagram (65,507 max)")
            sock.sendto(event, (host, port))
            n += 1
    return n


class CotTcpClient:
    """A blocking TCP CoT streamer (e.g. to a TAK server's plain CoT port 8087).

    Events are written back to back with no separator; receivers frame on ``</event>``.
    Connects on construction; raises `CotConnectionError` naming the endpoint when refused.
    """

    def __init__(self, host: str, port: int, *, timeout_s: float = 5.0) -> None:
        self.host, self.port = host, port
        try:
            self._sock: socket.socket | None = socket.create_connection((host, port), timeout=timeout_s)
        except ConnectionRefusedError:
            raise CotConnectionError(
                f"connection refused by tcp://{host}:{port}: no CoT/TAK server is listening there; "
                "start the server or check the host and port (TAK servers take plain CoT on 8087)"
            ) from None
        except TimeoutError:
            raise CotConnectionError(
                f"tcp://{host}:{port} did not answer within {timeout_s} s; check the host and firewall"
            ) from None

    def send(self, events: Iterable[bytes]) -> int:
        """Write the events; returns bytes written."""
        if self._sock is None:
            raise CotConnectionError(f"tcp://{self.host}:{self.port}: client is closed")
        payload = b"".join(events)
        try:
            self._sock.sendall(payload)
        except OSError as exc:
            raise CotConnectionError(f"tcp://{self.host}:{self.port}: send failed: {exc}") from None
        return len(payload)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> CotTcpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
