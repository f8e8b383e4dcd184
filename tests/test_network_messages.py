"""Track batches on the wire (kizuna/network/messages.py): packing round-trips bit for bit, and
`unpack_tracks` is the gate — every malformed batch raises `MessageError` with the documented
reason, and nothing else, whatever the bytes.

States are plausible ECEF values (positions ~6,400 km, velocities up to a few km/s) and covariances
random symmetric positive definite matrices in m² and m²/s²; the exactness checks compare raw bytes,
so -0.0, subnormals and the last bit all count.
"""

from __future__ import annotations

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kizuna.network.messages import (
    CATEGORIES,
    MAX_NATIONS_PER_MESSAGE,
    MAX_TRACKS_PER_MESSAGE,
    MESSAGE_ERROR_REASONS,
    SOURCE_BITS,
    Envelope,
    Message,
    MessageError,
    TrackBatch,
    Tracks,
    check_message,
    decode_envelope,
    decode_message,
    encode,
    pack_tracks,
    unpack_tracks,
    valid_track_rows,
)

NATIONS = ("USA", "JPN", "AUS")
BATCH_DECODER = msgspec.msgpack.Decoder(TrackBatch)


def make_tracks(n: int, seed: int = 0, nations: tuple[str, ...] = NATIONS, time_s: float = 12.5) -> Tracks:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, 6, 6)) * np.array([30.0, 30.0, 30.0, 2.0, 2.0, 2.0])[:, None]
    P = a @ a.transpose(0, 2, 1) + np.eye(6)
    x = np.concatenate([rng.normal(size=(n, 3)) * 6.4e6, rng.normal(size=(n, 3)) * 2e3], axis=1)
    return Tracks(
        time_s=time_s,
        nations=nations,
        track_id=rng.permutation(10 * n + 1)[:n].astype(np.int64) - 5 * n,
        system_number=rng.integers(-(2**62), 2**62, n),
        x=x,
        P=P,
        quality=rng.integers(0, 16, n).astype(np.uint8),
        category=rng.integers(0, len(CATEGORIES), n).astype(np.uint8),
        pedigree=rng.integers(0, 16, (n, len(nations))).astype(np.uint8),
    )


def assert_tracks_identical(got: Tracks, want: Tracks) -> None:
    assert got.time_s == want.time_s and got.nations == want.nations
    for name in ("track_id", "system_number", "x", "P", "quality", "category", "pedigree"):
        g, w = getattr(got, name), getattr(want, name)
        assert g.dtype == w.dtype and g.shape == w.shape, name
        assert g.tobytes() == w.tobytes(), name


def replaced(batch: TrackBatch, **changes: object) -> TrackBatch:
    return msgspec.structs.replace(batch, **changes)


# --- Round trip -----------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 500])
def test_round_trip_is_exact_through_msgpack(n: int) -> None:
    tracks = make_tracks(n, seed=n)
    if n:  # values whose bits a sloppy conversion would lose
        tracks.x[0, 0] = -0.0
        tracks.x[-1, 5] = 5e-324
        tracks.P[0, 0, 1] = tracks.P[0, 1, 0] = np.nextafter(1.0, 2.0)
    batch = pack_tracks(tracks)
    again = BATCH_DECODER.decode(encode(batch))
    assert again == batch
    assert_tracks_identical(unpack_tracks(again), tracks)


def test_unpacked_arrays_are_fresh_writeable_and_symmetric() -> None:
    tracks = make_tracks(20)
    got = unpack_tracks(pack_tracks(tracks))
    for name in ("track_id", "system_number", "x", "P", "quality", "category", "pedigree"):
        arr = getattr(got, name)
        assert arr.flags.writeable and arr.dtype.isnative, name
    np.testing.assert_array_equal(got.P, got.P.transpose(0, 2, 1))


def test_wire_layout_is_compact_and_little_endian() -> None:
    """Array-like structs (no field names on the wire), 237 bytes per track with 3 nations, int64
    little-endian whatever the host."""
    tracks = make_tracks(100)
    data = encode(pack_tracks(tracks))
    assert data[0] == 0x99  # MessagePack fixarray of the 9 TrackBatch fields
    per_track = 8 + 8 + 6 * 8 + 21 * 8 + 1 + 1 + len(NATIONS)
    assert 100 * per_track < len(data) < 100 * per_track + 100
    assert pack_tracks(tracks).track_id[:8] == int(tracks.track_id[0]).to_bytes(8, "little", signed=True)


def test_take_and_empty() -> None:
    tracks = make_tracks(10)
    sub = tracks.take([7, 2])
    assert len(sub) == 2 and sub.nations == NATIONS and sub.time_s == tracks.time_s
    np.testing.assert_array_equal(sub.P, tracks.P[[7, 2]])
    mask = np.zeros(10, dtype=bool)
    mask[3] = True
    np.testing.assert_array_equal(tracks.take(mask).x, tracks.x[3:4])
    empty = Tracks.empty(("USA", "KOR"))
    assert len(empty) == 0 and empty.pedigree.shape == (0, 2)
    assert_tracks_identical(unpack_tracks(pack_tracks(empty)), empty)


