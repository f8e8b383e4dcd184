"""ASTERIX CAT062: our encoder read by a third-party decoder (``asterix-decoder``), our strict
decoder against our encoder, against random and mutated bytes, and the UDP listener.

Tolerances are the format's resolution: 180/2^25 deg in lat/lon (0.6 m of latitude), 1/128 s in
time, 0.25 m/s in velocity, 6.25 ft (1.9 m) in altitude. Half a step is what rounding loses.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

import asterix
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kizuna.constants import FT
from kizuna.frames import ecef_vector_to_enu, enu_vector_to_ecef
from kizuna.interop.asterix import (
    ALTITUDE_LSB_M,
    LATLON_LSB_DEG,
    AsterixError,
    AsterixListener,
    AsterixSender,
    TrackNumbers,
    cat062_block,
    cat062_blocks,
    parse_cat062,
    resolve_time_of_track,
)
from kizuna.timebase import NaiveDatetimeError

EPOCH = dt.datetime(2026, 6, 1, 12, 0, 0, tzinfo=dt.UTC)


def _picture(n: int, seed: int = 7, *, time_s: float | np.ndarray = 30.0) -> pd.DataFrame:
    """A picture of `n` tracks at random places, with ENU velocities up to 900 m/s."""
    rng = np.random.default_rng(seed)
    lat = rng.uniform(-89.9, 89.9, n)
    lon = rng.uniform(-180.0, 180.0, n)
    alt = rng.uniform(-100.0, 30_000.0, n)
    v_enu = rng.uniform(-900.0, 900.0, (n, 3))
    v_ecef = enu_vector_to_ecef(v_enu, np.radians(lat), np.radians(lon))
    return pd.DataFrame(
        {
            "time_s": np.broadcast_to(np.asarray(time_s, dtype=float), (n,)).copy(),
            "track_id": rng.choice(10**12, size=n, replace=False).astype(np.int64),
            "status": ["confirmed"] * n,
            "x_m": 0.0,
            "y_m": 0.0,
            "z_m": 0.0,
            "vx_m_per_s": v_ecef[:, 0],
            "vy_m_per_s": v_ecef[:, 1],
            "vz_m_per_s": v_ecef[:, 2],
            "lat_deg": lat,
            "lon_deg": lon,
            "alt_m": alt,
            "quality": np.full(n, 3, dtype=np.int8),
            "category": "air",
            "pedigree": "JPN",
            "n_sources": rng.integers(1, 4, n),
            "reporter": "JPN",
        }
    )


def _v_enu(pic: pd.DataFrame) -> np.ndarray:
    v = pic[["vx_m_per_s", "vy_m_per_s", "vz_m_per_s"]].to_numpy()
    return ecef_vector_to_enu(v, np.radians(pic["lat_deg"].to_numpy()), np.radians(pic["lon_deg"].to_numpy()))


def test_peer_decoder_reads_our_block() -> None:
    pic = _picture(60)
    numbers = TrackNumbers()
    block = cat062_block(pic, EPOCH, sac=25, sic=200, track_numbers=numbers, service_id=4)
    decoded = asterix.parse(block)
    assert len(decoded) == len(pic)
    expected_tn = numbers.assign(pic["track_id"].to_numpy())
    v_enu = _v_enu(pic)
    for k, rec in enumerate(decoded):
        assert rec["category"] == 62
        assert (rec["I010"]["SAC"]["val"], rec["I010"]["SIC"]["val"]) == (25, 200)
        assert rec["I015"]["SID"]["val"] == 4
        assert abs(rec["I070"]["ToT"]["val"] - (12 * 3600 + 30.0)) <= 1 / 256
        assert abs(rec["I105"]["Lat"]["val"] - pic["lat_deg"][k]) <= LATLON_LSB_DEG / 2 + 1e-12
        assert abs(rec["I105"]["Lon"]["val"] - pic["lon_deg"][k]) <= LATLON_LSB_DEG / 2 + 1e-12
        assert abs(rec["I185"]["Vx"]["val"] - v_enu[k, 0]) <= 0.125 + 1e-9
        assert abs(rec["I185"]["Vy"]["val"] - v_enu[k, 1]) <= 0.125 + 1e-9
        assert rec["I040"]["TrkN"]["val"] == expected_tn[k]
        status = rec["I080"]
        assert status["CNF"]["val"] == 0 and status["MRH"]["val"] == 1 and status["SRC"]["val"] == 2
        assert status["MON"]["val"] == int(pic["n_sources"][k] <= 1)
        assert abs(rec["I130"]["Alt"]["val"] - pic["alt_m"][k] / FT) <= 6.25 / 2 + 1e-9


def test_our_decoder_round_trips_at_format_resolution() -> None:
    pic = _picture(200, seed=11, time_s=np.linspace(0.0, 100.0, 200))
    pic.loc[3, ["vx_m_per_s", "vy_m_per_s", "vz_m_per_s"]] = np.nan  # I062/185 omitted
    pic.loc[4, "alt_m"] = np.nan  # I062/130 omitted
    pic.loc[5, "status"] = "tentative"
    numbers = TrackNumbers()
    records = parse_cat062(cat062_block(pic, EPOCH, sac=1, sic=2, track_numbers=numbers, simulated=True))
    assert len(records) == len(pic)
    v_enu = _v_enu(pic)
    tn = numbers.assign(pic["track_id"].to_numpy())
    for k, r in enumerate(records):
        # The quantised value exactly: LSB × round(value / LSB).
        assert r.lat_deg == np.rint(pic["lat_deg"][k] / LATLON_LSB_DEG) * LATLON_LSB_DEG
        assert r.lon_deg == np.rint(pic["lon_deg"][k] / LATLON_LSB_DEG) * LATLON_LSB_DEG
        assert r.time_of_day_s == np.rint((12 * 3600 + pic["time_s"][k]) * 128) / 128
        assert r.track_number == tn[k] and (r.sac, r.sic, r.service_id) == (1, 2, None)
        assert r.status.simulated and r.status.cnf == (1 if k == 5 else 0)
        if k == 3:
            assert r.v_east_m_per_s is None and r.v_north_m_per_s is None
        else:
            assert r.v_east_m_per_s == np.rint(v_enu[k, 0] * 4) / 4
            assert r.v_north_m_per_s == np.rint(v_enu[k, 1] * 4) / 4
        if k == 4:
            assert r.geometric_alt_m is None and r.status.src == 0
        else:
            assert r.geometric_alt_m == np.rint(pic["alt_m"][k] / ALTITUDE_LSB_M) * ALTITUDE_LSB_M


def test_fspec_extends_with_fx_bits() -> None:
    """FRN 18 (I062/130) needs three FSPEC octets: FX set in the first two, clear in the third."""
    block = cat062_block(_picture(1), EPOCH, sac=1, sic=1)
    fspec = block[3:6]
    assert fspec[0] & 1 and fspec[1] & 1 and not fspec[2] & 1
    # FRN 1 (010), 4 (070), 5 (105), 7 (185) | 12 (040), 13 (080) | 18 (130)
    assert fspec == bytes([0b1001_1011, 0b0000_1101, 0b0001_0000])


def test_time_of_track_wraps_at_utc_midnight() -> None:
    """Time of track is seconds since UTC midnight: 23:59:59.5 + 1 s is stamped 00:00:00.5, and the
    receiver puts it on the next day by taking the instant nearest its own clock."""
    epoch = dt.datetime(2026, 6, 1, 23, 59, 59, 500_000, tzinfo=dt.UTC)
    pic = _picture(3, time_s=np.array([0.0, 0.5, 1.0]))
    records = parse_cat062(cat062_block(pic, epoch, sac=1, sic=1))
    assert [r.time_of_day_s for r in records] == [86_399.5, 0.0, 0.5]
    peer = [rec["I070"]["ToT"]["val"] for rec in asterix.parse(cat062_block(pic, epoch, sac=1, sic=1))]
    assert peer == [86_399.5, 0.0, 0.5]
    received = dt.datetime(2026, 6, 2, 0, 0, 2, tzinfo=dt.UTC)
    assert resolve_time_of_track(86_399.5, received) == dt.datetime(
        2026, 6, 1, 23, 59, 59, 500_000, tzinfo=dt.UTC
    )
    assert resolve_time_of_track(0.5, received) == dt.datetime(2026, 6, 2, 0, 0, 0, 500_000, tzinfo=dt.UTC)
    received_before = dt.datetime(2026, 6, 1, 23, 59, 58, tzinfo=dt.UTC)
    assert resolve_time_of_track(0.5, received_before) == dt.datetime(
        2026, 6, 2, 0, 0, 0, 500_000, tzinfo=dt.UTC
    )


def test_naive_epoch_is_refused() -> None:
    with pytest.raises(NaiveDatetimeError, match="timezone"):
        cat062_block(_picture(1), dt.datetime(2026, 6, 1), sac=1, sic=1)


def test_velocity_beyond_int16_is_clipped() -> None:
    pic = _picture(1)
    v = enu_vector_to_ecef(
        np.array([[9_000.0, -9_000.0, 0.0]]), np.radians(pic["lat_deg"]), np.radians(pic["lon_deg"])
    )
    pic[["vx_m_per_s", "vy_m_per_s", "vz_m_per_s"]] = v
    (record,) = parse_cat062(cat062_block(pic, EPOCH, sac=1, sic=1))
    assert (record.v_east_m_per_s, record.v_north_m_per_s) == (8191.75, -8192.0)


def test_large_picture_splits_into_blocks_under_the_limit() -> None:
    pic = _picture(6_000, seed=3)
    numbers = TrackNumbers()
    blocks = cat062_blocks(pic, EPOCH, sac=1, sic=1, track_numbers=numbers)
    assert len(blocks) >= 3 and all(len(b) <= 65_535 for b in blocks)
    records = [r for b in blocks for r in parse_cat062(b)]
    assert [r.track_number for r in records] == numbers.assign(pic["track_id"].to_numpy()).tolist()
    small = cat062_blocks(pic.head(100), EPOCH, sac=1, sic=1, max_block_bytes=1_472)
    assert all(len(b) <= 1_472 for b in small) and sum(len(parse_cat062(b)) for b in small) == 100
    with pytest.raises(ValueError, match="cat062_blocks"):
        cat062_block(pic, EPOCH, sac=1, sic=1)


def test_track_numbers_are_stable_unique_and_reused_late() -> None:
    table = TrackNumbers()
    first = table.assign([10**15, 5, 77])
    assert sorted(first.tolist()) == [1, 2, 3]
    assert table.assign([77, 5]).tolist() == [first[2], first[1]]  # stable
    table.retain_only([5, 77])  # 10**15 ended: its number is freed...
    assert table.assign([999]).tolist() == [4]  # ...but not reused at once (round-robin)
    assert len(set(table.assign([5, 77, 999]).tolist())) == 3


def test_track_numbers_exhausted_raises_with_the_fix() -> None:
    table = TrackNumbers()
    table.assign(np.arange(TrackNumbers.CAPACITY))
    with pytest.raises(AsterixError, match="release") as err:
        table.assign([-1])
    assert err.value.reason == "track_numbers_exhausted"
    table.release([0])
    assert table.assign([-1]).tolist() == [1]


def _block_of(*records: bytes) -> bytes:
    body = b"".join(records)
    return bytes([62]) + (len(body) + 3).to_bytes(2, "big") + body


def test_missing_mandatory_item_is_refused() -> None:
    # FSPEC 0x99 0x08: FRN 1, 4, 5 | FRN 12 (040) — no I062/080.
    record = bytes([0x99, 0x08]) + b"\x01\x02" + b"\x00\x00\x80" + bytes(8) + b"\x00\x07"
    with pytest.raises(AsterixError) as err:
        parse_cat062(_block_of(record))
    assert err.value.reason == "missing_item" and "080" in str(err.value)


def test_known_length_items_are_skipped_and_compound_ones_refused() -> None:
    good = cat062_block(_picture(1), EPOCH, sac=1, sic=1)[3:]
    # Add I062/060 (FRN 9, fixed 2 octets) between 185 and 040: FSPEC octet 2 gains bit 7.
    with_060 = good[:1] + bytes([good[1] | 0x40]) + good[2:3] + good[3:20] + b"\x12\x34" + good[20:]
    (record,) = parse_cat062(_block_of(with_060))
    assert record.other_items == ("060",) and record.track_number == 1
    assert asterix.parse(_block_of(with_060))[0]["I040"]["TrkN"]["val"] == 1  # the peer agrees
    with_380 = good[:1] + bytes([good[1] | 0x10]) + good[2:]  # FRN 11, I062/380 (compound)
    with pytest.raises(AsterixError) as err:
        parse_cat062(_block_of(with_380))
    assert err.value.reason == "unsupported_item"


def test_peer_decodes_a_truncated_block_into_odd_records_ours_raises() -> None:
    """The peer decodes a truncated block instead of raising. Cut a two-record block after
    30 bytes (the first record and 1 byte of the second) and set LEN to match: the peer returns the
    first record plus a second, itemless 1-byte "record"; ours refuses the block."""
    block = cat062_block(_picture(2), EPOCH, sac=1, sic=1)
    cut = 30
    truncated = bytes([62]) + cut.to_bytes(2, "big") + block[3:cut]
    peer = asterix.parse(truncated)
    assert len(peer) == 2 and not any(key.startswith("I") for key in peer[1])
    with pytest.raises(AsterixError) as err:
        parse_cat062(truncated)
    assert err.value.reason == "truncated_fspec"
    # With the original LEN left in place, the peer still returns records; ours names the mismatch.
    assert len(asterix.parse(block[:cut])) >= 1
    with pytest.raises(AsterixError, match="LEN field says"):
        parse_cat062(block[:cut])


def _parse_only_asterix_errors(data: bytes) -> None:
    """Either records or an AsterixError with a reason; any other exception fails the test."""
    error: AsterixError | None = None
    try:
        records = parse_cat062(data)
    except AsterixError as err:
        error = err
    if error is None:
        assert records
    else:
        assert error.reason and isinstance(error, ValueError)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_raise_only_asterix_error(data: bytes) -> None:
    _parse_only_asterix_errors(data)
    _parse_only_asterix_errors(bytes([62]) + (len(data) + 3).to_bytes(2, "big") + data)


_VALID_BLOCKS = [
    cat062_block(_picture(3, seed=s), EPOCH, sac=1, sic=1, service_id=s if s % 2 else None, simulated=s == 2)
    for s in range(4)
]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    block=st.sampled_from(_VALID_BLOCKS),
    edits=st.lists(
        st.one_of(
            st.tuples(st.just("flip"), st.integers(0, 200), st.integers(0, 255)),
            st.tuples(st.just("truncate"), st.integers(0, 200), st.just(0)),
            st.tuples(st.just("extend"), st.integers(1, 20), st.integers(0, 255)),
        ),
        min_size=1,
        max_size=4,
    ),
    fix_length=st.booleans(),
)
def test_mutated_blocks_raise_only_asterix_error(block: bytes, edits: list, fix_length: bool) -> None:
    data = bytearray(block)
    for op, where, value in edits:
        if op == "flip" and data:
            data[where % len(data)] ^= value or 0x01
        elif op == "truncate":
            del data[where % (len(data) + 1) :]
        elif op == "extend":
            data += bytes([value]) * where
    if fix_length and len(data) >= 3:
        data[1:3] = min(len(data), 65_535).to_bytes(2, "big")  # get past the LEN check, into records
    _parse_only_asterix_errors(bytes(data))


def test_listener_survives_garbage_then_accepts_a_good_block(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="kizuna.interop.asterix")
    received: list = []
    rng = np.random.default_rng(2026)
    good = cat062_block(_picture(5), EPOCH, sac=9, sic=8)
    listener = AsterixListener(callback=lambda records, source: received.append(records))
    with listener, AsterixSender(*listener.address) as sender:
        for k in range(200):
            garbage = rng.integers(0, 256, rng.integers(0, 120)).astype(np.uint8).tobytes()
            if k % 4 == 0 and len(garbage) >= 3:
                garbage = bytes([62]) + garbage[1:]  # right category, broken inside
            sender.send(garbage)
        sender.send(good)
        deadline = time.monotonic() + 5.0
        while not received and time.monotonic() < deadline:
            time.sleep(0.01)
    assert listener.accepted == 1 and listener.records == 5
    assert [r.sac for r in received[0]] == [9] * 5
    assert sum(listener.rejected.values()) == 200
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == len(listener.rejected)  # one WARNING per reason, the rest at DEBUG
    assert all("127.0.0.1:" in r.getMessage() for r in warnings)


def test_listener_counts_a_failing_callback_and_goes_on() -> None:
    def boom(records: list, source: tuple[str, int]) -> None:
        raise RuntimeError("consumer bug")

    listener = AsterixListener(callback=boom)
    try:
        block = cat062_block(_picture(1), EPOCH, sac=1, sic=1)
        assert len(listener.handle(block, ("127.0.0.1", 1))) == 1
        assert listener.handle(block + b"\x00", ("127.0.0.1", 1)) == []
        assert listener.rejected == {"callback_error": 1, "truncated_block": 1}
    finally:
        listener.stop()
