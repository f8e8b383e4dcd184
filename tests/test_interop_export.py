"""CZML and GeoJSON exports of a recording (`kizuna.interop.export`), checked against the tables.

The recording is built here with `RecordingWriter` so every fact the tests rely on is known: a
hostile target that crosses the antimeridian, a satellite with one NaN sample, a system track
number with a gap and a change of category. Expected values come from the tables read back with
PyArrow, not from the exporter. Format facts: CZML from the CZML Guide (packets, ``document``
first, sampled positions [t, lon, lat, h, ...] after an ISO 8601 ``epoch``); GeoJSON from RFC
7946 (§ 3.1: positions [lon, lat(, alt)] in WGS-84 degrees; § 3.1.4/3.1.5 LineString of two or
more positions; § 3.1.9 split at the antimeridian; § 3.3 FeatureCollection with "features").
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pymap3d
import pytest

from kizuna.interop.export import export_recording, split_antimeridian
from kizuna.recording import PICTURE_SCHEMA, TRACK_SCHEMA, RecordingError, RecordingWriter

EPOCH = dt.datetime(2027, 3, 1, 2, 0, 0, tzinfo=dt.UTC)
EPOCH_ISO = "2027-03-01T02:00:00Z"
STEP_S = 2.0
DURATION_S = 40.0
GAP_TRACK = 1_000_000_001
"""Held t = 0…10 s and 20…30 s (a gap of 10 s = 5 steps); category air until 6 s, then missile."""

RED = [230, 40, 40, 255]
BLUE = [40, 110, 240, 255]
GREY = [160, 160, 160, 255]


def iso(t_s: float) -> str:
    return (EPOCH + dt.timedelta(seconds=t_s)).strftime("%Y-%m-%dT%H:%M:%SZ")


def geo_columns(lat_deg: Any, lon_deg: Any, alt_m: Any) -> dict[str, Any]:
    lat, lon, alt = (np.asarray(v, dtype=np.float64) for v in (lat_deg, lon_deg, alt_m))
    x, y, z = pymap3d.geodetic2ecef(lat, lon, alt)
    zeros = np.zeros_like(lat)
    return {"x_m": x, "y_m": y, "z_m": z, "vx_m_per_s": zeros, "vy_m_per_s": zeros, "vz_m_per_s": zeros,
            "lat_deg": lat, "lon_deg": lon, "alt_m": alt}  # fmt: skip


def write_truth(rec: RecordingWriter, target_id: str, kind: str, affiliation: str, t_s: Any,
                lat: Any, lon: Any, alt: Any) -> None:  # fmt: skip
    n = len(t_s)
    rec.write("truth", {"time_s": t_s, "target_id": [target_id] * n, "kind": [kind] * n,
                        "affiliation": [affiliation] * n, **geo_columns(lat, lon, alt),
                        "phase": ["cruise"] * n, "ir_intensity_w_per_sr": np.ones(n),
                        "rcs_m2": np.ones(n)})  # fmt: skip


def write_picture(rec: RecordingWriter, track_id: int, t_s: Any, categories: list[str]) -> None:
    n = len(t_s)
    t = np.asarray(t_s, dtype=np.float64)
    sig = np.full(n, 100.0)
    rec.write("picture_USA", {"time_s": t, "track_id": [track_id] * n, "status": ["confirmed"] * n,
                              **geo_columns(20.0 + 0.01 * t, 140.0 + 0.01 * t, np.full(n, 9000.0)),
                              "sigma_x_m": sig, "sigma_y_m": sig, "sigma_z_m": sig, "sigma_vx_m_per_s": sig,
                              "sigma_vy_m_per_s": sig, "sigma_vz_m_per_s": sig, "quality": [10] * n,
                              "category": categories, "pedigree": ["USA+JPN"] * n, "n_sources": [2] * n,
                              "reporter": ["USA"] * n})  # fmt: skip


def make_recording(folder: Path) -> Path:
    t = np.arange(0.0, DURATION_S + STEP_S / 2, STEP_S)  # 0, 2, …, 40
    with RecordingWriter(folder) as rec:
        rec.declare("picture_USA", PICTURE_SCHEMA)
        rec.declare("tracks_USA", TRACK_SCHEMA)
        # Eastward over +180: 178.0, 178.2, …, 182.0 written as -178.0 once past the antimeridian.
        lon = 178.0 + 0.2 * np.arange(len(t))
        write_truth(rec, "red-1", "ballistic_missile", "hostile", t, 30.0 + 0.1 * np.arange(len(t)),
                    np.where(lon > 180.0, lon - 360.0, lon), 1000.0 * np.arange(len(t)))  # fmt: skip
        t_civ = t[5:16]
        write_truth(rec, "civil-0001", "civil_aircraft", "neutral", t_civ, np.full(len(t_civ), 10.0),
                    np.linspace(120.0, 121.0, len(t_civ)), np.full(len(t_civ), 11000.0))  # fmt: skip
        write_truth(rec, "blue-1", "aircraft", "friend", t, np.full(len(t), -12.0),
                    np.linspace(130.0, 131.0, len(t)), np.full(len(t), 6000.0))  # fmt: skip
        # Two satellites; sat-A has no position at t = 4 s (SGP4 failure).
        for sat in ("sat-A", "sat-B"):
            lat = np.linspace(0.0, 10.0, len(t))
            cols = geo_columns(lat, np.linspace(100.0, 110.0, len(t)), np.full(len(t), 1.0e6))
            if sat == "sat-A":
                for c in cols:
                    cols[c][2] = np.nan
            rec.write("satellites", {"time_s": t, "satellite_id": [sat] * len(t),
                                     "constellation_id": ["walker"] * len(t), **cols})  # fmt: skip
        t_gap = np.r_[np.arange(0.0, 10.1, STEP_S), np.arange(20.0, 30.1, STEP_S)]
        write_picture(rec, GAP_TRACK, t_gap, ["air" if x < 6.0 else "missile" for x in t_gap])
        write_picture(rec, 2_000_000_001, [4.0, 6.0, 8.0], ["missile"] * 3)
        t_own = np.arange(0.0, 6.1, STEP_S)
        n = len(t_own)
        sig = np.full(n, 50.0)
        rec.write("tracks_USA", {"time_s": t_own, "track_id": [7] * n, "status": ["confirmed"] * n,
                                 **geo_columns(np.full(n, 25.0), np.full(n, 135.0), np.full(n, 100.0)),
                                 "sigma_x_m": sig, "sigma_y_m": sig, "sigma_z_m": sig,
                                 "sigma_vx_m_per_s": sig, "sigma_vy_m_per_s": sig, "sigma_vz_m_per_s": sig,
                                 "quality": [9] * n,
                                 "n_updates": [3] * n, "last_sensor_id": ["USA-r"] * n})  # fmt: skip
        rec.write_json(
            "scenario.json",
            {
                "scenario": {
                    "name": "export test",
                    "epoch": "2027-03-01T02:00:00Z",
                    "duration_s": DURATION_S,
                    "step_s": STEP_S,
                    "nations": [{"code": "USA"}],
                    "sensors": [
                        {
                            "kind": "radar",
                            "id": "USA-r",
                            "nation": "USA",
                            "site": {"lat_deg": 13.5, "lon_deg": 200.0, "alt_m": 170.0},
                        },
                        {
                            "kind": "ship_radar",
                            "id": "USA-ship",
                            "nation": "USA",
                            "route": [
                                {"lat_deg": 0.0, "lon_deg": 179.0},
                                {"lat_deg": 2.0, "lon_deg": -179.0},
                            ],
                        },
                        {"kind": "space_ir", "id": "USA-ir", "nation": "USA", "constellation": "walker"},
                    ],
                },
                "derived": {"epoch_utc": "2027-03-01T02:00:00+00:00"},
            },
        )
    return folder


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_recording(tmp_path_factory.mktemp("export") / "rec")


@pytest.fixture(scope="module")
def czml(recording: Path, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    out = tmp_path_factory.mktemp("czml") / "out.czml"
    summary = export_recording(recording, out, "czml")
    packets: list[dict[str, Any]] = json.loads(out.read_text(encoding="utf-8"))
    assert summary.n_items == len(packets) and summary.n_bytes == out.stat().st_size
    return packets


@pytest.fixture(scope="module")
def geojson(recording: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("geojson") / "out.geojson"
    summary = export_recording(recording, out, "geojson")
    document: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    assert summary.n_items == len(document["features"])
    return document


def by_id(packets: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {p["id"]: p for p in packets}


def position_blocks(packet: dict[str, Any]) -> list[dict[str, Any]]:
    position = packet.get("position")
    if position is None:
        return []
    return position if isinstance(position, list) else [position]


def truth_rows(recording: Path, target_id: str) -> dict[str, np.ndarray]:
    table = pq.read_table(recording / "truth.parquet").to_pandas()
    rows = table[table.target_id == target_id].sort_values("time_s")
    return {c: rows[c].to_numpy() for c in ("time_s", "lat_deg", "lon_deg", "alt_m")}


# --- CZML ----------------------------------------------------------------------------------------


def test_czml_document_packet_first_with_clock_over_the_run(czml: list[dict[str, Any]]) -> None:
    doc = czml[0]
    assert doc["id"] == "document" and doc["version"] == "1.0"
    assert doc["clock"]["interval"] == f"{EPOCH_ISO}/2027-03-01T02:00:40Z"
    assert doc["clock"]["currentTime"] == EPOCH_ISO
    assert doc["clock"]["multiplier"] >= 1
    assert all(p["id"] != "document" for p in czml[1:])


def test_czml_every_packet_has_a_unique_id_and_well_formed_samples(czml: list[dict[str, Any]]) -> None:
    ids = [p["id"] for p in czml]
    assert all(isinstance(i, str) and i for i in ids) and len(set(ids)) == len(ids)
    for packet in czml:
        assert position_blocks(packet) or packet["id"] == "document", packet["id"]
        for block in position_blocks(packet):
            key = "cartographicDegrees" if "cartographicDegrees" in block else "cartesian"
            samples = block[key]
            assert len(samples) % 4 == 0 and len(samples) >= 4, packet["id"]
            t = np.asarray(samples[0::4])
            assert np.all(np.diff(t) > 0.0), packet["id"]
            assert all(math.isfinite(v) for v in samples)
            # The epoch is the scenario's, so sample times are the recording's time_s unchanged.
            assert block["epoch"] == EPOCH_ISO


def test_czml_truth_first_sample_is_the_truth_table_row(recording: Path, czml: list[dict[str, Any]]) -> None:
    packets = by_id(czml)
    for target_id in ("red-1", "civil-0001", "blue-1"):
        rows = truth_rows(recording, target_id)
        samples = packets[f"truth/{target_id}"]["position"]["cartographicDegrees"]
        t, lon, lat, h = samples[:4]
        # Longitude first: 1e-6° is 0.1 m on the ground; heights to 0.1 m.
        assert t == rows["time_s"][0]
        assert lon == pytest.approx(rows["lon_deg"][0], abs=1e-6)
        assert lat == pytest.approx(rows["lat_deg"][0], abs=1e-6)
        assert h == pytest.approx(rows["alt_m"][0], abs=0.1)
        assert len(samples) // 4 == len(rows["time_s"])  # a 40 s run keeps every sample by default
        availability = packets[f"truth/{target_id}"]["availability"]
        assert availability == f"{iso(rows['time_s'][0])}/{iso(rows['time_s'][-1])}"


def test_czml_colours_follow_affiliation(czml: list[dict[str, Any]]) -> None:
    packets = by_id(czml)
    assert packets["truth/red-1"]["point"]["color"]["rgba"] == RED
    assert packets["truth/blue-1"]["point"]["color"]["rgba"] == BLUE
    assert packets["truth/civil-0001"]["point"]["color"]["rgba"] == GREY
    assert packets["truth/red-1"]["label"]["text"] == "red-1"
    assert "path" in packets["truth/red-1"]


def test_czml_track_availability_is_one_interval_per_continuous_run(
    recording: Path, czml: list[dict[str, Any]]
) -> None:
    table = pq.read_table(recording / "picture_USA.parquet").to_pandas()
    t = np.sort(table[table.track_id == GAP_TRACK].time_s.to_numpy())
    cut = int(np.flatnonzero(np.diff(t) > 1.5 * STEP_S)[0]) + 1  # the one gap, found from the table
    expected = [f"{iso(t[0])}/{iso(t[cut - 1])}", f"{iso(t[cut])}/{iso(t[-1])}"]
    assert expected == [
        "2027-03-01T02:00:00Z/2027-03-01T02:00:10Z",
        "2027-03-01T02:00:20Z/2027-03-01T02:00:30Z",
    ]

    packet = by_id(czml)[f"picture_USA/{GAP_TRACK}"]
    assert packet["availability"] == expected
    blocks = position_blocks(packet)
    assert [b["interval"] for b in blocks] == expected
    assert [b["cartographicDegrees"][0::4] for b in blocks] == [t[:cut].tolist(), t[cut:].tolist()]
    assert packet["label"]["text"] == str(GAP_TRACK)
    # Category changes from air to missile at 6 s: colour and size are given per interval.
    colours = packet["point"]["color"]
    assert [c["interval"].split("/")[0] for c in colours] == [iso(0.0), iso(6.0)]
    sizes = [s["number"] for s in packet["point"]["pixelSize"]]
    assert sizes[1] > sizes[0]  # a missile is drawn bigger than an aircraft

    single = by_id(czml)["picture_USA/2000000001"]
    assert single["availability"] == [f"{iso(4.0)}/{iso(8.0)}"]
    assert isinstance(single["point"]["pixelSize"], int)


def test_czml_satellites_are_fixed_frame_and_skip_unpropagated_samples(
    recording: Path, czml: list[dict[str, Any]]
) -> None:
    sats = pq.read_table(recording / "satellites.parquet").to_pandas()
    a = sats[sats.satellite_id == "sat-A"].sort_values("time_s")
    packet = by_id(czml)["satellite/sat-A"]
    assert packet["position"]["referenceFrame"] == "FIXED"
    samples = packet["position"]["cartesian"]
    finite = a[np.isfinite(a.x_m)]
    assert len(samples) // 4 == len(finite) == len(a) - 1
    assert samples[1:4] == pytest.approx(
        [finite.x_m.iloc[0], finite.y_m.iloc[0], finite.z_m.iloc[0]], abs=0.1
    )
    assert 4.0 not in samples[0::4]


def test_czml_down_sampling_keeps_first_and_last_samples(recording: Path, tmp_path: Path) -> None:
    out = tmp_path / "coarse.czml"
    export_recording(recording, out, "czml", step_s=10.0)
    packets = by_id(json.loads(out.read_text(encoding="utf-8")))
    assert packets["truth/red-1"]["position"]["cartographicDegrees"][0::4] == [0.0, 10.0, 20.0, 30.0, 40.0]
    # civil-0001 lives 10…30 s: one sample per 10 s bin, and its last one.
    assert packets["truth/civil-0001"]["position"]["cartographicDegrees"][0::4] == [10.0, 20.0, 30.0]
    blocks = position_blocks(packets[f"picture_USA/{GAP_TRACK}"])
    assert [b["cartographicDegrees"][0::4] for b in blocks] == [[0.0, 10.0], [20.0, 30.0]]


def test_czml_without_truth_and_satellites_and_with_own_tracks(recording: Path, tmp_path: Path) -> None:
    out = tmp_path / "own.czml"
    summary = export_recording(
        recording, out, "czml", picture="tracks_USA", include_truth=False, include_satellites=False
    )
    packets = json.loads(out.read_text(encoding="utf-8"))
    assert [p["id"] for p in packets] == ["document", "tracks_USA/7"]
    assert summary.picture == "tracks_USA" and summary.n_tracks == 1 and summary.n_truth == 0


# --- GeoJSON -------------------------------------------------------------------------------------


def check_position(position: list[float]) -> None:
    assert len(position) in (2, 3)
    lon, lat = position[0], position[1]
    assert -180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0


def parts_of(geometry: dict[str, Any]) -> list[list[list[float]]]:
    kind = geometry["type"]
    if kind == "Point":
        return [[geometry["coordinates"]]]
    if kind == "LineString":
        return [geometry["coordinates"]]
    assert kind == "MultiLineString"
    return list(geometry["coordinates"])


def test_geojson_is_an_rfc7946_feature_collection(geojson: dict[str, Any]) -> None:
    assert geojson["type"] == "FeatureCollection"
    assert "crs" not in geojson  # RFC 7946 § 4: no crs member; WGS-84 is implied
    assert isinstance(geojson["features"], list) and geojson["features"]
    for feature in geojson["features"]:
        assert feature["type"] == "Feature"
        assert isinstance(feature["properties"], dict)
        geometry = feature["geometry"]
        assert geometry["type"] in ("Point", "LineString", "MultiLineString")
        for part in parts_of(geometry):
            if geometry["type"] != "Point":
                assert len(part) >= 2  # § 3.1.4: two or more positions
            for position in part:
                check_position(position)
        for key in ("first_time", "last_time"):
            if key in feature["properties"]:
                when = dt.datetime.fromisoformat(feature["properties"][key].replace("Z", "+00:00"))
                assert when.utcoffset() == dt.timedelta(0)
    ids = {f["properties"]["id"] for f in geojson["features"]}
    assert {"red-1", "civil-0001", "blue-1", "sat-A", "sat-B", "USA-r", "USA-ship"} <= ids
    assert {f"picture_USA/{GAP_TRACK}", "picture_USA/2000000001"} <= ids
    assert "USA-ir" not in ids  # a space sensor has no ground position


def test_geojson_positions_are_longitude_first(recording: Path, geojson: dict[str, Any]) -> None:
    features = {f["properties"]["id"]: f for f in geojson["features"]}
    rows = truth_rows(recording, "blue-1")
    first = features["blue-1"]["geometry"]["coordinates"][0]
    assert first == pytest.approx([rows["lon_deg"][0], rows["lat_deg"][0], rows["alt_m"][0]], abs=1e-6)
    props = features["blue-1"]["properties"]
    assert props["affiliation"] == "friend" and props["kind"] == "aircraft"
    assert props["first_time"] == EPOCH_ISO and props["last_time"] == iso(40.0)


def test_geojson_line_over_the_antimeridian_is_split(recording: Path, geojson: dict[str, Any]) -> None:
    feature = next(f for f in geojson["features"] if f["properties"]["id"] == "red-1")
    assert feature["geometry"]["type"] == "MultiLineString"
    west_part, east_part = feature["geometry"]["coordinates"]
    # 178.0 + 0.2 k reaches 180 at k = 10 exactly (t = 20 s): lat 31.0, alt 10 km there.
    assert west_part[-1] == pytest.approx([180.0, 31.0, 10_000.0])
    assert east_part[0] == pytest.approx([-180.0, 31.0, 10_000.0])
    rows = truth_rows(recording, "red-1")
    n_real = len(west_part) + len(east_part) - 2  # less the two crossing points
    assert n_real == len(rows["time_s"])
    assert all(-180.0 <= p[0] <= 180.0 for p in west_part + east_part)
    assert all(p[0] > 0 for p in west_part) and all(p[0] < 0 for p in east_part)


def test_split_antimeridian_both_directions() -> None:
    # Westward, 179.5 → -179.5 is eastward; -179.5 → 179.5 is westward over -180.
    lon = np.array([-179.0, -179.5, 179.5, 179.0])
    parts = split_antimeridian(lon, np.array([0.0, 1.0, 2.0, 3.0]), np.zeros(4))
    assert [p[0] for p in parts[0]] == [-179.0, -179.5, -180.0]
    assert [p[0] for p in parts[1]] == [180.0, 179.5, 179.0]
    assert parts[0][-1][1] == pytest.approx(1.5)  # halfway between the samples
    # Longitudes up to 360 are wrapped before splitting; a line that stays on one side is whole.
    assert split_antimeridian(np.array([200.0, 201.0]), np.zeros(2), np.zeros(2)) == [
        [[-160.0, 0.0, 0.0], [-159.0, 0.0, 0.0]]
    ]


def test_geojson_track_with_a_gap_and_sensors(geojson: dict[str, Any]) -> None:
    features = {f["properties"]["id"]: f for f in geojson["features"]}
    track = features[f"picture_USA/{GAP_TRACK}"]
    assert track["geometry"]["type"] == "MultiLineString" and len(track["geometry"]["coordinates"]) == 2
    props = track["properties"]
    assert props["nation"] == "USA" and props["picture"] == "coalition" and props["track_number"] == GAP_TRACK
    assert props["category"] == "missile" and props["categories"] == ["air", "missile"]
    assert props["first_time"] == iso(0.0) and props["last_time"] == iso(30.0)
    radar = features["USA-r"]
    assert radar["geometry"] == {"type": "Point", "coordinates": [-160.0, 13.5, 170.0]}  # 200° E = 160° W
    ship = features["USA-ship"]
    assert ship["geometry"]["type"] == "MultiLineString"


def test_geojson_round_trips_through_json(geojson: dict[str, Any]) -> None:
    assert json.loads(json.dumps(geojson)) == geojson


# --- Bad input and writing -----------------------------------------------------------------------


def test_missing_folder_is_a_recording_error(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="no such recording folder"):
        export_recording(tmp_path / "nowhere", tmp_path / "x.czml", "czml")


def test_unknown_format_and_bad_step_are_value_errors(recording: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown export format 'kml'.*czml, geojson"):
        export_recording(recording, tmp_path / "x.kml", "kml")
    with pytest.raises(ValueError, match="step_s must be a positive"):
        export_recording(recording, tmp_path / "x.czml", "czml", step_s=0.0)
    assert not list(tmp_path.iterdir())


def test_missing_picture_table_names_it_and_the_available_ones(recording: Path, tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match=r"'picture_JPN'.*available: picture_USA, tracks_USA"):
        export_recording(recording, tmp_path / "x.czml", "czml", picture="JPN")


def test_missing_files_and_other_versions_are_named(recording: Path, tmp_path: Path) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(recording, broken)
    (broken / "truth.parquet").unlink()
    with pytest.raises(RecordingError, match=r"truth\.parquet"):
        export_recording(broken, tmp_path / "x.geojson", "geojson")

    old = tmp_path / "old"
    shutil.copytree(recording, old)
    manifest = json.loads((old / "manifest.json").read_text(encoding="utf-8"))
    manifest["format_version"] = 0
    (old / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(RecordingError, match="format version 0"):
        export_recording(old, tmp_path / "x.czml", "czml")

    no_scenario = tmp_path / "no_scenario"
    shutil.copytree(recording, no_scenario)
    (no_scenario / "scenario.json").unlink()
    with pytest.raises(RecordingError, match=r"scenario\.json is missing"):
        export_recording(no_scenario, tmp_path / "x.czml", "czml")


def test_output_is_replaced_atomically(recording: Path, tmp_path: Path) -> None:
    out = tmp_path / "sub" / "picture.czml"
    first = export_recording(recording, out, "czml", include_satellites=False)
    second = export_recording(recording, out, "czml")
    assert out.stat().st_size == second.n_bytes > first.n_bytes
    assert [p.name for p in out.parent.iterdir()] == ["picture.czml"]  # no temporary file left


@pytest.mark.slow
def test_export_of_a_real_run(tmp_path: Path) -> None:
    """A tiny `kizuna run` of the demo exports in both formats with every object in it."""
    from test_simulation import loaded, small_scenario

    from kizuna.simulation import run

    folder = tmp_path / "rec"
    run(loaded(small_scenario(tmp_path, duration_s=10.0, civil_count=2)), folder)
    truth = pq.read_table(folder / "truth.parquet", columns=["target_id"]).column("target_id")
    n_targets = len(set(truth.to_pylist()))
    summary = export_recording(folder, tmp_path / "demo.czml", "czml")
    assert summary.picture == "picture_USA" and summary.n_truth == n_targets
    packets = json.loads((tmp_path / "demo.czml").read_text(encoding="utf-8"))
    assert packets[0]["clock"]["currentTime"] == "2027-03-01T02:00:00Z"  # examples/indo-pacific.toml
    assert sum(p["id"].startswith("truth/") for p in packets) == n_targets
    summary = export_recording(folder, tmp_path / "demo.geojson", "geojson")
    assert summary.n_sensors >= 1 and summary.n_items >= n_targets + summary.n_sensors


def test_cot_export_is_one_event_per_picture_row_read_by_takproto(recording: Path, tmp_path: Path) -> None:
    import takproto

    from kizuna.interop.cot import parse_cot

    out = tmp_path / "picture.cot"
    summary = export_recording(recording, out, "cot")
    lines = out.read_bytes().splitlines()
    picture = pq.read_table(recording / f"{summary.picture}.parquet").to_pandas()
    assert summary.n_items == len(lines) == len(picture)
    events = [parse_cot(line) for line in lines]
    assert {e.uid for e in events} == {f"kizuna-{n}" for n in picture["track_id"].unique()}
    np.testing.assert_allclose([e.lat_deg for e in events], picture["lat_deg"], atol=1e-7)
    assert all(takproto.parse_proto(line) is not None for line in lines)
