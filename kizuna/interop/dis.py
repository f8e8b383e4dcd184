"""DIS Entity State PDUs (IEEE 1278.1): a picture out as PDUs, PDUs in through a strict decoder.

Encoding (`entity_state_pdus`) is vectorised: one big-endian NumPy structured dtype, `ESPDU_DTYPE`,
describes the 144-byte Entity State PDU with no variable parameters; a picture fills its columns
all at once and the PDUs are slices of one ``tobytes()``. `parse_entity_state` is the strict
decoder; `DisSender` and `DisListener` carry PDUs over UDP.

Layout (IEEE 1278.1-2012 §7.2.2; byte offsets, big-endian throughout):

====== ========================================================================================
0      header: protocol version (7), exercise id, PDU type (1), family (1), timestamp (u32),
       length (u16), PDU status (u8), padding (u8)
12     entity id: site, application, entity number (3 × u16)
18     force id (u8), number of variable parameters (u8)
20     entity type: kind, domain (u8), country (u16), category, subcategory, specific, extra (u8)
28     alternative entity type (same record; we send the entity type again)
36     linear velocity, ECEF, float32 × 3 [m/s]
48     location, ECEF, float64 × 3 [m]
72     orientation ψ, θ, φ, float32 × 3 [rad]
84     appearance (u32, we send 0)
88     dead reckoning: algorithm (u8), 15 other bytes, linear acceleration and angular
       velocity (float32 × 3 each, we send 0)
128    marking: character set (u8, 1 = ASCII), 11 characters, NUL-padded
140    capabilities (u32, we send 0)
144    variable parameter records, 16 bytes each (we send none)
====== ========================================================================================

Conventions chosen here (certainty noted):

* **Timestamp** (certain, IEEE 1278.1 §6.2.88): time past the UTC hour in units of 3600 s / 2³¹
  (≈ 1.676 µs) in the upper 31 bits, and the low bit set to 1 = *absolute* time (our times are
  UTC from the scenario epoch). The hour itself is not carried; a receiver takes it from its clock.
* **Entity number** (our choice): ``track_id mod 65533 + 1``, in 1…65533, because 0 means "no
  entity" and 65534/65535 are reserved (RQST_ASSIGN_ID and ALL_ENTITIES). It is stateless, so
  every node maps a system track the same way, but two track ids 65533 apart collide; the
  marking carries the full track number (mod 10¹¹) to tell them apart.
* **Entity type** (SISO-REF-010; kind and platform domain values certain, munition fields less
  so): air → kind 1 platform, domain 2 air; space → kind 1 platform, domain 5 space; missile →
  kind 2 munition, domain 0 "other" (for munitions the domain field is the *munition domain*,
  anti-air, strategic, …, which a kinematic category cannot tell). Country 0 (other) and
  category/subcategory/specific/extra 0 (other): a surveillance picture has no identification.
  An unknown category string gets the all-zero type (kind 0, other).
* **Force id** (SISO-REF-010, certain): 0 other, 1 friendly, 2 opposing, 3 neutral; default 0,
  since the picture has no affiliation.
* **Orientation** (IEEE 1278.1 §1.3.2/§6.2.33, certain): Tait-Bryan angles from the ECEF (DIS
  "world") axes to the body axes (x forward, y right, z down): yaw ψ about Z, then pitch θ about
  the new Y, then roll φ about the new X, so that the body-to-ECEF matrix is Rz(ψ)·Ry(θ)·Rx(φ).
  The body x axis is the velocity direction and the wings are level (body y horizontal in the
  local tangent plane); a vertical track takes body y = east and a still one points north.
* **Dead reckoning** (certain): algorithm 2, DRM(F, P, W) — constant velocity, world frame, no
  rotation — with zero acceleration and angular velocity.
* **Marking**: character set 1 (ASCII), the decimal track number (mod 10¹¹ so it fits).

The decoder accepts protocol versions 5 (DIS 1995), 6 (1998) and 7 (2012); for 5 and 6 the bytes
the 2012 header calls PDU status are padding and are read as such.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from kizuna.frames import ecef_to_geodetic, unit_vector
from kizuna.timebase import require_utc

__all__ = [
    "CATEGORY_ENTITY_TYPES",
    "DIS_ERROR_REASONS",
    "ESPDU_DTYPE",
    "ESPDU_LENGTH",
    "KNOWN_PROTOCOL_VERSIONS",
    "DisError",
    "DisListener",
    "DisSender",
    "EntityState",
    "dis_timestamp",
    "entity_number",
    "entity_state_pdus",
    "euler_from_velocity",
    "parse_entity_state",
]

_log = logging.getLogger(__name__)

ESPDU_LENGTH = 144
"""Bytes of an Entity State PDU with no variable parameters."""
VARIABLE_PARAMETER_LENGTH = 16
PROTOCOL_VERSION = 7
"""IEEE 1278.1-2012 (DIS 7)."""
KNOWN_PROTOCOL_VERSIONS = frozenset({5, 6, 7})
PDU_TYPE_ENTITY_STATE = 1
FAMILY_ENTITY_INFORMATION = 1
DEAD_RECKONING_FPW = 2
CHARSET_ASCII = 1
TIMESTAMP_UNITS_PER_HOUR = 2**31
SECONDS_PER_HOUR = 3600.0
MAX_ENTITY_NUMBER = 65533
"""Highest ordinary entity number: 65534 is RQST_ASSIGN_ID and 65535 ALL_ENTITIES."""
MARKING_CHARS = 11
_MARKING_MODULUS = 10**MARKING_CHARS

CATEGORY_ENTITY_TYPES: dict[str, tuple[int, int, int, int, int, int, int]] = {
    "air": (1, 2, 0, 0, 0, 0, 0),
    "missile": (2, 0, 0, 0, 0, 0, 0),
    "space": (1, 5, 0, 0, 0, 0, 0),
}
"""Entity type (kind, domain, country, category, subcategory, specific, extra) of each picture
category (module docstring: which values are certain)."""

_VEC_F4 = (">f4", (3,))
_VEC_F8 = (">f8", (3,))
ESPDU_DTYPE = np.dtype(
    [
        ("protocol_version", "u1"),
        ("exercise_id", "u1"),
        ("pdu_type", "u1"),
        ("family", "u1"),
        ("timestamp", ">u4"),
        ("length", ">u2"),
        ("pdu_status", "u1"),
        ("padding", "u1"),
        ("site", ">u2"),
        ("application", ">u2"),
        ("entity", ">u2"),
        ("force_id", "u1"),
        ("n_variable_parameters", "u1"),
        ("kind", "u1"),
        ("domain", "u1"),
        ("country", ">u2"),
        ("category", "u1"),
        ("subcategory", "u1"),
        ("specific", "u1"),
        ("extra", "u1"),
        ("alt_type", "u1", (8,)),
        ("velocity", _VEC_F4),
        ("location", _VEC_F8),
        ("orientation", _VEC_F4),
        ("appearance", ">u4"),
        ("dr_algorithm", "u1"),
        ("dr_other", "u1", (15,)),
        ("dr_acceleration", _VEC_F4),
        ("dr_angular_velocity", _VEC_F4),
        ("marking_charset", "u1"),
        ("marking", "S11"),
        ("capabilities", ">u4"),
    ]
)
"""One Entity State PDU without variable parameters, field by field (module docstring table)."""
if ESPDU_DTYPE.itemsize != ESPDU_LENGTH:  # pragma: no cover - guards an edit of the table above
    raise RuntimeError(f"ESPDU_DTYPE is {ESPDU_DTYPE.itemsize} bytes, expected {ESPDU_LENGTH}")

DIS_ERROR_REASONS: dict[str, str] = {
    "too-short": f"fewer than {ESPDU_LENGTH} bytes, the size of an Entity State PDU",
    "length-mismatch": "the header's length field differs from the datagram's size",
    "bad-version": f"protocol version not one of {sorted(KNOWN_PROTOCOL_VERSIONS)}",
    "not-entity-state": f"PDU type is not {PDU_TYPE_ENTITY_STATE} (Entity State)",
    "bad-family": f"protocol family is not {FAMILY_ENTITY_INFORMATION} (Entity Information)",
    "bad-variable-parameters": (
        f"the variable parameter count disagrees with the length ({ESPDU_LENGTH} + "
        f"{VARIABLE_PARAMETER_LENGTH} bytes per parameter)"
    ),
    "not-finite": "a location, velocity or orientation value is NaN or infinite",
    "bad-marking": "the marking is not ASCII (character set 0 or 1 with bytes below 128)",
}
"""Why `parse_entity_state` refuses a PDU (the ``reason`` of `DisError`)."""


class DisError(ValueError):
    """A PDU refused by `parse_entity_state`; ``reason`` is a key of `DIS_ERROR_REASONS` and
    ``detail`` says what was found."""

    def __init__(self, reason: str, detail: str) -> None:
        if reason not in DIS_ERROR_REASONS:
            raise ValueError(f"unknown DisError reason {reason!r}; expected one of {DIS_ERROR_REASONS}")
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail} ({DIS_ERROR_REASONS[reason]})")


@dataclass(frozen=True)
class EntityState:
    """A decoded Entity State PDU; vectors are ECEF tuples, angles radians, times seconds."""

    protocol_version: int
    exercise_id: int
    timestamp: int
    """The raw 32-bit DIS timestamp."""
    time_past_hour_s: float
    timestamp_absolute: bool
    site: int
    application: int
    entity: int
    force_id: int
    entity_type: tuple[int, int, int, int, int, int, int]
    """(kind, domain, country, category, subcategory, specific, extra)."""
    alternative_entity_type: tuple[int, int, int, int, int, int, int]
    velocity_m_per_s: tuple[float, float, float]
    location_m: tuple[float, float, float]
    orientation_rad: tuple[float, float, float]
    """(ψ, θ, φ): module docstring for the convention."""
    appearance: int
    dead_reckoning_algorithm: int
    linear_acceleration_m_per_s2: tuple[float, float, float]
    angular_velocity_rad_per_s: tuple[float, float, float]
    marking_charset: int
    marking: str
    capabilities: int
    variable_parameters: tuple[bytes, ...]
    """Raw 16-byte variable parameter records, undecoded."""


# --- Encoding ------------------------------------------------------------------------------------

_REQUIRED_COLUMNS = (
    "time_s",
    "track_id",
    "category",
    "x_m",
    "y_m",
    "z_m",
    "vx_m_per_s",
    "vy_m_per_s",
    "vz_m_per_s",
)


def dis_timestamp(epoch_utc: datetime, time_s: NDArray[np.float64] | float) -> NDArray[np.uint32]:
    """Absolute DIS timestamps of instants ``time_s`` seconds after ``epoch_utc``.

    IEEE 1278.1 §6.2.88: ``units = floor(seconds_past_hour / 3600 · 2³¹)`` in bits 31…1, bit 0 = 1
    (absolute, i.e. UTC-synchronised).
    """
    epoch = require_utc(epoch_utc)
    epoch_past_hour_s = epoch.minute * 60.0 + epoch.second + epoch.microsecond * 1e-6
    past_hour_s = np.mod(epoch_past_hour_s + np.asarray(time_s, dtype=np.float64), SECONDS_PER_HOUR)
    units = np.floor(past_hour_s * (TIMESTAMP_UNITS_PER_HOUR / SECONDS_PER_HOUR)).astype(np.int64)
    units = np.clip(units, 0, TIMESTAMP_UNITS_PER_HOUR - 1)
    return ((units << 1) | 1).astype(np.uint32)


def entity_number(track_id: NDArray[np.int64] | int) -> NDArray[np.uint16]:
    """DIS entity number of system track ``track_id``: ``track_id mod 65533 + 1`` (module docstring)."""
    return (np.mod(np.asarray(track_id, dtype=np.int64), MAX_ENTITY_NUMBER) + 1).astype(np.uint16)


def euler_from_velocity(pos_m: NDArray[np.float64], vel_m_per_s: NDArray[np.float64]) -> NDArray[np.float64]:
    """DIS Euler angles ``(N, 3)`` = (ψ, θ, φ) [rad] of bodies flying along their ECEF velocity,
    wings level, at ECEF positions ``pos_m (N, 3)``.

    Body axes in ECEF: x = v/|v|, y = (x × up)/|x × up| (right wing, horizontal), z = x × y.
    With R = [x y z] = Rz(ψ)·Ry(θ)·Rx(φ): ψ = atan2(x_y, x_x), θ = −asin(x_z), φ = atan2(y_z, z_z).
    "Up" is the ellipsoid normal at the geodetic latitude of ``pos_m``.
    """
    pos = np.atleast_2d(np.asarray(pos_m, dtype=np.float64))
    vel = np.atleast_2d(np.asarray(vel_m_per_s, dtype=np.float64))
    lat, lon, _ = ecef_to_geodetic(pos)
    up = unit_vector(lat, lon)
    east = np.stack([-np.sin(lon), np.cos(lon), np.zeros_like(lon)], axis=-1)
    north = np.cross(up, east)
    speed = np.linalg.norm(vel, axis=-1, keepdims=True)
    x_axis = np.where(speed > 0.0, vel / np.where(speed > 0.0, speed, 1.0), north)
    y_axis = np.cross(x_axis, up)
    y_norm = np.linalg.norm(y_axis, axis=-1, keepdims=True)
    vertical = y_norm < 1e-12
    # Straight up or down: wings along east (the roll is arbitrary there).
    y_axis = np.where(vertical, east, y_axis / np.where(vertical, 1.0, y_norm))
    z_axis = np.cross(x_axis, y_axis)
    psi = np.arctan2(x_axis[:, 1], x_axis[:, 0])
    theta = -np.arcsin(np.clip(x_axis[:, 2], -1.0, 1.0))
    phi = np.arctan2(y_axis[:, 2], z_axis[:, 2])
    return np.stack([psi, theta, phi], axis=-1)


def entity_state_pdus(
    picture: pd.DataFrame,
    epoch_utc: datetime,
    *,
    site: int = 1,
    application: int = 1,
    exercise: int = 1,
    force_id: int = 0,
) -> list[bytes]:
    """One 144-byte Entity State PDU per row of ``picture`` (columns of
    `kizuna.recording.PICTURE_SCHEMA`), in row order.

    Rows whose position or velocity is not finite are left out (a receiver would refuse them) and
    counted in one warning. Conventions and enumerations: module docstring.
    """
    missing = [c for c in _REQUIRED_COLUMNS if c not in picture.columns]
    if missing:
        raise ValueError(
            f"picture lacks columns {missing}; expected the columns of "
            "kizuna.recording.PICTURE_SCHEMA (e.g. read_table(folder, 'picture_JPN').to_pandas())"
        )
    for name, value, top in (
        ("site", site, 65535),
        ("application", application, 65535),
        ("exercise", exercise, 255),
        ("force_id", force_id, 255),
    ):
        if not 0 <= int(value) <= top:
            raise ValueError(f"{name}={value!r} is outside 0…{top}, the range of its DIS field")
    pos = picture[["x_m", "y_m", "z_m"]].to_numpy(dtype=np.float64)
    vel = picture[["vx_m_per_s", "vy_m_per_s", "vz_m_per_s"]].to_numpy(dtype=np.float64)
    finite = np.isfinite(pos).all(axis=1) & np.isfinite(vel).all(axis=1)
    if not finite.all():
        _log.warning(
            "DIS: %d of %d picture rows have a non-finite state and get no PDU",
            int((~finite).sum()),
            len(finite),
        )
    pos, vel = pos[finite], vel[finite]
    time_s = picture["time_s"].to_numpy(dtype=np.float64)[finite]
    track_id = picture["track_id"].to_numpy(dtype=np.int64)[finite]
    category = picture["category"].to_numpy(dtype=object)[finite]

    n = len(pos)
    rec = np.zeros(n, dtype=ESPDU_DTYPE)
    rec["protocol_version"] = PROTOCOL_VERSION
    rec["exercise_id"] = exercise
    rec["pdu_type"] = PDU_TYPE_ENTITY_STATE
    rec["family"] = FAMILY_ENTITY_INFORMATION
    rec["timestamp"] = dis_timestamp(epoch_utc, time_s)
    rec["length"] = ESPDU_LENGTH
    rec["site"] = site
    rec["application"] = application
    rec["entity"] = entity_number(track_id)
    rec["force_id"] = force_id
    types = np.zeros((n, 7), dtype=np.int64)
    for name, entity_type in CATEGORY_ENTITY_TYPES.items():  # per category, not per track
        types[category == name] = entity_type
    for i, field in enumerate(("kind", "domain", "country", "category", "subcategory", "specific", "extra")):
        rec[field] = types[:, i]
    alt = np.zeros((n, 8), dtype=np.uint8)
    alt[:, 0], alt[:, 1] = types[:, 0], types[:, 1]
    alt[:, 2], alt[:, 3] = types[:, 2] >> 8, types[:, 2] & 0xFF
    alt[:, 4:8] = types[:, 3:7]
    rec["alt_type"] = alt
    rec["velocity"] = vel
    rec["location"] = pos
    rec["orientation"] = euler_from_velocity(pos, vel) if n else np.zeros((0, 3))
    rec["dr_algorithm"] = DEAD_RECKONING_FPW
    rec["marking_charset"] = CHARSET_ASCII
    rec["marking"] = np.mod(track_id, _MARKING_MODULUS).astype("S11")
    blob = rec.tobytes()
    return [blob[i : i + ESPDU_LENGTH] for i in range(0, len(blob), ESPDU_LENGTH)]


# --- Decoding ------------------------------------------------------------------------------------


def _vec(v: NDArray[np.floating]) -> tuple[float, float, float]:
    return (float(v[0]), float(v[1]), float(v[2]))


_EntityType = tuple[int, int, int, int, int, int, int]


def _type(kind: int, domain: int, country: int, rest: Iterable[int]) -> _EntityType:
    c, s, sp, e = (int(x) for x in rest)
    return (int(kind), int(domain), int(country), c, s, sp, e)


def parse_entity_state(data: bytes) -> EntityState:
    """Decode one Entity State PDU strictly, or raise `DisError` (reasons in `DIS_ERROR_REASONS`)."""
    data = bytes(data)
    if len(data) < ESPDU_LENGTH:
        raise DisError("too-short", f"{len(data)} bytes")
    r = np.frombuffer(data, dtype=ESPDU_DTYPE, count=1)[0]
    if int(r["protocol_version"]) not in KNOWN_PROTOCOL_VERSIONS:
        raise DisError("bad-version", f"version {int(r['protocol_version'])}")
    if int(r["pdu_type"]) != PDU_TYPE_ENTITY_STATE:
        raise DisError("not-entity-state", f"PDU type {int(r['pdu_type'])}")
    if int(r["family"]) != FAMILY_ENTITY_INFORMATION:
        raise DisError("bad-family", f"family {int(r['family'])}")
    length = int(r["length"])
    if length != len(data):
        raise DisError("length-mismatch", f"length field {length}, datagram {len(data)} bytes")
    n_var = int(r["n_variable_parameters"])
    if ESPDU_LENGTH + VARIABLE_PARAMETER_LENGTH * n_var != length:
        raise DisError(
            "bad-variable-parameters",
            f"{n_var} parameters need {ESPDU_LENGTH + VARIABLE_PARAMETER_LENGTH * n_var} bytes, got {length}",
        )
    vel, loc, ori = r["velocity"].astype(np.float64), r["location"].astype(np.float64), r["orientation"]
    if not (np.isfinite(vel).all() and np.isfinite(loc).all() and np.isfinite(ori).all()):
        raise DisError(
            "not-finite",
            f"location {loc.tolist()}, velocity {vel.tolist()}, orientation "
            f"{ori.astype(np.float64).tolist()}",
        )
    charset = int(r["marking_charset"])
    raw_marking = data[129:140]
    if charset not in (0, CHARSET_ASCII) or any(b >= 0x80 for b in raw_marking):
        raise DisError("bad-marking", f"character set {charset}, bytes {raw_marking!r}")
    timestamp = int(r["timestamp"])
    alt = r["alt_type"]
    return EntityState(
        protocol_version=int(r["protocol_version"]),
        exercise_id=int(r["exercise_id"]),
        timestamp=timestamp,
        time_past_hour_s=(timestamp >> 1) * (SECONDS_PER_HOUR / TIMESTAMP_UNITS_PER_HOUR),
        timestamp_absolute=bool(timestamp & 1),
        site=int(r["site"]),
        application=int(r["application"]),
        entity=int(r["entity"]),
        force_id=int(r["force_id"]),
        entity_type=_type(
            r["kind"], r["domain"], r["country"], (r["category"], r["subcategory"], r["specific"], r["extra"])
        ),
        alternative_entity_type=_type(alt[0], alt[1], (int(alt[2]) << 8) | int(alt[3]), alt[4:8]),
        velocity_m_per_s=_vec(vel),
        location_m=_vec(loc),
        orientation_rad=_vec(ori),
        appearance=int(r["appearance"]),
        dead_reckoning_algorithm=int(r["dr_algorithm"]),
        linear_acceleration_m_per_s2=_vec(r["dr_acceleration"]),
        angular_velocity_rad_per_s=_vec(r["dr_angular_velocity"]),
        marking_charset=charset,
        marking=raw_marking.split(b"\0", 1)[0].decode("ascii"),
        capabilities=int(r["capabilities"]),
        variable_parameters=tuple(
            data[i : i + VARIABLE_PARAMETER_LENGTH]
            for i in range(ESPDU_LENGTH, length, VARIABLE_PARAMETER_LENGTH)
        ),
    )


# --- UDP transport -------------------------------------------------------------------------------

_MAX_DATAGRAM = 65_535
_POLL_S = 0.1


class DisSender:
    """Sends PDUs as UDP datagrams (one PDU per datagram) to ``host:port``."""

    def __init__(self, host: str, port: int) -> None:
        self.address = (host, int(port))
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def send(self, pdus: Iterable[bytes]) -> int:
        """Send every PDU; returns how many were sent."""
        n = 0
        for pdu in pdus:
            self._sock.sendto(pdu, self.address)
            n += 1
        return n

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> DisSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DisListener:
    """Receives Entity State PDUs on UDP ``host:port`` in a background thread and hands each valid
    one to ``callback``.

    A refused datagram is counted in ``rejected[reason]`` (reasons of `DIS_ERROR_REASONS`, plus
    ``callback-error`` when the callback raises); the first of each reason is logged as a WARNING
    naming the source address, later ones at DEBUG. Nothing a sender does stops the thread.
    ``port=0`` picks a free port; read it from ``.port``. Use as a context manager or call
    `start` / `close`.
    """

    def __init__(
        self, callback: Callable[[EntityState], object], *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.callback = callback
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((host, int(port)))
        self._sock.settimeout(_POLL_S)
        self.port: int = self._sock.getsockname()[1]
        self.accepted = 0
        self.rejected: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"dis-listener-{self.port}", daemon=True)

    def start(self) -> DisListener:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._sock.close()

    def __enter__(self) -> DisListener:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _reject(self, reason: str, source: object, detail: str) -> None:
        self.rejected[reason] += 1
        level = logging.WARNING if self.rejected[reason] == 1 else logging.DEBUG
        _log.log(
            level,
            "DIS listener :%d refused a datagram from %s: %s (%s)%s",
            self.port,
            source,
            reason,
            detail,
            "; further ones logged at DEBUG" if level == logging.WARNING else "",
        )

    def handle(self, data: bytes, source: object = None) -> None:
        """Decode and deliver one datagram (what the thread does with each; callable directly)."""
        try:
            state = parse_entity_state(data)
        except DisError as err:
            self._reject(err.reason, source, err.detail)
            return
        try:
            self.callback(state)
        except Exception as err:  # the callback's bug must not stop the feed
            self._reject("callback-error", source, repr(err))
            return
        self.accepted += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, source = self._sock.recvfrom(_MAX_DATAGRAM)
            except TimeoutError:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                continue
            self.handle(data, source)
