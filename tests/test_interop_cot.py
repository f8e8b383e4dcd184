"""CoT: our events read by third-party peers (takproto, pytak), theirs read by us, strict decoding.

References: MITRE CoT Event schema 2.0 (facts restated in `_validate_event_schema`, nothing
downloaded); takproto 3.0 (`parse_proto`, `xml2proto`); pytak 7.6 (`cot_event`, `serialize_cot`,
`protocol_factory`, `TXWorker`, `RXWorker`). All sockets are on 127.0.0.1 and closed by each test.
"""

from __future__ import annotations

import asyncio
import configparser
import contextlib
import datetime as dt
import logging
import math
import re
import socket
import threading
import time
import warnings
import xml.etree.ElementTree as StdET
from xml.sax.saxutils import quoteattr

import numpy as np
import pandas as pd
import pytest
import takproto
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kizuna.interop.cot import (
    COT_UNKNOWN_ERROR_M,
    XML_DECLARATION,
    CotConnectionError,
    CotError,
    CotListener,
    CotTcpClient,
    cot_events,
    cot_type,
    encode_tak_v1,
    parse_cot,
    send_udp,
    track_course_speed,
)
from kizuna.timebase import NaiveDatetimeError

with warnings.catch_warnings():
    # pytak warns at import that its optional crypto/aiohttp extras are absent; we use neither.
    warnings.simplefilter("ignore", UserWarning)
    import pytak

EPOCH = dt.datetime(2026, 6, 1, 23, 59, 59, tzinfo=dt.UTC)
TIMEOUT_S = 5.0


def _enu_axes(lat_deg: float, lon_deg: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """East, north, up unit vectors in ECEF, written out here (independent of kizuna.frames)."""
    la, lo = math.radians(lat_deg), math.radians(lon_deg)
    east = np.array([-math.sin(lo), math.cos(lo), 0.0])
    north = np.array([-math.sin(la) * math.cos(lo), -math.sin(la) * math.sin(lo), math.cos(la)])
    up = np.array([math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la)])
    return east, north, up


