"""Wire types of the track exchange, and packing a track batch into bytes.

A node publishes its tracks as an `Envelope` (MessagePack, array-like: ``[sender, body,
signature]``) whose ``body`` is the MessagePack of a `Message`; the signature covers the body bytes
exactly as sent (`kizuna.network.signing`). A message of kind ``"tracks"`` carries a `TrackBatch`:
the N tracks a node reports at one valid time, column by column, each column one little-endian
byte string, so that packing and unpacking are a handful of ``tobytes`` / ``np.frombuffer`` calls
whatever N is (no per-track Python loop, STYLE.md avoid 7).

* ``track_id`` — int64, the sender's local track id (unique within a batch);
* ``system_number`` — int64, the sender's system track number;
* ``x`` — 6 float64, ECEF position (m) and velocity (m/s);
* ``p`` — 21 float64, the upper triangle of the 6 × 6 covariance, row-major (``np.triu_indices(6)``);
* ``quality`` — uint8, track quality 0–15;
* ``category`` — uint8, an index into `CATEGORIES`;
* ``pedigree`` — K uint8, one per nation of ``nations``: the bitmask of `SOURCE_BITS` of that
  nation's sensors whose data built the track (0 = no contribution).

`Tracks` is the same batch as NumPy arrays (a full symmetric ``P (N, 6, 6)``), what the rest of
Kizuna works with. `pack_tracks` and `unpack_tracks` round-trip it exactly (bit for bit, NaN
payloads aside: a NaN never gets through `unpack_tracks`).

**`unpack_tracks` is the gate.** Bytes come from partners and from the network, so nothing is
taken on trust: any problem raises `MessageError` with one reason of `MESSAGE_ERROR_REASONS`
(a ``ValueError``; the caller counts, logs and skips, DESIGN.md Conventions), never anything else.
A whole batch is refused rather than trimmed: a signed message that is inconsistent is a broken or
hostile sender, not noise to filter. Senders that want to drop bad rows before packing use
`valid_track_rows`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import numpy as np
from numpy.typing import NDArray

__all__ = [
    "CATEGORIES",
    "ENCODER",
    "ENVELOPE_DECODER",
    "MAX_NATIONS_PER_MESSAGE",
    "MAX_TRACKS_PER_MESSAGE",
    "MESSAGE_DECODER",
    "MESSAGE_ERROR_REASONS",
    "MESSAGE_KINDS",
    "SOURCE_BITS",
    "STATE_DIM",
    "Envelope",
    "Message",
    "MessageError",
    "TrackBatch",
    "Tracks",
    "check_message",
    "decode_envelope",
    "decode_message",
    "encode",
    "is_nation_code",
    "pack_tracks",
    "unpack_tracks",
    "valid_track_rows",
]

STATE_DIM = 6
"""ECEF position (m) and velocity (m/s)."""
CATEGORIES: tuple[str, ...] = ("air", "missile", "space")
"""Track categories; a track's ``category`` is an index into this tuple."""
SOURCE_BITS: dict[str, int] = {"radar": 1, "ship_radar": 2, "oth_radar": 4, "space_ir": 8, "external": 16}
"""Pedigree bit of each sensor kind; ``external`` is a feed from another system (CoT, DIS, ASTERIX)."""
MESSAGE_KINDS: tuple[str, ...] = ("tracks",)
"""Kinds of `Message` this version sends and accepts."""
MAX_TRACKS_PER_MESSAGE = 20_000
"""Most tracks one batch may carry (a receiver refuses more rather than allocate for them)."""
MAX_NATIONS_PER_MESSAGE = 64
"""Most pedigree columns one batch may carry (bounds the ``pedigree`` allocation, N × K bytes)."""
MAX_QUALITY = 15

