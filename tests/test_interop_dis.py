"""DIS Entity State PDUs: our encoder and decoder against opendis 1.0, each other, and garbage.

opendis is the third-party peer: its ``PduFactory.createPdu`` reads our bytes and its
``DataOutputStream`` writes PDUs our decoder must read. Its defaults are broken: every
header field is set explicitly below.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import math
import socket
import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opendis.DataOutputStream import DataOutputStream
from opendis.dis7 import (
    DeadReckoningParameters,
    EntityID,
    EntityMarking,
    EntityStatePdu,
    EntityType,
    EulerAngles,
    Vector3Double,
    Vector3Float,
)
from opendis.PduFactory import createPdu
from opendis.RangeCoordinates import GPS

from kizuna.frames import enu_vector_to_ecef, geodetic_to_ecef
from kizuna.interop.dis import (
    CATEGORY_ENTITY_TYPES,
    DIS_ERROR_REASONS,
    ESPDU_DTYPE,
    ESPDU_LENGTH,
    DisError,
    DisListener,
    DisSender,
    EntityState,
    dis_timestamp,
    entity_number,
    entity_state_pdus,
    euler_from_velocity,
    parse_entity_state,
)

EPOCH = dt.datetime(2026, 6, 1, 12, 59, 30, tzinfo=dt.UTC)

UNIT_S = 3600.0 / 2**31
"""One DIS timestamp unit (≈ 1.68 µs, IEEE 1278.1 §6.2.88)."""


def _picture() -> pd.DataFrame:
    """Three tracks, one per category, near Japan; times straddle the hour so the timestamp wraps."""
    lat = np.radians([35.0, 40.0, 10.0])
    lon = np.radians([139.0, 130.0, 150.0])
    alt = np.array([10_000.0, 300_000.0, 550_000.0])
    pos = geodetic_to_ecef(lat, lon, alt)
    vel_enu = np.array([[200.0, 100.0, 5.0], [-1500.0, 2000.0, -800.0], [7000.0, 2500.0, 10.0]])
    vel = enu_vector_to_ecef(vel_enu, lat, lon)
    return pd.DataFrame(
        {
            "time_s": [1.25, 29.0, 31.5],
            "track_id": [7, 65_540, 123_456_789_012],
            "status": "confirmed",
            "x_m": pos[:, 0],
            "y_m": pos[:, 1],
            "z_m": pos[:, 2],
            "vx_m_per_s": vel[:, 0],
            "vy_m_per_s": vel[:, 1],
            "vz_m_per_s": vel[:, 2],
            "lat_deg": np.degrees(lat),
            "lon_deg": np.degrees(lon),
            "alt_m": alt,
            "quality": np.int8(7),
            "category": ["air", "missile", "space"],
            "pedigree": "JPN+USA",
            "n_sources": 2,
            "reporter": "JPN",
        }
    )


def test_dtype_is_the_144_byte_entity_state_pdu():
    # Offsets of IEEE 1278.1-2012 §7.2.2 (the table of kizuna.interop.dis).
    assert ESPDU_DTYPE.itemsize == ESPDU_LENGTH == 144
    offsets = {name: ESPDU_DTYPE.fields[name][1] for name in ESPDU_DTYPE.names}
    assert offsets["timestamp"] == 4 and offsets["length"] == 8 and offsets["site"] == 12
    assert offsets["velocity"] == 36 and offsets["location"] == 48 and offsets["orientation"] == 72
    assert offsets["dr_algorithm"] == 88 and offsets["marking_charset"] == 128
    assert offsets["capabilities"] == 140


def test_our_pdus_decode_with_opendis_field_by_field():
    picture = _picture()
    pdus = entity_state_pdus(picture, EPOCH, site=42, application=3, exercise=9, force_id=1)
    assert [len(p) for p in pdus] == [144] * 3
    times = dis_timestamp(EPOCH, picture["time_s"].to_numpy())
    for row, data in zip(picture.itertuples(), pdus, strict=True):
        pdu = createPdu(data)
        assert isinstance(pdu, EntityStatePdu)
        assert (pdu.protocolVersion, pdu.exerciseID, pdu.pduType, pdu.protocolFamily) == (7, 9, 1, 1)
        assert pdu.length == 144 and pdu.pduStatus == 0
        assert (pdu.entityID.siteID, pdu.entityID.applicationID) == (42, 3)
        assert pdu.entityID.entityID == row.track_id % 65533 + 1
        assert pdu.forceId == 1 and pdu.numberOfVariableParameters == 0
        t = pdu.entityType
        got_type = (t.entityKind, t.domain, t.country, t.category, t.subcategory, t.specific, t.extra)
        assert got_type == CATEGORY_ENTITY_TYPES[row.category]
        a = pdu.alternativeEntityType
        assert (a.entityKind, a.domain, a.country) == got_type[:3]
        # Location is float64 on the wire: bit-exact.
        loc = pdu.entityLocation
        assert (loc.x, loc.y, loc.z) == (row.x_m, row.y_m, row.z_m)
        # Velocity is float32: exactly the float32 rounding of ours.
        v = pdu.entityLinearVelocity
        assert (v.x, v.y, v.z) == tuple(
            float(np.float32(c)) for c in (row.vx_m_per_s, row.vy_m_per_s, row.vz_m_per_s)
        )
        assert pdu.marking.characterSet == 1
        assert pdu.marking.charactersString() == str(row.track_id % 10**11)
        assert pdu.timestamp == int(times[row.Index])
        dr = pdu.deadReckoningParameters
        assert dr.deadReckoningAlgorithm == 2
        acc = dr.entityLinearAcceleration
        assert (acc.x, acc.y, acc.z) == (0.0, 0.0, 0.0)
        assert pdu.entityAppearance == 0 and pdu.capabilities == 0


def test_timestamp_is_absolute_time_past_the_hour():
    # 12:59:30 + 1.25 s = 3571.25 s past the hour; + 31.5 s wraps to 1.5 s past 13:00.
    ts = dis_timestamp(EPOCH, np.array([1.25, 31.5]))
    assert (ts & 1).tolist() == [1, 1]  # bit 0: absolute
    assert (ts >> 1) * UNIT_S == pytest.approx([3571.25, 1.5], abs=UNIT_S)
    with pytest.raises(ValueError, match="no timezone"):
        dis_timestamp(dt.datetime(2026, 6, 1), 0.0)


def _opendis_pdu(**overrides: object) -> EntityStatePdu:
    pdu = EntityStatePdu(
        entityID=EntityID(siteID=5, applicationID=6, entityID=777),
        forceId=2,
        entityType=EntityType(
            entityKind=1, domain=2, country=225, category=1, subcategory=3, specific=4, extra=5
        ),
        alternativeEntityType=EntityType(entityKind=1, domain=2, country=225),
        entityLinearVelocity=Vector3Float(250.5, -12.25, 3.0),
        entityLocation=Vector3Double(-3_950_000.123456789, 3_350_000.987654321, 3_700_000.5),
        entityOrientation=EulerAngles(psi=0.5, theta=-0.25, phi=0.125),
        deadReckoningParameters=DeadReckoningParameters(
            deadReckoningAlgorithm=4,
            entityLinearAcceleration=Vector3Float(1.0, 2.0, -0.5),
            entityAngularVelocity=Vector3Float(0.0, 0.0, 0.25),
        ),
        marking=EntityMarking(characterSet=1),
    )
    pdu.marking.setString("F15 EAGLE")
    pdu.pduType = 1
    pdu.protocolFamily = 1
    pdu.exerciseID = 3
    pdu.timestamp = (123_456_789 << 1) | 1
    pdu.entityAppearance = 0
    pdu.capabilities = 0
    pdu.pduStatus = 0
    pdu.length = 144
    for name, value in overrides.items():
        setattr(pdu, name, value)
    return pdu


def _serialise(pdu: EntityStatePdu) -> bytes:
    buf = io.BytesIO()
    pdu.serialize(DataOutputStream(buf))
    return buf.getvalue()


def test_opendis_pdus_decode_with_ours():
    pdu = _opendis_pdu(entityAppearance=0x00010203, capabilities=0x0A0B0C0D)
    state = parse_entity_state(_serialise(pdu))
    assert (state.protocol_version, state.exercise_id) == (7, 3)
    assert (state.site, state.application, state.entity, state.force_id) == (5, 6, 777, 2)
    assert state.entity_type == (1, 2, 225, 1, 3, 4, 5)
    assert state.alternative_entity_type == (1, 2, 225, 0, 0, 0, 0)
    assert state.location_m == (-3_950_000.123456789, 3_350_000.987654321, 3_700_000.5)
    assert state.velocity_m_per_s == (250.5, -12.25, 3.0)  # exact in float32
    assert state.orientation_rad == (0.5, -0.25, 0.125)
    assert state.dead_reckoning_algorithm == 4
    assert state.linear_acceleration_m_per_s2 == (1.0, 2.0, -0.5)
    assert state.angular_velocity_rad_per_s == (0.0, 0.0, 0.25)
    assert (state.marking_charset, state.marking) == (1, "F15 EAGLE")
    assert state.timestamp == (123_456_789 << 1) | 1 and state.timestamp_absolute
    assert state.time_past_hour_s == pytest.approx(123_456_789 * UNIT_S, abs=1e-9)
    assert (state.appearance, state.capabilities) == (0x00010203, 0x0A0B0C0D)
    assert state.variable_parameters == ()


def test_round_trip_ours_to_ours():
    picture = _picture()
    states = [parse_entity_state(p) for p in entity_state_pdus(picture, EPOCH, exercise=4)]
    assert [s.entity for s in states] == entity_number(picture["track_id"].to_numpy()).tolist()
    assert [s.marking for s in states] == ["7", "65540", "23456789012"]  # mod 10^11 for the long one
    # Track ids 7 and 65,540 are 65,533 apart: the documented entity-number collision.
    assert states[0].entity == states[1].entity == 8
    for s, row in zip(states, picture.itertuples(), strict=True):
        assert isinstance(s, EntityState)
        assert s.exercise_id == 4 and s.timestamp_absolute
        assert s.location_m == (row.x_m, row.y_m, row.z_m)
        assert s.velocity_m_per_s == pytest.approx((row.vx_m_per_s, row.vy_m_per_s, row.vz_m_per_s), rel=1e-7)
        assert s.entity_type == s.alternative_entity_type == CATEGORY_ENTITY_TYPES[row.category]
        expected_s = (EPOCH.minute * 60 + EPOCH.second + row.time_s) % 3600.0
        assert s.time_past_hour_s == pytest.approx(expected_s, abs=UNIT_S)


def test_non_finite_rows_get_no_pdu(caplog: pytest.LogCaptureFixture):
    picture = _picture()
    picture.loc[1, "vx_m_per_s"] = np.nan
    with caplog.at_level(logging.WARNING, logger="kizuna.interop.dis"):
        pdus = entity_state_pdus(picture, EPOCH)
    assert [parse_entity_state(p).marking for p in pdus] == ["7", "23456789012"]
    assert "1 of 3 picture rows" in caplog.text
    assert entity_state_pdus(picture.iloc[:0], EPOCH) == []
    with pytest.raises(ValueError, match="PICTURE_SCHEMA"):
        entity_state_pdus(picture.drop(columns="category"), EPOCH)


def test_geodetic_position_lands_in_the_location_field():
    # Mt Fuji summit, 35.3606° N 138.7274° E, 3776 m (height taken as ellipsoidal for this check).
    lat_deg, lon_deg, alt_m = 35.3606, 138.7274, 3776.0
    expected = geodetic_to_ecef(math.radians(lat_deg), math.radians(lon_deg), alt_m)
    picture = _picture().iloc[:1].copy()
    picture[["x_m", "y_m", "z_m"]] = expected
    state = parse_entity_state(entity_state_pdus(picture, EPOCH)[0])
    assert state.location_m == tuple(expected)
    # opendis's own WGS-84 conversion (degrees in): agrees to well under a millimetre.
    assert np.allclose(GPS().lla2ecef((lat_deg, lon_deg, alt_m)), state.location_m, rtol=0, atol=1e-3)


@pytest.mark.parametrize(
    ("lat_deg", "lon_deg", "heading_deg", "climb_deg"),
    [(35.0, 139.0, 60.0, 10.0), (-20.0, -45.0, 200.0, -5.0), (0.0, 0.0, 90.0, 0.0), (70.0, 170.0, 0.0, 30.0)],
)
def test_orientation_matches_closed_form(
    lat_deg: float, lon_deg: float, heading_deg: float, climb_deg: float
):
    # Closed form: the body x axis (velocity direction) in ECEF is
    # cosP cosH N + cosP sinH E + sinP U with N, E, U the local axes; DIS ψ = atan2(x_y, x_x),
    # θ = −asin(x_z) (IEEE 1278.1 Tait-Bryan Z-Y-X from the ECEF axes).
    la, lo, h, p = (math.radians(d) for d in (lat_deg, lon_deg, heading_deg, climb_deg))
    sla, cla, slo, clo = math.sin(la), math.cos(la), math.sin(lo), math.cos(lo)
    xx = -math.cos(p) * math.cos(h) * sla * clo - math.cos(p) * math.sin(h) * slo + math.sin(p) * cla * clo
    xy = -math.cos(p) * math.cos(h) * sla * slo + math.cos(p) * math.sin(h) * clo + math.sin(p) * cla * slo
    xz = math.cos(p) * math.cos(h) * cla + math.sin(p) * sla
    pos = geodetic_to_ecef(la, lo, 9000.0)
    speed = 240.0
    vel_enu = speed * np.array([math.cos(p) * math.sin(h), math.cos(p) * math.cos(h), math.sin(p)])
    vel = enu_vector_to_ecef(vel_enu, la, lo)
    psi, theta, phi = euler_from_velocity(pos[None], vel[None])[0]
    assert psi == pytest.approx(math.atan2(xy, xx), abs=1e-12)
    assert theta == pytest.approx(-math.asin(xz), abs=1e-12)
    # Roll: wings level, i.e. the body y axis of Rz(ψ)Ry(θ)Rx(φ) is horizontal (⊥ local up).
    cps, sps, cth, sth, cph, sph = (
        math.cos(psi),
        math.sin(psi),
        math.cos(theta),
        math.sin(theta),
        math.cos(phi),
        math.sin(phi),
    )
    body_y = np.array([cps * sth * sph - sps * cph, sps * sth * sph + cps * cph, cth * sph])
    up = np.array([cla * clo, cla * slo, sla])
    assert abs(body_y @ up) < 1e-12
    # …and points to the right of the track (heading + 90°), not the left.
    right_enu = np.array([math.cos(h), -math.sin(h), 0.0])
    assert body_y @ enu_vector_to_ecef(right_enu, la, lo) == pytest.approx(1.0, abs=1e-12)


def test_orientation_spot_values():
    # At 0° N 0° E the ECEF axes are X = up, Y = east, Z = north: level flight north is θ = −90°;
    # level flight east is ψ = 90°, θ = 0, φ = −90° (body z, down, is −X).
    pos = geodetic_to_ecef(0.0, 0.0, 0.0)[None]
    _, theta, _ = euler_from_velocity(pos, np.array([[0.0, 0.0, 100.0]]))[0]
    assert theta == pytest.approx(-math.pi / 2)
    assert euler_from_velocity(pos, np.array([[0.0, 100.0, 0.0]]))[0] == pytest.approx(
        [math.pi / 2, 0.0, -math.pi / 2], abs=1e-12
    )
    # Degenerate inputs give finite angles: straight up, and standing still.
    assert np.isfinite(euler_from_velocity(np.vstack([pos, pos]), np.array([[5.0, 0, 0], [0, 0, 0]]))).all()


# --- Strictness --------------------------------------------------------------------------------

_GOOD = entity_state_pdus(_picture(), EPOCH)[0]


def _mutated(**fields: object) -> bytes:
    rec = np.frombuffer(_GOOD, dtype=ESPDU_DTYPE).copy()
    for name, value in fields.items():
        rec[name] = value
    return rec.tobytes()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (_GOOD[:143], "too-short"),
        (_GOOD + b"\0" * 16, "length-mismatch"),
        (_mutated(length=160) + b"\0" * 16, "bad-variable-parameters"),
        (_mutated(protocol_version=8), "bad-version"),
        (_mutated(pdu_type=2), "not-entity-state"),
        (_mutated(family=2), "bad-family"),
        (_mutated(location=[np.nan, 0.0, 0.0]), "not-finite"),
        (_mutated(velocity=[0.0, np.inf, 0.0]), "not-finite"),
        (_mutated(marking=b"\xff\xfe"), "bad-marking"),
    ],
)
def test_decoder_refuses_with_a_reason(data: bytes, reason: str):
    with pytest.raises(DisError) as err:
        parse_entity_state(data)
    assert err.value.reason == reason and reason in DIS_ERROR_REASONS
    assert isinstance(err.value, ValueError)


def test_variable_parameters_are_kept_raw():
    params = bytes(range(32))
    state = parse_entity_state(_mutated(length=176, n_variable_parameters=2) + params)
    assert state.variable_parameters == (params[:16], params[16:])


def _parse_or_reason(data: bytes) -> None:
    reason = None
    try:
        parse_entity_state(data)
    except DisError as err:
        reason = err.reason
    assert reason is None or reason in DIS_ERROR_REASONS


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_raise_only_dis_error(data: bytes):
    _parse_or_reason(data)


@settings(max_examples=400, deadline=None)
@given(
    flips=st.lists(st.tuples(st.integers(0, 143), st.integers(0, 7)), max_size=8),
    cut=st.integers(0, 144),
    tail=st.binary(max_size=64),
    fix_length=st.booleans(),
)
def test_mutated_pdus_raise_only_dis_error(
    flips: list[tuple[int, int]], cut: int, tail: bytes, fix_length: bool
):
    data = bytearray(_GOOD)
    for byte, bit in flips:
        data[byte] ^= 1 << bit
    data = data[:cut] + tail
    if fix_length and len(data) >= 10:  # get past the length check to the deeper ones
        data[8:10] = len(data).to_bytes(2, "big")
    _parse_or_reason(bytes(data))


# --- UDP -----------------------------------------------------------------------------------------


def _wait_for(predicate, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def test_listener_survives_garbage_and_accepts_a_good_pdu(caplog: pytest.LogCaptureFixture):
    received: list[EntityState] = []
    rng = np.random.default_rng(20260601)
    garbage = [rng.bytes(int(n)) for n in rng.integers(0, 300, size=200)]
    garbage[:3] = [b"", _GOOD[:100], _mutated(pdu_type=2)]
    good = entity_state_pdus(_picture(), EPOCH)
    with caplog.at_level(logging.DEBUG, logger="kizuna.interop.dis"), DisListener(received.append) as lis:
        raw = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            for i, g in enumerate(garbage):
                raw.sendto(g, ("127.0.0.1", lis.port))
                if i % 50 == 49:
                    time.sleep(0.01)  # keep the loopback receive buffer from overflowing
        finally:
            raw.close()
        with DisSender("127.0.0.1", lis.port) as sender:
            assert sender.send(good) == 3
        assert _wait_for(lambda: lis.accepted == 3)
        assert _wait_for(lambda: sum(lis.rejected.values()) == 200)
    assert [s.marking for s in received] == ["7", "65540", "23456789012"]
    assert set(lis.rejected) <= set(DIS_ERROR_REASONS)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == len(lis.rejected)  # one WARNING per reason, the rest at DEBUG
    assert all("127.0.0.1" in r.getMessage() for r in warnings)


def test_listener_survives_a_failing_callback():
    def explode(_: EntityState) -> None:
        raise RuntimeError("bug in the consumer")

    lis = DisListener(explode)
    lis.handle(_GOOD, ("127.0.0.1", 1))
    lis.handle(_GOOD, ("127.0.0.1", 1))
    lis.close()
    assert lis.rejected == {"callback-error": 2} and lis.accepted == 0