def _picture(n: int = 3, **overrides: object) -> pd.DataFrame:
    """A picture with the columns of kizuna.recording.PICTURE_SCHEMA."""
    rng = np.random.default_rng(7)
    categories = ["air", "missile", "space"]
    data: dict[str, object] = {
        "time_s": np.arange(n, dtype=float) * 0.5,
        "track_id": np.arange(100, 100 + n, dtype=np.int64),
        "status": ["confirmed"] * n,
        "x_m": np.zeros(n),
        "y_m": np.zeros(n),
        "z_m": np.zeros(n),
        "vx_m_per_s": rng.normal(0, 200, n),
        "vy_m_per_s": rng.normal(0, 200, n),
        "vz_m_per_s": rng.normal(0, 200, n),
        "lat_deg": rng.uniform(-60, 60, n),
        "lon_deg": rng.uniform(-179, 179, n),
        "alt_m": rng.uniform(0, 3e5, n),
        "sigma_x_m": rng.uniform(5, 500, n),
        "sigma_y_m": rng.uniform(5, 500, n),
        "sigma_z_m": rng.uniform(5, 500, n),
        "sigma_vx_m_per_s": np.ones(n),
        "sigma_vy_m_per_s": np.ones(n),
        "sigma_vz_m_per_s": np.ones(n),
        "quality": np.full(n, 9, dtype=np.int8),
        "category": [categories[i % 3] for i in range(n)],
        "pedigree": ["JPN+USA"] * n,
        "n_sources": np.full(n, 2, dtype=np.int64),
        "reporter": ["JPN"] * n,
    }
    data.update(overrides)
    return pd.DataFrame(data)


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pytak_config(url: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser()
    parser["pytak"] = {"COT_URL": url}
    return parser["pytak"]


async def _until(predicate, timeout_s: float = TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached in time")
        await asyncio.sleep(0.005)


# ------------------------------------------------------------------------------- encoder: contents


def test_events_start_with_declaration_and_have_no_newline():
    events = cot_events(_picture(), EPOCH)
    assert len(events) == 3
    for ev in events:
        assert ev.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
        assert b"\n" not in ev


def test_type_mapping():
    assert cot_type("air") == "a-u-A"
    assert cot_type("missile", "h") == "a-h-A-W-M"
    assert cot_type("space", "n") == "a-n-P"
    assert cot_type("balloon") == "a-u-X"
    with pytest.raises(ValueError, match="affiliation"):
        cot_type("air", "q")


def test_takproto_parses_our_events_and_fields_match():
    pic = _picture(6)
    events = cot_events(pic, EPOCH, affiliation="h")
    for row, ev in zip(pic.itertuples(), events, strict=True):
        msg = takproto.parse_proto(ev)
        assert msg is not None
        ce = msg.cotEvent
        assert ce.uid == f"kizuna-{row.track_id}"
        assert ce.type == cot_type(row.category, "h")
        assert ce.how == "m-f"
        # 9 decimals of a degree = 0.1 mm; hae/ce/le written to the millimetre.
        assert ce.lat == pytest.approx(row.lat_deg, abs=1e-9)
        assert ce.lon == pytest.approx(row.lon_deg, abs=1e-9)
        assert ce.hae == pytest.approx(row.alt_m, abs=1e-3)
        ours = parse_cot(ev)
        assert ce.ce == pytest.approx(ours.ce_m, abs=1e-9)
        assert ce.le == pytest.approx(ours.le_m, abs=1e-9)
        assert ce.detail.track.speed == pytest.approx(ours.speed_m_per_s)
        assert ce.sendTime == round(EPOCH.timestamp() * 1000 + row.time_s * 1000)


def test_known_course_speed_and_errors_closed_form():
    lat, lon, alt = 35.25, 139.75, 10_000.0
    v_e, v_n, v_u = 30.0, -40.0, 5.0
    east, north, up = _enu_axes(lat, lon)
    v_ecef = v_e * east + v_n * north + v_u * up
    pic = _picture(
        1,
        lat_deg=[lat], lon_deg=[lon], alt_m=[alt],
        vx_m_per_s=[v_ecef[0]], vy_m_per_s=[v_ecef[1]], vz_m_per_s=[v_ecef[2]],
    )  # fmt: skip
    course_expected = math.degrees(math.atan2(v_e, v_n))  # 143.13010235415598°, clockwise from north
    speed_expected = math.hypot(v_e, v_n)  # 50 m/s horizontal
    course, speed, slope = track_course_speed(v_ecef[None, :], np.array([lat]), np.array([lon]))
    assert course[0] == pytest.approx(course_expected, abs=1e-9)
    assert speed[0] == pytest.approx(speed_expected, abs=1e-9)
    assert slope[0] == pytest.approx(math.degrees(math.atan2(v_u, speed_expected)), abs=1e-9)
    ev = parse_cot(cot_events(pic, EPOCH)[0])
    # Through the XML text: 1e-6 deg of course and 1e-6 m/s of speed are far below any display.
    assert ev.course_deg == pytest.approx(course_expected, abs=1e-6)
    assert ev.speed_m_per_s == pytest.approx(speed_expected, abs=1e-6)
    assert (ev.lat_deg, ev.lon_deg, ev.hae_m) == (lat, lon, alt)


def test_course_wraps_to_0_360():
    lat, lon = -20.0, 10.0
    east, north, _ = _enu_axes(lat, lon)
    v = np.stack([-1.0 * east + 1.0 * north, 1.0 * north, -1.0 * north])
    course, speed, _ = track_course_speed(v, np.full(3, lat), np.full(3, lon))
    np.testing.assert_allclose(course, [315.0, 0.0, 180.0], atol=1e-9)
    np.testing.assert_allclose(speed, [math.sqrt(2), 1.0, 1.0], atol=1e-12)


def test_ce_le_from_ecef_sigmas():
    # At lat 0, lon 0: east = +y, north = +z, up = +x, so the ECEF sigmas map axis for axis.
    pic = _picture(1, lat_deg=[0.0], lon_deg=[0.0], sigma_x_m=[1.0], sigma_y_m=[2.0], sigma_z_m=[3.0])
    ev = parse_cot(cot_events(pic, EPOCH)[0])
    assert ev.ce_m == pytest.approx(math.sqrt((2.0**2 + 3.0**2) / 2.0), abs=1e-3)
    assert ev.le_m == pytest.approx(1.0, abs=1e-3)
    # An isotropic error is rotation invariant: ce = le = σ anywhere.
    pic = _picture(1, lat_deg=[47.0], lon_deg=[-120.0], sigma_x_m=[25.0], sigma_y_m=[25.0], sigma_z_m=[25.0])
    ev = parse_cot(cot_events(pic, EPOCH)[0])
    assert (ev.ce_m, ev.le_m) == (pytest.approx(25.0, abs=1e-3), pytest.approx(25.0, abs=1e-3))
    pic = _picture(1, sigma_x_m=[np.nan])
    ev = parse_cot(cot_events(pic, EPOCH)[0])
    assert ev.ce_m == ev.le_m == COT_UNKNOWN_ERROR_M


def test_time_strings_exact():
    pic = _picture(2, time_s=[0.5, 3600.0 + 0.0014])
    events = cot_events(pic, EPOCH, stale_s=30.0)
    root = StdET.fromstring(events[0])
    assert root.get("time") == root.get("start") == "2026-06-01T23:59:59.500Z"
    assert root.get("stale") == "2026-06-02T00:00:29.500Z"
    root = StdET.fromstring(events[1])
    assert root.get("time") == "2026-06-02T00:59:59.001Z"
    # Rounding to the millisecond happens after the sum, half up: 0.0004 s + 0.0006 s → .001.
    odd_epoch = EPOCH.replace(microsecond=400)
    root = StdET.fromstring(cot_events(_picture(1, time_s=[0.0006]), odd_epoch)[0])
    assert root.get("time") == "2026-06-01T23:59:59.001Z"
    root = StdET.fromstring(cot_events(_picture(1, time_s=[0.0004]), EPOCH.replace(microsecond=999_600))[0])
    assert root.get("time") == "2026-06-02T00:00:00.000Z"
    # An epoch given in another zone is the same instant.
    jst = EPOCH.astimezone(dt.timezone(dt.timedelta(hours=9)))
    assert cot_events(pic, jst) == events


def test_encoder_input_checks_and_skips_bad_rows():
    with pytest.raises(NaiveDatetimeError):
        cot_events(_picture(), dt.datetime(2026, 6, 1))
    with pytest.raises(ValueError, match="lacks columns"):
        cot_events(_picture().drop(columns=["lat_deg"]), EPOCH)
    with pytest.raises(ValueError, match="stale_s"):
        cot_events(_picture(), EPOCH, stale_s=0.0)
    assert cot_events(_picture(0), EPOCH) == []
    events = cot_events(_picture(3, lat_deg=[10.0, np.nan, 20.0]), EPOCH)
    assert [parse_cot(e).uid for e in events] == ["kizuna-100", "kizuna-102"]


def test_release_marking_and_kizuna_detail():
    pic = _picture(1, pedigree=['JPN+"AUS"&<x>'])
    ev = parse_cot(cot_events(pic, EPOCH, release_marking="SECRET//REL TO USA & JPN")[0])
    assert ev.remarks == "SECRET//REL TO USA & JPN"
    assert ev.pedigree == 'JPN+"AUS"&<x>'
    assert (ev.track_number, ev.quality, ev.category, ev.reporter) == (100, 9, "air", "JPN")


# ------------------------------------------------------------------------- schema facts (MITRE 2.0)

_XS_DATETIME = re.compile(r"-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?")
_XS_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_TYPE = re.compile(r"\w+(-\w+)*(;[^;]*)?")
_HOW = re.compile(r"\w(-\w)*")


def _validate_event_schema(xml: bytes) -> None:
    """The facts of MITRE's CoT Event schema 2.0 that we can state without the .xsd file.

    <event>: required attributes version (decimal, ≥ 2.0), uid (string), type (pattern
    ``\\w+(-\\w+)*(;[^;]*)?``), time, start, stale (xs:dateTime), how (``\\w(-\\w)*``); optional
    access, qos, opex. Children: exactly one <point>, at most one <detail> (free-form). <point>:
    required lat (decimal, -90..90), lon (decimal, -180..180), hae, ce, le (decimal; ce/le are
    1-sigma metres, 9999999 = unknown).
    """
    root = StdET.fromstring(xml)
    assert root.tag == "event"
    allowed = {"version", "uid", "type", "time", "start", "stale", "how", "access", "qos", "opex"}
    assert set(root.attrib) <= allowed, set(root.attrib) - allowed
    assert _XS_DECIMAL.fullmatch(root.get("version", "")) and float(root.get("version", "")) >= 2.0
    assert root.get("uid")
    assert _TYPE.fullmatch(root.get("type", ""))
    assert _HOW.fullmatch(root.get("how", ""))
    for name in ("time", "start", "stale"):
        assert _XS_DATETIME.fullmatch(root.get(name, "")), name
    assert [c.tag for c in root].count("point") == 1
    assert [c.tag for c in root].count("detail") <= 1
    assert set(c.tag for c in root) <= {"point", "detail"}
    point = root.find("point")
    assert point is not None
    assert set(point.attrib) == {"lat", "lon", "hae", "ce", "le"}
    for name in point.attrib:
        assert _XS_DECIMAL.fullmatch(point.get(name, "")), name
    assert -90 <= float(point.get("lat", "")) <= 90
    assert -180 <= float(point.get("lon", "")) <= 180
    assert float(point.get("ce", "")) >= 0 and float(point.get("le", "")) >= 0


def test_our_events_satisfy_schema_facts():
    for ev in cot_events(_picture(9, sigma_x_m=[np.nan] + [1.0] * 8), EPOCH):
        _validate_event_schema(ev)


# ------------------------------------------------------------------------------ decoder: peers in


def test_pytak_generated_event_parses():
    xml = pytak.serialize_cot(
        pytak.cot_event(lat=35.5, lon=139.25, hae=120.0, uid="pytak-1", cot_type="a-h-A", stale=60)
    )
    ev = parse_cot(xml)
    assert (ev.uid, ev.type, ev.how) == ("pytak-1", "a-h-A", "m-g")
    assert (ev.lat_deg, ev.lon_deg, ev.hae_m) == (35.5, 139.25, 120.0)
    assert ev.time.tzinfo is not None
    assert (ev.stale - ev.start).total_seconds() == pytest.approx(60.0, abs=0.01)


def test_tak_v1_stream_framing_round_trips():
    xml = cot_events(_picture(1), EPOCH)[0]
    framed = encode_tak_v1(xml)
    # Stream framing: 0xbf, a protobuf varint of the payload length, the TakMessage payload.
    assert framed[0] == 0xBF
    length, shift, i = 0, 0, 1
    while True:
        length |= (framed[i] & 0x7F) << shift
        shift += 7
        i += 1
        if not framed[i - 1] & 0x80:
            break
    assert length == len(framed) - i
    msg = takproto.parse_proto(framed)
    assert msg is not None
    ours = parse_cot(xml)
    ce = msg.cotEvent
    assert (ce.uid, ce.type, ce.how) == (ours.uid, ours.type, ours.how)
    assert (ce.lat, ce.lon, ce.hae, ce.ce, ce.le) == (
        ours.lat_deg,
        ours.lon_deg,
        ours.hae_m,
        ours.ce_m,
        ours.le_m,
    )
    assert ce.staleTime == round(ours.stale.timestamp() * 1000)
    assert ce.detail.track.course == pytest.approx(ours.course_deg)
    assert b"REL TO USA, JPN, AUS" in ce.detail.xmlDetail.encode()


# -------------------------------------------------------------------------- decoder: strictness

_VALID = cot_events(_picture(1), EPOCH)[0]

BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b']><event version="2.0" uid="x" type="a-u-A" how="m-f" time="2026-01-01T00:00:00Z"'
    b' start="2026-01-01T00:00:00Z" stale="2026-01-01T00:01:00Z">'
    b'<point lat="0" lon="0" hae="0" ce="1" le="1"/><detail><remarks>&lol9;</remarks></detail></event>'
)
XXE = (
    b'<?xml version="1.0"?><!DOCTYPE event [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b'<event version="2.0" uid="&xxe;" type="a-u-A" how="m-f" time="2026-01-01T00:00:00Z"'
    b' start="2026-01-01T00:00:00Z" stale="2026-01-01T00:01:00Z">'
    b'<point lat="0" lon="0" hae="0" ce="1" le="1"/></event>'
)


@pytest.mark.parametrize("payload", [BILLION_LAUGHS, XXE], ids=["billion-laughs", "external-entity"])
def test_entity_attacks_refused_quickly(payload):
    # Refused as a forbidden DTD/entity: rejected before any expansion could start.
    with pytest.raises(CotError) as info:
        parse_cot(payload)
    assert info.value.reason.startswith("forbidden-")


def _mutate(attr: str, value: str) -> bytes:
    replacement = quoteattr(value).encode()
    pattern = rb'(\s%s=)"[^"]*"' % attr.encode()
    body = _VALID[len(XML_DECLARATION) :]  # not the declaration's own version="1.0"
    return XML_DECLARATION + re.sub(pattern, lambda m: m.group(1) + replacement, body, count=1)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"x" * 70_000, "too-large"),
        (b"<?xml version='1.0'?><event", "malformed-xml"),
        (_VALID.replace(b"<event ", b"<evnt ").replace(b"</event>", b"</evnt>"), "not-event"),
        (_VALID.replace(b' how="m-f"', b""), "missing-attribute"),
        (_mutate("version", "1.0"), "bad-version"),
        (_mutate("type", "a u A"), "bad-type"),
        (_mutate("time", "2026-06-01T00:00:00"), "bad-time"),
        (_mutate("start", "2026-02-30T00:00:00Z"), "bad-time"),
        (_mutate("stale", "2000-01-01T00:00:00Z"), "stale-before-start"),
        (_mutate("lat", "90.5"), "bad-latitude"),
        (_mutate("lon", "-181"), "bad-longitude"),
        (_mutate("hae", "nan"), "bad-number"),
        (_mutate("ce", "inf"), "bad-number"),
        (_mutate("ce", "1_000"), "bad-number"),
        (_mutate("le", "-1"), "bad-error"),
        (
            _VALID.replace(b"<detail>", b'<point lat="0" lon="0" hae="0" ce="1" le="1"/><detail>'),
            "bad-point-count",
        ),
        (_VALID.replace(b'<point lat="', b'<pt lat="'), "bad-point-count"),
        (_mutate("speed", "-3"), "bad-speed"),
        (_mutate("track_number", "7.5"), "bad-number"),
    ],
)
def test_strict_decoder_reasons(data, reason):
    with pytest.raises(CotError) as info:
        parse_cot(data)
    assert info.value.reason == reason
    assert isinstance(info.value, ValueError)