MESSAGE_ERROR_REASONS: dict[str, str] = {
    "malformed": "the bytes do not decode as the expected MessagePack type",
    "too-many-tracks": f"more than {MAX_TRACKS_PER_MESSAGE} tracks in one batch",
    "bad-nations": (
        f"a nation code is not 3 uppercase ASCII letters, is repeated, or there are more than "
        f"{MAX_NATIONS_PER_MESSAGE}"
    ),
    "bad-length": "column byte lengths do not agree with one another (or are not whole rows)",
    "not-finite": "a time, state or covariance value is NaN or infinite",
    "bad-covariance": "a covariance diagonal element is ≤ 0",
    "bad-quality": f"a quality value is above {MAX_QUALITY}",
    "bad-category": f"a category code is not an index into {CATEGORIES}",
    "bad-pedigree": f"a pedigree mask has bits outside the known source kinds {SOURCE_BITS}",
    "duplicate-track-id": "a track id appears twice in one batch",
    "unknown-kind": f"message kind not one of {MESSAGE_KINDS}",
    "bad-seq": "sequence number below 1 or above 2**63 − 1",
    "time-mismatch": "message valid_time_s differs from its payload's time_s",
}
"""Why `unpack_tracks` / `check_message` refuse a batch or message (the ``reason`` of `MessageError`)."""

_NATION = re.compile(r"[A-Z]{3}")
_TRIU = np.triu_indices(STATE_DIM)
_N_TRIU = len(_TRIU[0])  # 21
_TRIU_FLAT = np.ravel_multi_index(_TRIU, (STATE_DIM, STATE_DIM))
"""Position in a flattened 6 × 6 matrix of each upper-triangle element."""
_FULL_FROM_TRIU = np.empty(STATE_DIM * STATE_DIM, dtype=np.intp)
_FULL_FROM_TRIU[_TRIU_FLAT] = np.arange(len(_TRIU_FLAT))
_FULL_FROM_TRIU[np.ravel_multi_index(_TRIU[::-1], (STATE_DIM, STATE_DIM))] = np.arange(len(_TRIU_FLAT))
"""Upper-triangle element of each position of a flattened symmetric 6 × 6 matrix."""
_ALL_SOURCE_BITS = 0
for _bit in SOURCE_BITS.values():
    _ALL_SOURCE_BITS |= _bit
_UNKNOWN_SOURCE_BITS = np.uint8(0xFF & ~_ALL_SOURCE_BITS)
_MAX_SEQ = 2**63 - 1
_DETAIL_CHARS = 200


class MessageError(ValueError):
    """A batch or message refused at the gate; ``reason`` is a key of `MESSAGE_ERROR_REASONS` and
    ``detail`` says what was found (and where)."""

    def __init__(self, reason: str, detail: str) -> None:
        if reason not in MESSAGE_ERROR_REASONS:
            raise ValueError(
                f"unknown MessageError reason {reason!r}; expected one of {MESSAGE_ERROR_REASONS}"
            )
        self.reason = reason
        self.detail = detail[:_DETAIL_CHARS]
        super().__init__(f"{reason}: {self.detail}")


def is_nation_code(code: object) -> bool:
    """True for a nation code: exactly 3 uppercase ASCII letters ("USA", "JPN")."""
    return isinstance(code, str) and _NATION.fullmatch(code) is not None


# --- Wire types ----------------------------------------------------------------------------------


class TrackBatch(msgspec.Struct, frozen=True, array_like=True):
    """N tracks at one valid time, column by column (layout in the module docstring). Build it with
    `pack_tracks`; read it with `unpack_tracks`, which checks everything."""

    time_s: float
    nations: list[str]
    track_id: bytes
    system_number: bytes
    x: bytes
    p: bytes
    quality: bytes
    category: bytes
    pedigree: bytes


class Message(msgspec.Struct, frozen=True):
    """The signed body: who sent it, its sequence number, the time its tracks describe and the time
    it was sent (STYLE.md adopt 11), the nations cleared to receive it, and the payload."""

    sender: str
    seq: int
    valid_time_s: float
    sent_time_s: float
    release: list[str]
    kind: str
    payload: TrackBatch


class Envelope(msgspec.Struct, frozen=True, array_like=True):
    """What goes on the wire: ``body`` is the MessagePack of a `Message`, ``signature`` the 64-byte
    Ed25519 signature of ``body`` by ``sender``'s key (empty: unsigned, always refused)."""

    sender: str
    body: bytes
    signature: bytes


ENCODER = msgspec.msgpack.Encoder()
"""Encoder for every wire type (reused: building one per message costs more than the encode)."""
ENVELOPE_DECODER = msgspec.msgpack.Decoder(Envelope)
MESSAGE_DECODER = msgspec.msgpack.Decoder(Message)


