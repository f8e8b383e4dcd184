"""ASTERIX CAT062 (SDPS system track data): a strict encoder and decoder, and a UDP sender/listener.

Item facts follow the EUROCONTROL CAT062 specification as shipped in the definitions of the
``asterix-decoder`` peer (CAT062 1.18); the tests check our blocks with that peer.

Wire layout. A data block is ``CAT (1 octet) | LEN (2 octets, big-endian, the whole block) |
records``. A record is an FSPEC (one bit per item in User Application Profile order, bit 1 of
each octet = FX "another FSPEC octet follows") followed by the items in UAP order.

Items written, in record order (FRN = field reference number in the UAP):

=====  ====  ==========================================================================
item   FRN   encoding
=====  ====  ==========================================================================
010    1     SAC, SIC: one octet each.
015    3     service identification, one octet (only when ``service_id`` is given).
070    4     time of track: 24-bit unsigned, LSB 1/128 s, seconds since UTC midnight of the
             track's instant (epoch + ``time_s``), rounded to nearest. Leap seconds are
             ignored (UTC days are taken as 86,400 s). A value that rounds to 86,400 s wraps
             to 0: the track is then stamped 00:00:00 of the next day.
105    5     WGS-84 latitude, longitude: two int32, LSB 180/2^25 deg, rounded to nearest.
185    7     velocity east (Vx), north (Vy) at the track's position: two int16, LSB 0.25 m/s,
             from the ECEF velocity rotated into the local ENU frame. Values beyond the
             int16 range (±8,192 m/s) are clipped to it: faster objects (re-entry vehicles,
             satellites) are reported at the limit. Omitted when the velocity is not finite.
040    12    track number: 16-bit unsigned, from a `TrackNumbers` table (see there).
080    13    track status, first octet: MON = 1 when ``n_sources <= 1`` (monosensor) else 0;
             SPI = 0; MRH = 1 (geometric altitude is the one we have); SRC = 2 "3D radar"
             when I062/130 is present, else 0 "no source"; CNF = 0 for ``status ==
             "confirmed"`` else 1 (tentative). With ``simulated=True`` a first extent is
             added with SIM = 1 (simulated track) and every other bit 0.
130    18    geometric altitude above the WGS-84 ellipsoid: int16, LSB 6.25 ft, clipped to
             the int16 range (-204,800 .. +204,793.75 ft, about 62 km). Omitted when the
             altitude is not finite.
=====  ====  ==========================================================================

The decoder `parse_cat062` is strict where the peer is lenient: the block length must equal the
data length, every FSPEC and record must be complete, spare FSPEC bits must be clear, items
010, 070, 040, 080 and one of 105/100 must be present, and values must be in range. Items we do
not interpret are skipped when their length is knowable from the UAP (fixed, FX-extended,
explicit-length); compound items (380, 290, 295, 390, 110, 500, 340) are refused.

Time of track carries no date. `resolve_time_of_track` turns it into a UTC instant: the one
nearest a reference instant (the receive time), which is right as long as the track time is
within 12 h of it — across midnight included.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from kizuna.constants import FT, SECONDS_PER_DAY
from kizuna.frames import ecef_vector_to_enu
from kizuna.timebase import require_utc

__all__ = [
    "CAT062",
    "MAX_BLOCK_BYTES",
    "UDP_SAFE_BLOCK_BYTES",
    "AsterixError",
    "AsterixListener",
    "AsterixSender",
    "Cat062Record",
    "TrackNumbers",
    "TrackStatus",
    "cat062_block",
    "cat062_blocks",
    "parse_cat062",
    "resolve_time_of_track",
    "split_blocks",
]

_log = logging.getLogger(__name__)

CAT062 = 62
MAX_BLOCK_BYTES = 65_535
"""The LEN field is 16 bits: no block may be longer."""
UDP_SAFE_BLOCK_BYTES = 1_472
"""Ethernet MTU 1,500 - IPv4 header 20 - UDP header 8: a block this size is never fragmented."""

LATLON_LSB_DEG = 180.0 / 2**25
TIME_LSB_S = 1.0 / 128.0
VELOCITY_LSB_M_PER_S = 0.25
ALTITUDE_LSB_FT = 6.25
ALTITUDE_LSB_M = ALTITUDE_LSB_FT * FT
_TICKS_PER_DAY = int(SECONDS_PER_DAY * 128)

_INT16_MIN, _INT16_MAX = -32768, 32767


class AsterixError(ValueError):
    """A malformed or unsupported ASTERIX block. ``reason`` is a short stable key for counting."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