def test_decoder_accepts_offsets_and_no_declaration():
    ev = parse_cot(_mutate("time", "2026-06-02T08:59:59.5+09:00").split(b"?>", 1)[1])
    assert ev.time == dt.datetime(2026, 6, 1, 23, 59, 59, 500_000, tzinfo=dt.UTC)


_FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_FUZZ
@given(st.binary(max_size=2_000))
def test_fuzz_random_bytes_only_cot_error(data):
    with contextlib.suppress(CotError):
        parse_cot(data)


@_FUZZ
@given(st.lists(st.tuples(st.integers(0, len(_VALID)), st.integers(0, 8), st.binary(max_size=8)), max_size=6))
def test_fuzz_mutated_events_only_cot_error(edits):
    data = bytearray(_VALID)
    for pos, n_del, insert in edits:
        data[pos : pos + n_del] = insert
    try:
        ev = parse_cot(bytes(data))
    except CotError:
        return
    assert -90 <= ev.lat_deg <= 90 and -180 <= ev.lon_deg <= 180 and ev.ce_m >= 0 and ev.le_m >= 0


@_FUZZ
@given(
    st.sampled_from(["version", "uid", "type", "how", "time", "stale", "lat", "lon", "hae", "ce", "le",
                     "course", "speed", "track_number", "quality"]),
    st.text(max_size=40),
)  # fmt: skip
def test_fuzz_attribute_values_only_cot_error(attr, value):
    value = "".join(
        ch for ch in value if ch in "\t\n\r" or 0x20 <= ord(ch) < 0xD800 or 0xE000 <= ord(ch) < 0xFFFE
    )
    with contextlib.suppress(CotError):
        parse_cot(_mutate(attr, value))