def encode(obj: Envelope | Message | TrackBatch) -> bytes:
    """MessagePack of a wire type."""
    return ENCODER.encode(obj)


def decode_envelope(data: bytes | bytearray | memoryview) -> Envelope:
    """An `Envelope` from bytes; `MessageError` ("malformed") if they are not one."""
    try:
        return ENVELOPE_DECODER.decode(data)
    # ValidationError is a DecodeError; invalid UTF-8 in a str raises UnicodeDecodeError (a ValueError)
    except (msgspec.DecodeError, TypeError, ValueError) as exc:
        raise MessageError("malformed", f"not an Envelope: {exc}") from None


def decode_message(body: bytes | bytearray | memoryview) -> Message:
    """A `Message` from body bytes; `MessageError` ("malformed") if they are not one. The message is
    not checked further: see `check_message`."""
    try:
        return MESSAGE_DECODER.decode(body)
    except (msgspec.DecodeError, TypeError, ValueError) as exc:
        raise MessageError("malformed", f"not a Message: {exc}") from None


def check_message(message: Message) -> Tracks:
    """Check a decoded message's header and unpack its payload; `MessageError` if anything is wrong.

    The header must have a nation-code sender and release list, a sequence number in
    [1, 2**63 − 1], finite times, a known kind and a valid time equal to the payload's.
    """
    if not is_nation_code(message.sender):
        raise MessageError("bad-nations", f"sender {_short(message.sender)} is not a nation code")
    if not all(is_nation_code(c) for c in message.release) or len(message.release) > MAX_NATIONS_PER_MESSAGE:
        raise MessageError(
            "bad-nations", f"release list {_short(message.release)} is not a list of nation codes"
        )
    if not 1 <= message.seq <= _MAX_SEQ:
        raise MessageError("bad-seq", f"seq {message.seq}")
    if not (math.isfinite(message.valid_time_s) and math.isfinite(message.sent_time_s)):
        raise MessageError(
            "not-finite", f"valid_time_s {message.valid_time_s}, sent_time_s {message.sent_time_s}"
        )
    if message.kind not in MESSAGE_KINDS:
        raise MessageError("unknown-kind", f"kind {_short(message.kind)}")
    tracks = unpack_tracks(message.payload)
    if tracks.time_s != message.valid_time_s:
        raise MessageError(
            "time-mismatch", f"valid_time_s {message.valid_time_s} but payload time_s {tracks.time_s}"
        )
    return tracks


# --- Arrays ---------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Tracks:
    """N tracks at one valid time as arrays: ``x (N, 6)`` ECEF m and m/s, ``P (N, 6, 6)`` symmetric
    covariance, ``pedigree (N, K)`` one column per nation of ``nations`` (bitmasks of
    `SOURCE_BITS`), ``category`` an index into `CATEGORIES`, ``quality`` 0–15."""

    time_s: float
    nations: tuple[str, ...]
    track_id: NDArray[np.int64]
    system_number: NDArray[np.int64]
    x: NDArray[np.float64]
    P: NDArray[np.float64]
    quality: NDArray[np.uint8]
    category: NDArray[np.uint8]
    pedigree: NDArray[np.uint8]

    def __post_init__(self) -> None:
        n = len(self.track_id)
        shapes = {
            "track_id": (n,),
            "system_number": (n,),
            "x": (n, STATE_DIM),
            "P": (n, STATE_DIM, STATE_DIM),
            "quality": (n,),
            "category": (n,),
            "pedigree": (n, len(self.nations)),
        }
        for name, want in shapes.items():
            got = np.shape(getattr(self, name))
            if got != want:
                raise ValueError(
                    f"Tracks.{name} has shape {got}, expected {want} for {n} tracks and "
                    f"{len(self.nations)} nations"
                )

    def __len__(self) -> int:
        return len(self.track_id)

    def take(self, rows: NDArray[np.integer] | NDArray[np.bool_] | Sequence[int]) -> Tracks:
        """The tracks at ``rows`` (indices or a boolean mask), same time and nations."""
        rows = np.asarray(rows)
        if rows.dtype != np.bool_:
            rows = rows.astype(np.intp, copy=False)
        return Tracks(
            time_s=self.time_s,
            nations=self.nations,
            track_id=self.track_id[rows],
            system_number=self.system_number[rows],
            x=self.x[rows],
            P=self.P[rows],
            quality=self.quality[rows],
            category=self.category[rows],
            pedigree=self.pedigree[rows],
        )

    @staticmethod
    def empty(nations: Iterable[str], time_s: float = 0.0) -> Tracks:
        """No tracks, with pedigree columns for ``nations``."""
        nations = tuple(nations)
        return Tracks(
            time_s=float(time_s),
            nations=nations,
            track_id=np.zeros(0, dtype=np.int64),
            system_number=np.zeros(0, dtype=np.int64),
            x=np.zeros((0, STATE_DIM)),
            P=np.zeros((0, STATE_DIM, STATE_DIM)),
            quality=np.zeros(0, dtype=np.uint8),
            category=np.zeros(0, dtype=np.uint8),
            pedigree=np.zeros((0, len(nations)), dtype=np.uint8),
        )