# ---------------------------------------------------------------------------------------------
# Track numbers


class TrackNumbers:
    """A stable table from Kizuna's int64 system track ids to CAT062 track numbers 1..65535.

    A track id gets a number the first time it is seen and keeps it until `release` (or
    `retain_only`) frees it; a number is never held by two ids at once. New numbers are taken
    round-robin from where the last one was given, so a freed number is reused as late as
    possible (a receiver does not mistake a new track for a dropped one). Number 0 is never
    used. Keep one table per output stream: numbers are meaningful only within it.
    """

    CAPACITY = 65_535

    def __init__(self) -> None:
        self._number_of: dict[int, int] = {}
        self._in_use: set[int] = set()
        self._cursor = 0  # last number handed out

    def __len__(self) -> int:
        return len(self._number_of)

    def assign(self, track_ids: ArrayLike) -> NDArray[np.uint16]:
        """Track numbers for `track_ids` (any shape), assigning new ones to ids not yet seen."""
        ids = np.asarray(track_ids, dtype=np.int64)
        unique, inverse = np.unique(ids, return_inverse=True)
        numbers = np.empty(unique.shape, dtype=np.uint16)
        for k, tid in enumerate(unique.tolist()):
            number = self._number_of.get(tid)
            if number is None:
                number = self._next_free(tid)
                self._number_of[tid] = number
                self._in_use.add(number)
            numbers[k] = number
        return numbers[inverse].reshape(ids.shape)

    def release(self, track_ids: Iterable[int]) -> None:
        """Free the numbers of tracks that have ended (unknown ids are ignored)."""
        for tid in track_ids:
            number = self._number_of.pop(int(tid), None)
            if number is not None:
                self._in_use.discard(number)

    def retain_only(self, live_track_ids: ArrayLike) -> None:
        """Free the numbers of every track not in `live_track_ids` (e.g. the current picture)."""
        live = set(np.asarray(live_track_ids, dtype=np.int64).ravel().tolist())
        self.release([tid for tid in self._number_of if tid not in live])

    def _next_free(self, tid: int) -> int:
        if len(self._in_use) >= self.CAPACITY:
            raise AsterixError(
                "track_numbers_exhausted",
                f"all {self.CAPACITY} CAT062 track numbers are held; cannot number track {tid}. "
                "Release ended tracks with TrackNumbers.release() or retain_only().",
            )
        number = self._cursor
        while True:
            number = number % self.CAPACITY + 1
            if number not in self._in_use:
                self._cursor = number
                return number


# ---------------------------------------------------------------------------------------------
# Encoder