# ------------------------------------------------------------------------------------- transport


def test_listener_survives_garbage_then_accepts(caplog):
    rng = np.random.default_rng(2026)
    garbage = [rng.bytes(int(rng.integers(0, 600))) for _ in range(150)]
    garbage += [_VALID[: int(rng.integers(0, len(_VALID) - 1))] for _ in range(30)]
    garbage += [BILLION_LAUGHS, XXE] * 10

    async def main() -> tuple[int, dict[str, int], list]:
        received = []
        async with CotListener(received.append, port=0) as listener:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
                for i, datagram in enumerate(garbage):
                    tx.sendto(datagram, ("127.0.0.1", listener.port))
                    if i % 10 == 9:
                        await asyncio.sleep(0.002)  # let the loop drain: loopback UDP drops on overflow
                await _until(lambda: sum(listener.rejected.values()) >= len(garbage))
                tx.sendto(_VALID, ("127.0.0.1", listener.port))
                await _until(lambda: listener.accepted >= 1)
            return listener.accepted, dict(listener.rejected), received

    with caplog.at_level(logging.DEBUG, logger="kizuna.interop.cot"):
        accepted, rejected, received = asyncio.run(main())
    assert accepted == 1 and received[0].uid == "kizuna-100"
    assert sum(rejected.values()) == 200
    warnings_ = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings_) == len(rejected)  # one WARNING per reason, then DEBUG
    assert all("127.0.0.1" in r.getMessage() for r in warnings_)