def valid_track_rows(tracks: Tracks) -> NDArray[np.bool_]:
    """(N,) True where a row would pass `unpack_tracks`'s per-row checks (finite state and covariance,
    positive covariance diagonal, quality ≤ 15, known category, known pedigree bits). A sender
    drops the False rows before `pack_tracks` rather than have every receiver refuse the batch.
    Batch-level rules (nation codes, duplicate ids, size cap, finite time) are not covered."""
    n = len(tracks)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(tracks.x).all(axis=1)
        ok &= np.isfinite(tracks.P.reshape(n, STATE_DIM * STATE_DIM)).all(axis=1)
        ok &= (np.diagonal(tracks.P, axis1=1, axis2=2) > 0).all(axis=1)
    ok &= np.asarray(tracks.quality) <= MAX_QUALITY
    ok &= np.asarray(tracks.category) < len(CATEGORIES)
    ok &= ~(np.asarray(tracks.pedigree, dtype=np.uint8) & _UNKNOWN_SOURCE_BITS).any(axis=1)
    return ok


# --- Packing --------------------------------------------------------------------------------------


def pack_tracks(tracks: Tracks) -> TrackBatch:
    """The wire form of a batch: each column as little-endian bytes, ``P`` as its upper triangle.

    Values are not checked here (`valid_track_rows` does that); a batch a receiver would refuse is
    still packed. Exact inverse of `unpack_tracks` for symmetric ``P``.
    """
    return TrackBatch(
        time_s=float(tracks.time_s),
        nations=list(tracks.nations),
        track_id=_le_bytes(tracks.track_id, "<i8"),
        system_number=_le_bytes(tracks.system_number, "<i8"),
        x=_le_bytes(tracks.x, "<f8"),
        p=_le_bytes(np.asarray(tracks.P).reshape(-1, STATE_DIM * STATE_DIM)[:, _TRIU_FLAT], "<f8"),
        quality=_le_bytes(tracks.quality, "u1"),
        category=_le_bytes(tracks.category, "u1"),
        pedigree=_le_bytes(tracks.pedigree, "u1"),
    )