def _fspec(frns: Iterable[int]) -> bytes:
    """FSPEC octets for the given FRNs: FRN k is bit 8 - ((k-1) % 7) of octet (k-1) // 7."""
    frns = sorted(frns)
    octets = bytearray((frns[-1] - 1) // 7 + 1)
    for frn in frns:
        octets[(frn - 1) // 7] |= 0x80 >> ((frn - 1) % 7)
    for i in range(len(octets) - 1):
        octets[i] |= 0x01
    return bytes(octets)


def _column(rows: pd.DataFrame, name: str) -> NDArray[np.float64]:
    return rows[name].to_numpy(dtype=np.float64, na_value=np.nan)


def _records(
    rows: pd.DataFrame,
    epoch_utc: dt.datetime,
    *,
    sac: int,
    sic: int,
    track_numbers: TrackNumbers,
    service_id: int | None,
    simulated: bool,
) -> list[bytes]:
    """One CAT062 record per usable row, in row order (the numbers vectorised, the bytes per record)."""
    for name, value in (("sac", sac), ("sic", sic), ("service_id", service_id)):
        if value is not None and not 0 <= value <= 255:
            raise ValueError(f"{name}={value!r} does not fit one octet; expected 0..255")
    epoch = require_utc(epoch_utc)
    n = len(rows)
    if n == 0:
        return []
    time_s = _column(rows, "time_s")
    lat_deg, lon_deg = _column(rows, "lat_deg"), _column(rows, "lon_deg")
    usable = np.isfinite(time_s) & np.isfinite(lat_deg) & np.isfinite(lon_deg)
    if not usable.all():
        _log.warning("CAT062: %d of %d picture rows skipped (time or lat/lon not finite)", (~usable).sum(), n)
    rows = rows.loc[usable]
    time_s, lat_deg, lon_deg = time_s[usable], lat_deg[usable], lon_deg[usable]
    n = len(rows)
    if n == 0:
        return []

    # I062/070: seconds since UTC midnight, 1/128 s ticks, wrapped at the day.
    midnight = epoch.replace(hour=0, minute=0, second=0, microsecond=0)
    epoch_tod_s = (epoch - midnight).total_seconds()
    ticks = np.rint((epoch_tod_s + time_s) * 128.0)
    tod_ticks = np.mod(ticks, _TICKS_PER_DAY).astype(np.int64)
    # I062/105
    lat_raw = np.rint(lat_deg / LATLON_LSB_DEG).astype(np.int64)
    lon_raw = np.rint(np.clip(lon_deg, -180.0, 180.0) / LATLON_LSB_DEG).astype(np.int64)
    lon_raw = np.where(lon_raw >= 2**25, lon_raw - 2**26, lon_raw)  # +180 deg is -180 deg
    if (np.abs(lat_raw) > 2**24).any():
        raise ValueError("latitude outside -90..90 deg in the picture; expected WGS-84 geodetic degrees")
    # I062/185: ECEF velocity -> east/north at the track.
    vel_ecef = np.stack([_column(rows, c) for c in ("vx_m_per_s", "vy_m_per_s", "vz_m_per_s")], axis=-1)
    vel_enu = ecef_vector_to_enu(vel_ecef, np.radians(lat_deg), np.radians(lon_deg))
    has_vel = np.isfinite(vel_enu[:, :2]).all(axis=1)
    vel_raw = np.clip(np.rint(np.nan_to_num(vel_enu[:, :2]) / VELOCITY_LSB_M_PER_S), _INT16_MIN, _INT16_MAX)
    vel_raw = vel_raw.astype(np.int64)
    # I062/130
    alt_m = _column(rows, "alt_m")
    has_alt = np.isfinite(alt_m)
    alt_raw = np.clip(np.rint(np.nan_to_num(alt_m) / ALTITUDE_LSB_M), _INT16_MIN, _INT16_MAX).astype(np.int64)
    # I062/040, I062/080
    tn = track_numbers.assign(rows["track_id"].to_numpy(dtype=np.int64)).astype(np.int64)
    mono = rows["n_sources"].to_numpy(dtype=np.float64, na_value=0.0) <= 1
    tentative = rows["status"].astype(str).to_numpy() != "confirmed"
    status = (
        (mono.astype(np.int64) << 7)
        | (1 << 5)
        | (np.where(has_alt, 2, 0) << 2)
        | (tentative.astype(np.int64) << 1)
    )
    if simulated:
        status |= 0x01

    # Pack each presence pattern as a packed big-endian structured array, then slice per record.
    out: list[bytes | None] = [None] * n
    for with_vel in (False, True):
        for with_alt in (False, True):
            idx = np.flatnonzero((has_vel == with_vel) & (has_alt == with_alt))
            if idx.size == 0:
                continue
            frns = [1, 4, 5, 12, 13] + ([3] if service_id is not None else [])
            frns += ([7] if with_vel else []) + ([18] if with_alt else [])
            fspec = _fspec(frns)
            fields: list[tuple[str, str]] = [(f"fspec{i}", "u1") for i in range(len(fspec))]
            fields += [("sac", "u1"), ("sic", "u1")]
            fields += [("service", "u1")] if service_id is not None else []
            fields += [("tod_hi", "u1"), ("tod_lo", ">u2"), ("lat", ">i4"), ("lon", ">i4")]
            fields += [("vx", ">i2"), ("vy", ">i2")] if with_vel else []
            fields += [("tn", ">u2"), ("status", "u1")] + ([("status_ext", "u1")] if simulated else [])
            fields += [("alt", ">i2")] if with_alt else []
            packed = np.zeros(idx.size, dtype=np.dtype(fields))
            for i, octet in enumerate(fspec):
                packed[f"fspec{i}"] = octet
            packed["sac"], packed["sic"] = sac, sic
            if service_id is not None:
                packed["service"] = service_id
            packed["tod_hi"] = tod_ticks[idx] >> 16
            packed["tod_lo"] = tod_ticks[idx] & 0xFFFF
            packed["lat"], packed["lon"] = lat_raw[idx], lon_raw[idx]
            if with_vel:
                packed["vx"], packed["vy"] = vel_raw[idx, 0], vel_raw[idx, 1]
            packed["tn"], packed["status"] = tn[idx], status[idx]
            if simulated:
                packed["status_ext"] = 0x80  # SIM = 1, FX = 0
            if with_alt:
                packed["alt"] = alt_raw[idx]
            buf, size = packed.tobytes(), packed.dtype.itemsize
            for k, i in enumerate(idx.tolist()):
                out[i] = buf[k * size : (k + 1) * size]
    return [r for r in out if r is not None]


def cat062_blocks(
    picture_rows: pd.DataFrame,
    epoch_utc: dt.datetime,
    *,
    sac: int,
    sic: int,
    track_numbers: TrackNumbers | None = None,
    service_id: int | None = None,
    simulated: bool = False,
    max_block_bytes: int = MAX_BLOCK_BYTES,
) -> list[bytes]:
    """CAT062 data blocks, one record per picture row, none longer than `max_block_bytes`.

    `picture_rows` has the columns of `kizuna.recording.PICTURE_SCHEMA`; `epoch_utc` is the
    scenario epoch (timezone-aware) that turns ``time_s`` into UTC. Pass the same
    `track_numbers` table for every call of one stream, or each call numbers its tracks afresh.
    Rows without a finite time or lat/lon are skipped (one WARNING with the count).
    """
    if not 32 <= max_block_bytes <= MAX_BLOCK_BYTES:
        raise ValueError(f"max_block_bytes={max_block_bytes}; expected 32..{MAX_BLOCK_BYTES}")
    records = _records(
        picture_rows,
        epoch_utc,
        sac=sac,
        sic=sic,
        track_numbers=track_numbers if track_numbers is not None else TrackNumbers(),
        service_id=service_id,
        simulated=simulated,
    )
    blocks: list[bytes] = []
    current: list[bytes] = []
    size = 3
    for record in records:
        if current and size + len(record) > max_block_bytes:
            blocks.append(_block(current, size))
            current, size = [], 3
        current.append(record)
        size += len(record)
    if current:
        blocks.append(_block(current, size))
    return blocks


def _block(records: list[bytes], size: int) -> bytes:
    return bytes([CAT062]) + size.to_bytes(2, "big") + b"".join(records)


def cat062_block(
    picture_rows: pd.DataFrame,
    epoch_utc: dt.datetime,
    *,
    sac: int,
    sic: int,
    track_numbers: TrackNumbers | None = None,
    service_id: int | None = None,
    simulated: bool = False,
) -> bytes:
    """One CAT062 data block holding every row (see `cat062_blocks`).

    Raises ValueError when the rows do not fit one block (65,535 bytes, about 2,400 tracks) or
    when no row is usable: use `cat062_blocks` for pictures of any size.
    """
    blocks = cat062_blocks(
        picture_rows,
        epoch_utc,
        sac=sac,
        sic=sic,
        track_numbers=track_numbers,
        service_id=service_id,
        simulated=simulated,
    )
    if len(blocks) != 1:
        raise ValueError(
            f"{len(picture_rows)} picture rows make {len(blocks)} CAT062 blocks, not one; "
            "a block holds at most 65,535 bytes — use cat062_blocks() to split them"
        )
    return blocks[0]


# ---------------------------------------------------------------------------------------------
# Decoder


@dataclass(frozen=True)
class TrackStatus:
    """I062/080, first octet decoded; ``octets`` keeps the whole item (all extents)."""

    mon: int
    spi: int
    mrh: int
    src: int
    cnf: int
    octets: bytes

    @property
    def simulated(self) -> bool:
        """SIM bit of the first extent (0 when absent)."""
        return len(self.octets) > 1 and bool(self.octets[1] & 0x80)


@dataclass(frozen=True)
class Cat062Record:
    """One decoded CAT062 record, in SI units (positions in degrees, the ASTERIX edge)."""

    sac: int
    sic: int
    time_of_day_s: float
    track_number: int
    status: TrackStatus
    service_id: int | None = None
    lat_deg: float | None = None
    lon_deg: float | None = None
    x_m: float | None = None  # I062/100, system Cartesian, LSB 0.5 m
    y_m: float | None = None
    v_east_m_per_s: float | None = None
    v_north_m_per_s: float | None = None
    geometric_alt_m: float | None = None
    other_items: tuple[str, ...] = field(default=())  # items present but not interpreted


# FRN -> (item, kind, length): kind "fixed" (length octets), "ext" (FX-chained units of `length`
# octets), "explicit" (first octet is the item length), "compound" (refused), "spare".
_UAP: dict[int, tuple[str, str, int]] = {
    1: ("010", "fixed", 2), 2: ("spare", "spare", 0), 3: ("015", "fixed", 1), 4: ("070", "fixed", 3),
    5: ("105", "fixed", 8), 6: ("100", "fixed", 6), 7: ("185", "fixed", 4), 8: ("210", "fixed", 2),
    9: ("060", "fixed", 2), 10: ("245", "fixed", 7), 11: ("380", "compound", 0), 12: ("040", "fixed", 2),
    13: ("080", "ext", 1), 14: ("290", "compound", 0), 15: ("200", "fixed", 1),
    16: ("295", "compound", 0), 17: ("136", "fixed", 2), 18: ("130", "fixed", 2),
    19: ("135", "fixed", 2), 20: ("220", "fixed", 2), 21: ("390", "compound", 0),
    22: ("270", "ext", 1), 23: ("300", "fixed", 1), 24: ("110", "compound", 0),
    25: ("120", "fixed", 2), 26: ("510", "ext", 3), 27: ("500", "compound", 0),
    28: ("340", "compound", 0), 29: ("spare", "spare", 0), 30: ("spare", "spare", 0),
    31: ("spare", "spare", 0), 32: ("spare", "spare", 0), 33: ("spare", "spare", 0),
    34: ("RE", "explicit", 0), 35: ("SP", "explicit", 0),
}  # fmt: skip
_MAX_FSPEC_OCTETS = 5
_MANDATORY = ("010", "070", "040", "080")


def split_blocks(datagram: bytes) -> list[bytes]:
    """Split a datagram holding one or more concatenated data blocks; raise on a broken LEN chain."""
    blocks, offset = [], 0
    if not datagram:
        raise AsterixError("empty_datagram", "no bytes")
    while offset < len(datagram):
        if len(datagram) - offset < 3:
            raise AsterixError("truncated_block", f"{len(datagram) - offset} trailing bytes at {offset}")
        length = int.from_bytes(datagram[offset + 1 : offset + 3], "big")
        if length < 3 or offset + length > len(datagram):
            raise AsterixError(
                "length_mismatch",
                f"block at {offset} declares {length} bytes, {len(datagram) - offset} remain",
            )
        blocks.append(datagram[offset : offset + length])
        offset += length
    return blocks


def parse_cat062(block: bytes) -> list[Cat062Record]:
    """Decode one CAT062 data block strictly; raise `AsterixError` on anything malformed."""
    data = bytes(block)
    if len(data) < 3:
        raise AsterixError("truncated_block", f"{len(data)} bytes; a block needs at least 3 (CAT, LEN)")
    if data[0] != CAT062:
        raise AsterixError("wrong_category", f"CAT={data[0]}, expected {CAT062}")
    length = int.from_bytes(data[1:3], "big")
    if length != len(data):
        raise AsterixError("length_mismatch", f"LEN field says {length} bytes, the block has {len(data)}")
    if length == 3:
        raise AsterixError("empty_block", "a block with no records")
    records, offset = [], 3
    while offset < length:
        record, offset = _parse_record(data, offset)
        records.append(record)
    return records


def _parse_record(data: bytes, start: int) -> tuple[Cat062Record, int]:
    offset = start
    fspec = bytearray()
    while True:
        if offset >= len(data):
            raise AsterixError("truncated_fspec", f"record at {start}: FSPEC runs past the block end")
        fspec.append(data[offset])
        offset += 1
        if not fspec[-1] & 0x01:
            break
        if len(fspec) >= _MAX_FSPEC_OCTETS:
            raise AsterixError("fspec_too_long", f"record at {start}: FX set in FSPEC octet {len(fspec)}")
    if (fspec[-1] == 0 and len(fspec) > 1) or not any(fspec):
        raise AsterixError("fspec_malformed", f"record at {start}: FSPEC {fspec.hex()} names no item")
    items: dict[str, bytes] = {}
    for octet_index, octet in enumerate(fspec):
        for bit in range(7):
            if not octet & (0x80 >> bit):
                continue
            frn = octet_index * 7 + bit + 1
            name, kind, size = _UAP[frn]
            if kind == "spare":
                raise AsterixError("spare_item", f"record at {start}: spare FRN {frn} set")
            if kind == "compound":
                raise AsterixError("unsupported_item", f"record at {start}: compound I062/{name} not decoded")
            if kind == "fixed":
                end = offset + size
            elif kind == "ext":
                end = offset
                while True:
                    end += size
                    if end > len(data) or not data[end - 1] & 0x01:
                        break
            else:  # explicit: the first octet counts itself
                if offset >= len(data):
                    raise AsterixError("truncated_record", f"record at {start}: I062/{name} missing")
                end = offset + data[offset]
                if data[offset] == 0:
                    raise AsterixError("bad_item_length", f"record at {start}: I062/{name} length 0")
            if end > len(data):
                raise AsterixError(
                    "truncated_record", f"record at {start}: I062/{name} runs past the block end"
                )
            items[name] = data[offset:end]
            offset = end
    missing = [m for m in _MANDATORY if m not in items]
    if "105" not in items and "100" not in items:
        missing.append("105|100")
    if missing:
        raise AsterixError("missing_item", f"record at {start}: mandatory I062/{', '.join(missing)} absent")
    return _interpret(items, start), offset


def _interpret(items: dict[str, bytes], start: int) -> Cat062Record:
    tod_ticks = int.from_bytes(items["070"], "big")
    if tod_ticks >= _TICKS_PER_DAY:
        raise AsterixError(
            "value_out_of_range", f"record at {start}: time of track {tod_ticks / 128} s >= 1 day"
        )
    status = items["080"]
    kwargs: dict[str, object] = {}
    if "015" in items:
        kwargs["service_id"] = items["015"][0]
    if "105" in items:
        lat = int.from_bytes(items["105"][:4], "big", signed=True)
        lon = int.from_bytes(items["105"][4:], "big", signed=True)
        if abs(lat) > 2**24 or not -(2**25) <= lon < 2**25:
            raise AsterixError(
                "value_out_of_range",
                f"record at {start}: lat/lon {lat * LATLON_LSB_DEG}, {lon * LATLON_LSB_DEG} deg",
            )
        kwargs["lat_deg"], kwargs["lon_deg"] = lat * LATLON_LSB_DEG, lon * LATLON_LSB_DEG
    if "100" in items:
        kwargs["x_m"] = int.from_bytes(items["100"][:3], "big", signed=True) * 0.5
        kwargs["y_m"] = int.from_bytes(items["100"][3:], "big", signed=True) * 0.5
    if "185" in items:
        kwargs["v_east_m_per_s"] = int.from_bytes(items["185"][:2], "big", signed=True) * VELOCITY_LSB_M_PER_S
        kwargs["v_north_m_per_s"] = (
            int.from_bytes(items["185"][2:], "big", signed=True) * VELOCITY_LSB_M_PER_S
        )
    if "130" in items:
        kwargs["geometric_alt_m"] = int.from_bytes(items["130"], "big", signed=True) * ALTITUDE_LSB_M
    known = {"010", "015", "070", "105", "100", "185", "040", "080", "130"}
    return Cat062Record(
        sac=items["010"][0],
        sic=items["010"][1],
        time_of_day_s=tod_ticks * TIME_LSB_S,
        track_number=int.from_bytes(items["040"], "big"),
        status=TrackStatus(
            mon=status[0] >> 7,
            spi=(status[0] >> 6) & 1,
            mrh=(status[0] >> 5) & 1,
            src=(status[0] >> 2) & 7,
            cnf=(status[0] >> 1) & 1,
            octets=status,
        ),
        other_items=tuple(sorted(set(items) - known)),
        **kwargs,  # type: ignore[arg-type]
    )


def resolve_time_of_track(time_of_day_s: float, near_utc: dt.datetime) -> dt.datetime:
    """The UTC instant with this time of day nearest `near_utc` (correct within ±12 h of it).

    E.g. 23:59:59.5 received at 00:00:01 on 2 June resolves to 1 June 23:59:59.5.
    """
    near = require_utc(near_utc)
    midnight = near.replace(hour=0, minute=0, second=0, microsecond=0)
    candidate = midnight + dt.timedelta(seconds=time_of_day_s)
    delta_s = (candidate - near).total_seconds()
    if delta_s > SECONDS_PER_DAY / 2:
        candidate -= dt.timedelta(days=1)
    elif delta_s < -SECONDS_PER_DAY / 2:
        candidate += dt.timedelta(days=1)
    return candidate


# ---------------------------------------------------------------------------------------------
# UDP transport


class AsterixSender:
    """Sends ASTERIX blocks as UDP datagrams (one block per datagram)."""

    def __init__(self, host: str, port: int) -> None:
        self.address = (host, port)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def send(self, block: bytes) -> None:
        self._sock.sendto(block, self.address)

    def send_picture(
        self,
        picture_rows: pd.DataFrame,
        epoch_utc: dt.datetime,
        *,
        sac: int,
        sic: int,
        track_numbers: TrackNumbers,
        service_id: int | None = None,
        max_block_bytes: int = UDP_SAFE_BLOCK_BYTES,
    ) -> int:
        """Encode and send a picture in unfragmented blocks; returns the number of datagrams."""
        blocks = cat062_blocks(
            picture_rows,
            epoch_utc,
            sac=sac,
            sic=sic,
            track_numbers=track_numbers,
            service_id=service_id,
            max_block_bytes=max_block_bytes,
        )
        for block in blocks:
            self.send(block)
        return len(blocks)

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> AsterixSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsterixListener:
    """Receives CAT062 datagrams on a UDP port and hands decoded records to a callback.

    A bad datagram is counted under its `AsterixError.reason` in `rejected`, logged once per reason
    at WARNING (with the source address) and afterwards at DEBUG, and skipped: the listener never
    stops on bad data. `accepted` counts good blocks, `records` decoded records. A callback that
    raises is logged and counted as ``callback_error``. ``port=0`` picks a free port (see
    `address` after construction).
    """

    def __init__(
        self,
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        callback: Callable[[list[Cat062Record], tuple[str, int]], None] | None = None,
    ) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((host, port))
        self._sock.settimeout(0.05)
        self.address: tuple[str, int] = self._sock.getsockname()
        self._callback = callback
        self.accepted = 0
        self.records = 0
        self.rejected: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> AsterixListener:
        self._thread = threading.Thread(
            target=self._run, name=f"asterix-listener-{self.address[1]}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        self._sock.close()

    def __enter__(self) -> AsterixListener:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def handle(self, datagram: bytes, source: tuple[str, int]) -> list[Cat062Record]:
        """Decode one datagram (usable without the socket); bad data is counted and logged, not raised."""
        try:
            records = [r for block in split_blocks(datagram) for r in parse_cat062(block)]
        except AsterixError as err:
            self._reject(err.reason, str(err), source)
            return []
        with self._lock:
            self.accepted += 1
            self.records += len(records)
        if self._callback is not None:
            try:
                self._callback(records, source)
            except Exception:
                self._reject("callback_error", "the record callback raised", source, exc_info=True)
        return records

    def _reject(self, reason: str, message: str, source: tuple[str, int], *, exc_info: bool = False) -> None:
        with self._lock:
            first = reason not in self.rejected
            self.rejected[reason] = self.rejected.get(reason, 0) + 1
        level = logging.WARNING if first else logging.DEBUG
        _log.log(
            level,
            "CAT062 datagram from %s:%d rejected (%s)",
            source[0],
            source[1],
            message,
            exc_info=exc_info,
        )

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                datagram, source = self._sock.recvfrom(65_535)
            except TimeoutError:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                continue
            self.handle(datagram, source)
