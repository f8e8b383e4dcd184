"""The COP server: its API against the recording's Parquet tables and independent geometry, the
WebSocket's deltas, bad recordings, and the command line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pymap3d
import pytest
from pymap3d.vincenty import vdist
from test_simulation import loaded, small_scenario
from typer.testing import CliRunner
from websockets.sync.client import connect

from kizuna.cli import app
from kizuna.cop.server import serve_in_thread
from kizuna.cop.store import ELLIPSE_SIGMA, PictureStore, View, track_records
from kizuna.fusion.picture import NUMBER_BLOCK
from kizuna.recording import RecordingError
from kizuna.simulation import run


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("cop")
    out = tmp / "rec"
    run(loaded(small_scenario(tmp, duration_s=240.0, civil_count=30)), out)
    return out


@pytest.fixture(scope="module")
def server(recording: Path):
    with serve_in_thread(PictureStore.from_recording(recording)) as url:
        yield url


def busiest_time(recording: Path, nation: str = "JPN") -> float:
    picture = pd.read_parquet(recording / f"picture_{nation}.parquet")
    return float(picture.groupby("time_s").size().idxmax())


def test_info_describes_the_scenario(server: str, recording: Path) -> None:
    info = httpx.get(f"{server}/api/info").json()
    scenario = json.loads((recording / "scenario.json").read_text())
    assert [n["code"] for n in info["nations"]] == [n["code"] for n in scenario["scenario"]["nations"]]
    assert info["epoch_utc"] == scenario["derived"]["epoch_utc"]
    picture = pd.read_parquet(recording / "picture_USA.parquet")
    assert info["t1"] == picture["time_s"].max()
    assert info["live"] is False


def test_coalition_tracks_are_the_picture_rows_at_that_step(server: str, recording: Path) -> None:
    t = busiest_time(recording)
    picture = pd.read_parquet(recording / "picture_JPN.parquet")
    expected = picture[picture["time_s"] == t].set_index("track_id")
    # a time between steps gives the last step at or before it
    params = {"nation": "JPN", "view": "coalition", "t": t + 0.7}
    got = httpx.get(f"{server}/api/tracks", params=params).json()
    assert sorted(r["id"] for r in got["tracks"]) == sorted(expected.index)
    for r in got["tracks"]:
        row = expected.loc[r["id"]]
        assert r["lat"] == pytest.approx(row["lat_deg"], abs=1e-5)
        assert r["lon"] == pytest.approx(row["lon_deg"], abs=1e-5)
        assert r["alt"] == pytest.approx(row["alt_m"], abs=0.5)
        expected_fields = (row["category"], row["pedigree"], row["reporter"], row["quality"])
        assert (r["cat"], r["ped"], r["rep"], r["q"]) == expected_fields


def test_own_view_is_the_national_trackers_firm_tracks_numbered_as_the_node_numbers_them(
    server: str, recording: Path
) -> None:
    t = busiest_time(recording)
    tracks = pd.read_parquet(recording / "tracks_JPN.parquet")
    firm = tracks[(tracks["time_s"] == t) & tracks["status"].isin(["confirmed", "coasting"])]
    index = 1  # JPN is the scenario's second nation
    got = httpx.get(f"{server}/api/tracks", params={"nation": "JPN", "view": "own", "t": t}).json()["tracks"]
    assert sorted(r["id"] for r in got) == sorted(firm["track_id"] + (index + 1) * NUMBER_BLOCK)
    # a system track the node started from its own track carries that number
    picture = pd.read_parquet(recording / "picture_JPN.parquet")
    own_numbers = set(picture.loc[picture["time_s"] == t, "track_id"]) & {r["id"] for r in got}
    assert own_numbers, "JPN's picture holds no track started from its own sensors"


def test_velocity_and_ellipse_agree_with_independent_geometry() -> None:
    lat, lon, alt = 35.0, 139.0, 9000.0
    x, y, z = pymap3d.geodetic2ecef(lat, lon, alt)
    ve, vn, vu = 120.0, -160.0, 4.0
    vx, vy, vz = pymap3d.enu2uvw(ve, vn, vu, lat, lon)
    rows = pd.DataFrame({
        "time_s": [0.0, 0.0], "track_id": [1, 2], "status": ["confirmed"] * 2,
        "x_m": [x, 0.0], "y_m": [y, 0.0], "z_m": [z, 6378137.0],
        "vx_m_per_s": [vx, 0.0], "vy_m_per_s": [vy, 0.0], "vz_m_per_s": [vz, 0.0],
        "lat_deg": [lat, 0.0], "lon_deg": [lon, 90.0], "alt_m": [alt, 0.0],
        "sigma_x_m": [300.0, 50.0], "sigma_y_m": [300.0, 100.0], "sigma_z_m": [300.0, 400.0],
        "sigma_vx_m_per_s": [1.0] * 2, "sigma_vy_m_per_s": [1.0] * 2, "sigma_vz_m_per_s": [1.0] * 2,
        "quality": [5, 5], "category": ["air"] * 2, "pedigree": ["JPN"] * 2, "n_sources": [1] * 2,
        "reporter": ["JPN"] * 2,
    })  # fmt: skip
    first, second = track_records(rows)
    assert first["spd"] == pytest.approx(np.hypot(ve, vn), abs=0.05)
    assert first["crs"] == pytest.approx(np.degrees(np.arctan2(ve, vn)) % 360, abs=0.05)
    assert first["vz"] == pytest.approx(vu, abs=0.05)
    # equal σ on every ECEF axis: a circle of radius 2σ whatever the place
    assert first["ea"] == pytest.approx(ELLIPSE_SIGMA * 300.0, abs=0.5)
    assert first["eb"] == pytest.approx(ELLIPSE_SIGMA * 300.0, abs=0.5)
    # at (0°, 90°E) east is −x and north is +z: the major axis points north with 2σ_z
    assert second["ea"] == pytest.approx(ELLIPSE_SIGMA * 400.0, abs=0.5)
    assert second["eb"] == pytest.approx(ELLIPSE_SIGMA * 50.0, abs=0.5)
    assert min(second["eo"], 180.0 - second["eo"]) == pytest.approx(0.0, abs=0.1)


def test_track_detail_gives_held_intervals_from_the_recording(server: str, recording: Path) -> None:
    picture = pd.read_parquet(recording / "picture_USA.parquet")
    number = int(picture["track_id"].value_counts().idxmax())
    detail = httpx.get(f"{server}/api/track/{number}", params={"nation": "USA"}).json()
    times = np.sort(picture.loc[picture["track_id"] == number, "time_s"].unique())
    held_steps = sum(round((b - a) / 2.0) + 1 for a, b in detail["held"])
    assert held_steps == len(times)
    assert detail["first_s"] == times[0] and detail["last_s"] == times[-1]
    for nation in ("USA", "JPN", "AUS"):
        other = pd.read_parquet(recording / f"picture_{nation}.parquet")
        n_other = other.loc[other["track_id"] == number, "time_s"].nunique()
        assert sum(round((b - a) / 2.0) + 1 for a, b in detail["held_by"][nation]) == n_other
    assert detail["release"].startswith("REL TO ")
    assert httpx.get(f"{server}/api/track/1", params={"nation": "USA"}).status_code == 404
    assert httpx.get(f"{server}/api/tracks", params={"nation": "XXX"}).status_code == 400


def test_sensors_are_every_surface_sensor_with_its_coverage(server: str, recording: Path) -> None:
    scenario = json.loads((recording / "scenario.json").read_text())["scenario"]
    surface = {s["id"] for s in scenario["sensors"] if s["kind"] != "space_ir"}
    features = httpx.get(f"{server}/api/sensors").json()["features"]
    assert {f["properties"]["id"] for f in features if f["properties"]["role"] == "site"} == surface
    assert {f["properties"]["id"] for f in features if f["properties"]["role"] == "coverage"} == surface
    radar = next(s for s in scenario["sensors"] if s["kind"] == "radar")
    ring = next(
        f for f in features if f["properties"]["id"] == radar["id"] and f["properties"]["role"] == "coverage"
    )["geometry"]["coordinates"][0]
    site = radar["site"]
    # the sector's far edge lies at the instrumented range (WGS-84 geodesic, independent of ours)
    far = [p for p in ring if (p[0], p[1]) != (site["lon_deg"], site["lat_deg"])]
    dist = [vdist(site["lat_deg"], site["lon_deg"], p[1], p[0])[0] for p in far]
    assert np.max(dist) == pytest.approx(radar["max_range_m"], rel=0.01)


def test_satellites_follow_the_recorded_ephemeris(server: str, recording: Path) -> None:
    payload = httpx.get(f"{server}/api/satellites").json()
    sats = pd.read_parquet(recording / "satellites.parquet")
    assert len(payload["satellites"]) == sats["satellite_id"].nunique()
    first = payload["satellites"][0]
    rows = sats[sats["satellite_id"] == first["id"]].set_index("time_s")
    for t, lat in zip(payload["times"], first["lat"], strict=True):
        assert lat == pytest.approx(rows.loc[t, "lat_deg"], abs=1e-4)


def test_websocket_deltas_rebuild_the_picture_of_every_step(server: str, recording: Path) -> None:
    picture = pd.read_parquet(recording / "picture_AUS.parquet")
    steps = np.sort(picture["time_s"].unique())
    start = float(steps[len(steps) // 3])
    held: dict[int, dict] = {}
    deltas = 0
    upserts = 0
    with connect(server.replace("http", "ws") + "/ws") as ws:
        ws.send(json.dumps({"op": "subscribe", "nation": "AUS", "view": "coalition", "t": start,
                            "playing": True, "speed": 40.0, "live": False}))  # fmt: skip
        while deltas < 6:
            m = json.loads(ws.recv(timeout=10))
            if m["type"] == "snapshot":
                held = {r["id"]: r for r in m["tracks"]}
                assert set(map(int, m["trails"])) <= set(held)
            elif m["type"] == "delta":
                deltas += 1
                for k in m["remove"]:
                    del held[k]
                for r in m["upsert"]:
                    held[r["id"]] = r
                upserts += len(m["upsert"])
                step = steps[np.searchsorted(steps, m["t"] + 1e-9) - 1]
                expected = picture.loc[picture["time_s"] == step, "track_id"]
                assert sorted(held) == sorted(expected)
                params = {"nation": "AUS", "t": m["t"]}
                full = httpx.get(f"{server}/api/tracks", params=params).json()["tracks"]
                assert {r["id"]: r for r in full} == held
    assert upserts > 0


def test_a_bad_recording_gets_a_clear_message(recording: Path, tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="no such recording"):
        PictureStore.from_recording(tmp_path / "nowhere")
    broken = tmp_path / "broken"
    shutil.copytree(recording, broken)
    (broken / "picture_JPN.parquet").unlink()
    with pytest.raises(RecordingError, match=r"files missing.*picture_JPN"):
        PictureStore.from_recording(broken)
    old = tmp_path / "old"
    shutil.copytree(recording, old)
    manifest = json.loads((old / "manifest.json").read_text())
    for name in ("picture_USA", "picture_JPN", "picture_AUS"):
        del manifest["tables"][name]
    (old / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(RecordingError, match="no coalition picture"):
        PictureStore.from_recording(old)
    result = CliRunner().invoke(app, ["serve", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "no such recording folder" in result.output


def test_a_live_store_grows_as_rows_arrive(recording: Path) -> None:
    """What `kizuna run --serve` does: the run's writes go straight into the COP's store."""
    scenario = json.loads((recording / "scenario.json").read_text())
    store = PictureStore.for_scenario(scenario)
    picture = pd.read_parquet(recording / "picture_JPN.parquet")
    steps = np.sort(picture["time_s"].unique())
    for t in steps[:5]:
        store.append("picture_JPN", picture[picture["time_s"] == t].to_dict("list"))
        assert store.time_range()[1] == t
        assert len(store.at(View("JPN", "coalition"), t)) == (picture["time_s"] == t).sum()
    store.append("detections", {"time_s": [1.0]})  # other tables are ignored
    assert store.live


def test_run_serve_shows_the_picture_as_it_forms_then_replays_it(tmp_path: Path) -> None:
    """`kizuna run --serve`: the COP's time span grows with the run; when the run is done the COP
    replays the whole recording, and Ctrl-C stops it."""
    import os
    import re
    import signal
    import subprocess
    import sys
    import time

    scenario = small_scenario(tmp_path, duration_s=200.0, civil_count=10)
    cmd = [sys.executable, "-m", "kizuna", "run", str(scenario), "--out", str(tmp_path / "rec"), "-q",
           "--serve", "--port", "0"]  # fmt: skip
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        assert proc.stdout is not None
        url = None
        for line in proc.stdout:
            found = re.search(r"http://127\.0\.0\.1:\d+", line)
            if found:
                url = found.group(0)
                break
        assert url is not None
        spans = []
        while True:
            info = httpx.get(f"{url}/api/info", timeout=10).json()
            spans.append((info["live"], info["t1"]))
            if not info["live"]:
                break
            time.sleep(0.2)
        assert any(live for live, _ in spans)
        live_ends = [t1 for live, t1 in spans if live]
        assert live_ends == sorted(live_ends)
        picture = pd.read_parquet(tmp_path / "rec" / "picture_USA.parquet")
        assert spans[-1][1] == picture["time_s"].max()
        t = float(picture["time_s"].iloc[len(picture) // 2])
        got = httpx.get(f"{url}/api/tracks", params={"nation": "USA", "t": t}).json()["tracks"]
        assert sorted(r["id"] for r in got) == sorted(picture.loc[picture["time_s"] == t, "track_id"])
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()
    assert proc.returncode == 0