def unpack_tracks(batch: TrackBatch) -> Tracks:
    """The arrays of a wire batch, checked (module docstring); `MessageError` on any problem.

    Returned arrays are fresh, writeable and in native byte order.
    """
    try:
        time_s = float(batch.time_s)
        nations = tuple(batch.nations)
    except (TypeError, ValueError, OverflowError) as exc:
        raise MessageError("malformed", f"time_s or nations of the wrong type: {exc}") from None
    columns = {name: getattr(batch, name) for name in _COLUMN_WIDTHS}
    for name, value in columns.items():
        if not isinstance(value, bytes | bytearray | memoryview):
            raise MessageError("malformed", f"column {name} is {type(value).__name__}, expected bytes")
    _check_nations(nations)
    if not math.isfinite(time_s):
        raise MessageError("not-finite", f"time_s {time_s}")
    n = _row_count(columns, len(nations))

    track_id = np.frombuffer(columns["track_id"], dtype="<i8").astype(np.int64)
    system_number = np.frombuffer(columns["system_number"], dtype="<i8").astype(np.int64)
    x = np.frombuffer(columns["x"], dtype="<f8").astype(np.float64).reshape(n, STATE_DIM)
    p = np.frombuffer(columns["p"], dtype="<f8").reshape(n, _N_TRIU)
    quality = np.frombuffer(columns["quality"], dtype=np.uint8).copy()
    category = np.frombuffer(columns["category"], dtype=np.uint8).copy()
    pedigree = np.frombuffer(columns["pedigree"], dtype=np.uint8).reshape(n, len(nations)).copy()

    # Each test runs on the whole array (cheap); rows are found only to name one in the error.
    _check_rows("not-finite", ~np.isfinite(x), track_id, "non-finite state")
    _check_rows("not-finite", ~np.isfinite(p), track_id, "non-finite covariance")
    P = np.take(p, _FULL_FROM_TRIU, axis=1).reshape(n, STATE_DIM, STATE_DIM)
    diagonal = P.reshape(n, STATE_DIM * STATE_DIM)[:, :: STATE_DIM + 1]  # a view
    _check_rows("bad-covariance", diagonal <= 0, track_id, "covariance diagonal ≤ 0")
    _check_rows("bad-quality", quality > MAX_QUALITY, track_id, f"quality above {MAX_QUALITY}")
    _check_rows("bad-category", category >= len(CATEGORIES), track_id, "unknown category code")
    _check_rows("bad-pedigree", (pedigree & _UNKNOWN_SOURCE_BITS) != 0, track_id, "unknown source bits")
    if n > 1:
        ordered = np.sort(track_id)
        repeated = ordered[1:] == ordered[:-1]
        if np.count_nonzero(repeated):
            raise MessageError("duplicate-track-id", f"track_id {ordered[1:][repeated][0]} repeated")

    return Tracks(
        time_s=time_s,
        nations=nations,
        track_id=track_id,
        system_number=system_number,
        x=x,
        P=P,
        quality=quality,
        category=category,
        pedigree=pedigree,
    )


_COLUMN_WIDTHS: dict[str, int] = {
    "track_id": 8,
    "system_number": 8,
    "x": 8 * STATE_DIM,
    "p": 8 * _N_TRIU,
    "quality": 1,
    "category": 1,
    "pedigree": -1,  # K bytes, K = len(nations)
}
"""Bytes per track of each column."""


def _le_bytes(values: Any, dtype: str) -> bytes:
    return np.ascontiguousarray(values, dtype=dtype).tobytes()


def _check_nations(nations: tuple[Any, ...]) -> None:
    if len(nations) > MAX_NATIONS_PER_MESSAGE:
        raise MessageError("bad-nations", f"{len(nations)} nations, at most {MAX_NATIONS_PER_MESSAGE}")
    bad = [c for c in nations if not is_nation_code(c)]
    if bad:
        raise MessageError("bad-nations", f"{_short(bad[0])} is not 3 uppercase ASCII letters")
    if len(set(nations)) != len(nations):
        raise MessageError("bad-nations", f"repeated nation code in {list(nations)}")


def _row_count(columns: dict[str, Any], n_nations: int) -> int:
    """N from ``track_id``, after checking the cap and that every column holds exactly N rows."""
    n, rest = divmod(len(columns["track_id"]), 8)
    if rest:
        raise MessageError("bad-length", f"track_id is {len(columns['track_id'])} bytes, not whole int64s")
    if n > MAX_TRACKS_PER_MESSAGE:
        raise MessageError("too-many-tracks", f"{n} tracks, at most {MAX_TRACKS_PER_MESSAGE}")
    for name, width in _COLUMN_WIDTHS.items():
        want = n * (n_nations if width < 0 else width)
        if len(columns[name]) != want:
            raise MessageError(
                "bad-length", f"{name} is {len(columns[name])} bytes, expected {want} for {n} tracks"
            )
    return n


def _check_rows(reason: str, bad: NDArray[np.bool_], track_id: NDArray[np.int64], what: str) -> None:
    """`MessageError` if any element of ``bad`` (N, ...) is set, naming the count of bad rows and one."""
    if np.count_nonzero(bad):  # cheaper than bad.any() on small arrays
        rows = np.flatnonzero(bad.reshape(len(bad), -1).any(axis=1))
        raise MessageError(
            reason, f"{what} in {len(rows)} of {len(bad)} tracks, e.g. track_id {track_id[rows[0]]}"
        )


def _short(value: object) -> str:
    """repr of untrusted input, cut short for logs."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