def test_tracks_refuses_inconsistent_shapes() -> None:
    tracks = make_tracks(3)
    with pytest.raises(ValueError, match=r"Tracks\.pedigree has shape \(3, 2\), expected \(3, 3\)"):
        Tracks(**{**vars(tracks), "pedigree": np.zeros((3, 2), dtype=np.uint8)})


# --- The gate -------------------------------------------------------------------------------------

GOOD = pack_tracks(make_tracks(4, seed=3))
N_GOOD = 4


def _set_float(column: bytes, index: int, value: float) -> bytes:
    arr = np.frombuffer(column, dtype="<f8").copy()
    arr[index] = value
    return arr.tobytes()


def _set_byte(column: bytes, index: int, value: int) -> bytes:
    arr = bytearray(column)
    arr[index] = value
    return bytes(arr)


BAD_BATCHES: dict[str, tuple[str, TrackBatch]] = {
    "x one row short": ("bad-length", replaced(GOOD, x=GOOD.x[:-48])),
    "track_id not whole int64s": ("bad-length", replaced(GOOD, track_id=GOOD.track_id[:-1])),
    "p one float long": ("bad-length", replaced(GOOD, p=GOOD.p + bytes(8))),
    "pedigree for 2 nations": ("bad-length", replaced(GOOD, pedigree=GOOD.pedigree[: 2 * N_GOOD])),
    "quality missing": ("bad-length", replaced(GOOD, quality=b"")),
    "too many tracks": ("too-many-tracks", replaced(GOOD, track_id=bytes(8 * (MAX_TRACKS_PER_MESSAGE + 1)))),
    "NaN position": ("not-finite", replaced(GOOD, x=_set_float(GOOD.x, 7, np.nan))),
    "inf covariance": ("not-finite", replaced(GOOD, p=_set_float(GOOD.p, 30, -np.inf))),
    "NaN time": ("not-finite", replaced(GOOD, time_s=float("nan"))),
    "zero variance": ("bad-covariance", replaced(GOOD, p=_set_float(GOOD.p, 21 + 20, 0.0))),
    "negative variance": ("bad-covariance", replaced(GOOD, p=_set_float(GOOD.p, 6, -1.0))),
    "quality 16": ("bad-quality", replaced(GOOD, quality=_set_byte(GOOD.quality, 2, 16))),
    "category 3": ("bad-category", replaced(GOOD, category=_set_byte(GOOD.category, 0, len(CATEGORIES)))),
    "pedigree bit 32": ("bad-pedigree", replaced(GOOD, pedigree=_set_byte(GOOD.pedigree, 5, 32))),
    "lowercase nation": ("bad-nations", replaced(GOOD, nations=["USA", "jpn", "AUS"])),
    "2-letter nation": ("bad-nations", replaced(GOOD, nations=["USA", "JP", "AUS"])),
    "non-ASCII nation": ("bad-nations", replaced(GOOD, nations=["USA", "JPÑ", "AUS"])),
    "repeated nation": ("bad-nations", replaced(GOOD, nations=["USA", "USA", "AUS"])),
    "too many nations": (
        "bad-nations",
        replaced(
            GOOD,
            nations=[f"A{chr(65 + i // 26)}{chr(65 + i % 26)}" for i in range(MAX_NATIONS_PER_MESSAGE + 1)],
        ),
    ),
    "duplicate track id": ("duplicate-track-id", replaced(GOOD, track_id=GOOD.track_id[:8] * N_GOOD)),
    "column not bytes": ("malformed", replaced(GOOD, x="abc")),
    "time not a number": ("malformed", replaced(GOOD, time_s="soon")),
    "nations not a list": ("malformed", replaced(GOOD, nations=5)),
}


@pytest.mark.parametrize("case", list(BAD_BATCHES))
def test_unpack_refuses_with_the_documented_reason(case: str) -> None:
    reason, batch = BAD_BATCHES[case]
    with pytest.raises(MessageError) as info:
        unpack_tracks(batch)
    assert info.value.reason == reason
    assert str(info.value).startswith(reason + ": ")
    assert reason in MESSAGE_ERROR_REASONS


def test_unpack_names_a_bad_track() -> None:
    tracks = make_tracks(5)
    tracks.quality[3] = 200
    with pytest.raises(
        MessageError, match=rf"quality above 15 in 1 of 5 tracks, e.g. track_id {tracks.track_id[3]}$"
    ):
        unpack_tracks(pack_tracks(tracks))