def test_listener_counts_callback_errors():
    def bad_callback(_event):
        raise RuntimeError("consumer bug")

    async def main() -> dict[str, int]:
        async with CotListener(bad_callback) as listener:
            send_udp([_VALID, _VALID], "127.0.0.1", listener.port)
            await _until(lambda: listener.rejected["callback-error"] >= 2)
            return dict(listener.rejected)

    assert asyncio.run(main()) == {"callback-error": 2}


def test_pytak_tx_worker_sends_to_our_listener():
    """pytak's own UDP client (COT_URL=udp+wo://) and TXWorker deliver a pytak event to us."""
    xml = pytak.serialize_cot(pytak.cot_event(lat=-33.9, lon=151.2, uid="pytak-tx", cot_type="a-f-A"))

    async def main() -> list:
        received = []
        async with CotListener(received.append) as listener:
            config = _pytak_config(f"udp+wo://127.0.0.1:{listener.port}")
            reader, writer = await pytak.protocol_factory(config)
            assert reader is None
            try:
                queue: asyncio.Queue = asyncio.Queue()
                worker = pytak.TXWorker(queue, config, writer)
                await queue.put(xml)
                await asyncio.wait_for(worker.run_once(), TIMEOUT_S)
                await _until(lambda: listener.accepted >= 1)
            finally:
                writer.close()
        return received

    received = asyncio.run(main())
    assert [(e.uid, e.type, e.lat_deg, e.lon_deg) for e in received] == [("pytak-tx", "a-f-A", -33.9, 151.2)]


def test_our_udp_sender_reaches_pytak_rx_worker():
    """Our send_udp → pytak's UDP reader (COT_URL=udp+ro://) and RXWorker; takproto parses the result."""
    events = cot_events(_picture(3), EPOCH)

    async def main() -> list[bytes]:
        config = _pytak_config(f"udp+ro://127.0.0.1:{_free_udp_port()}")
        reader, writer = await pytak.protocol_factory(config)
        assert writer is None
        try:
            queue: asyncio.Queue = asyncio.Queue()
            worker = pytak.RXWorker(queue, config, reader)
            port = reader.sockname[1]
            await asyncio.to_thread(send_udp, events, "127.0.0.1", port)
            for _ in events:
                await asyncio.wait_for(worker.run_once(), TIMEOUT_S)
            return [queue.get_nowait() for _ in events]
        finally:
            reader.close()

    got = asyncio.run(main())
    assert got == events
    assert [takproto.parse_proto(g).cotEvent.uid for g in got] == ["kizuna-100", "kizuna-101", "kizuna-102"]


def test_tcp_client_streams_events_back_to_back():
    events = cot_events(_picture(4), EPOCH)
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(TIMEOUT_S)
    chunks: list[bytes] = []

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            conn.settimeout(TIMEOUT_S)
            while data := conn.recv(65536):
                chunks.append(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with CotTcpClient("127.0.0.1", server.getsockname()[1]) as client:
            assert client.send(events) == sum(map(len, events))
        thread.join(TIMEOUT_S)
    finally:
        server.close()
    stream = b"".join(chunks)
    assert stream == b"".join(events)
    framed = [part + b"</event>" for part in stream.split(b"</event>")[:-1]]  # how pytak/TAK frame
    assert [parse_cot(f).uid for f in framed] == [f"kizuna-{i}" for i in range(100, 104)]


def test_tcp_client_refused_is_clear():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))  # bound, not listening: connecting is refused
        port = holder.getsockname()[1]
        with pytest.raises(CotConnectionError, match=rf"refused by tcp://127\.0\.0\.1:{port}"):
            CotTcpClient("127.0.0.1", port, timeout_s=2.0)