def test_valid_track_rows_flags_what_unpack_refuses() -> None:
    tracks = make_tracks(8)
    tracks.x[1, 2] = np.nan
    tracks.P[2, 4, 4] = 0.0
    tracks.quality[3] = 16
    tracks.category[4] = 9
    tracks.pedigree[5, 0] = max(SOURCE_BITS.values()) << 1  # the first bit no source kind uses
    ok = valid_track_rows(tracks)
    np.testing.assert_array_equal(ok, [True, False, False, False, False, False, True, True])
    with pytest.raises(MessageError):
        unpack_tracks(pack_tracks(tracks))
    assert len(unpack_tracks(pack_tracks(tracks.take(ok)))) == 3


def _assert_unpacks_or_refuses(batch: TrackBatch) -> None:
    try:
        tracks = unpack_tracks(batch)
    except MessageError as exc:
        reason = exc.reason
    else:
        reason = None
        assert_tracks_identical(unpack_tracks(pack_tracks(tracks)), tracks)
    assert reason is None or reason in MESSAGE_ERROR_REASONS


@settings(max_examples=200, deadline=None)
@given(
    n_rows=st.integers(0, 6),
    columns=st.lists(st.binary(max_size=300), min_size=7, max_size=7),
    exact=st.one_of(st.just([True] * 7), st.lists(st.booleans(), min_size=7, max_size=7)),
    nations=st.lists(st.sampled_from(["USA", "JPN", "AUS", "GBR", "usa", "JP", "JPNX"]), max_size=3),
    time_s=st.floats(allow_nan=True, allow_infinity=True),
)
def test_unpack_of_arbitrary_columns_only_raises_message_error(
    n_rows: int, columns: list[bytes], exact: list[bool], nations: list[str], time_s: float
) -> None:
    """Random bytes, most often cut to the right lengths for ``n_rows`` so that deeper checks run."""
    widths = [8, 8, 48, 168, 1, 1, len(nations)]
    cols = [
        (c * (w * n_rows // max(len(c), 1) + 1))[: w * n_rows] if ok and c else c
        for c, w, ok in zip(columns, widths, exact, strict=True)
    ]
    _assert_unpacks_or_refuses(TrackBatch(time_s, nations, *cols))


@settings(max_examples=200, deadline=None)
@given(
    field=st.sampled_from(["track_id", "system_number", "x", "p", "quality", "category", "pedigree"]),
    edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=4),
    cut=st.integers(-3, 3),
)
def test_unpack_of_mutated_valid_batches_only_raises_message_error(
    field: str, edits: list[tuple[int, int]], cut: int
) -> None:
    """Byte edits in one column of a valid batch reach every per-row check; ``cut`` ≠ 0 also changes
    the column's length."""
    column = bytearray(getattr(GOOD, field))
    for position, value in edits:
        column[position % len(column)] = value
    column = column[:cut] if cut < 0 else column + bytes(cut)
    _assert_unpacks_or_refuses(replaced(GOOD, **{field: bytes(column)}))


# --- Messages -------------------------------------------------------------------------------------


def _message(**changes: object) -> Message:
    base = Message(
        sender="JPN",
        seq=1,
        valid_time_s=GOOD.time_s,
        sent_time_s=13.0,
        release=["USA"],
        kind="tracks",
        payload=GOOD,
    )
    return msgspec.structs.replace(base, **changes)


def test_message_round_trip_and_check() -> None:
    message = _message()
    again = decode_message(encode(message))
    assert again == message
    assert_tracks_identical(check_message(again), unpack_tracks(GOOD))


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"sender": "jpn"}, "bad-nations"),
        ({"release": ["USA", "U"]}, "bad-nations"),
        ({"seq": 0}, "bad-seq"),
        ({"seq": 2**63}, "bad-seq"),
        ({"sent_time_s": float("inf")}, "not-finite"),
        ({"valid_time_s": float("nan")}, "not-finite"),
        ({"kind": "plots"}, "unknown-kind"),
        ({"valid_time_s": GOOD.time_s + 1.0}, "time-mismatch"),
        ({"payload": replaced(GOOD, x=b"")}, "bad-length"),
    ],
)
def test_check_message_refuses(changes: dict[str, object], reason: str) -> None:
    with pytest.raises(MessageError) as info:
        check_message(decode_message(encode(_message(**changes))))
    assert info.value.reason == reason


@pytest.mark.parametrize(
    "data",
    [b"", b"\xc1", b"\x93\xa3JPN\xc4\x00", encode(_message()), b"\x93\x01\x02\x03"],
    ids=["empty", "reserved byte", "truncated", "a Message", "wrong types"],
)
def test_decode_envelope_refuses_non_envelopes(data: bytes) -> None:
    with pytest.raises(MessageError) as info:
        decode_envelope(data)
    assert info.value.reason == "malformed"


def test_envelope_round_trip() -> None:
    envelope = Envelope(sender="JPN", body=encode(_message()), signature=bytes(64))
    assert decode_envelope(encode(envelope)) == envelope
    with pytest.raises(MessageError, match="malformed"):
        decode_message(b"\x93garbage")
