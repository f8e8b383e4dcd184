"""Feeds into a live node: CoT, DIS and ASTERIX received over UDP become detections its tracker
tracks; garbage is counted and the node keeps running."""

from __future__ import annotations

import datetime as dt
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tomli_w
from test_live_nodes import free_port
from test_node import air

from kizuna import frames
from kizuna.constants import DEG
from kizuna.interop.asterix import TrackNumbers, cat062_blocks
from kizuna.interop.cot import cot_events
from kizuna.interop.dis import entity_state_pdus
from kizuna.interop.feeds import Feeds, feed_sensor_id
from kizuna.interop.outputs import parse_output
from kizuna.network.signing import generate_keys

EPOCH = dt.datetime(2026, 6, 1, 0, 0, tzinfo=dt.UTC)


def picture_row(track_id: int, state: np.ndarray, t: float, sigma: float = 80.0) -> dict[str, object]:
    lat, lon, alt = (float(np.ravel(v)[0]) for v in frames.ecef_to_geodetic(state[None, :3]))
    return {
        "time_s": t, "track_id": track_id, "status": "confirmed",
        "x_m": state[0], "y_m": state[1], "z_m": state[2],
        "vx_m_per_s": state[3], "vy_m_per_s": state[4], "vz_m_per_s": state[5],
        "lat_deg": lat / DEG, "lon_deg": lon / DEG, "alt_m": alt,
        "sigma_x_m": sigma, "sigma_y_m": sigma, "sigma_z_m": sigma,
        "sigma_vx_m_per_s": 5.0, "sigma_vy_m_per_s": 5.0, "sigma_vz_m_per_s": 5.0,
        "quality": 12, "category": "air", "pedigree": "USA", "n_sources": 1, "reporter": "USA",
    }  # fmt: skip


def send(port: int, packets: list[bytes]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for p in packets:
            s.sendto(p, ("127.0.0.1", port))


def test_each_feed_becomes_position_detections_where_the_record_says() -> None:
    ports = {f: free_port() for f in ("cot", "dis", "asterix")}
    specs = [parse_output(f, f"udp://127.0.0.1:{p}") for f, p in ports.items()]
    clock = [100.0]
    target = air(0)
    row = pd.DataFrame([picture_row(7, target.state(100.0), 100.0)])
    with Feeds("JPN", specs, EPOCH, lambda: clock[0]) as feeds:
        send(ports["cot"], [b"garbage", *cot_events(row, EPOCH)])
        send(ports["dis"], [b"\x07\x01garbage", *entity_state_pdus(row, EPOCH)])
        send(
            ports["asterix"],
            [b"\x3e\x00\x03", *cat062_blocks(row, EPOCH, sac=1, sic=2, track_numbers=TrackNumbers())],
        )
        deadline = time.time() + 5.0
        got = feeds.take(1e9)
        while len(got) < 3 and time.time() < deadline:
            time.sleep(0.05)
            more = feeds.take(1e9)
            got = got if len(more) == 0 else type(got).concatenate([got, more])
        rejected = feeds.rejected
    assert len(got) == 3
    assert sorted(got.sensor_id) == sorted(feed_sensor_id("JPN", f) for f in ports)
    truth = target.state(100.0)[:3]
    for i in range(3):
        # CoT: hae to the millimetre; DIS: float64 ECEF; ASTERIX: 180/2^25 deg and 6.25 ft
        assert np.linalg.norm(got.z[i, :3] - truth) < 5.0, got.sensor_id[i]
        assert got.time_s[i] == pytest.approx(100.0, abs=0.01)
        assert np.all(np.linalg.eigvalsh(got.cov[i, :3, :3]) > 0)
    assert sum(rejected.values()) == 3


def test_a_live_node_tracks_what_its_feeds_report(tmp_path: Path) -> None:
    """`kizuna node` with only feeds: three aircraft reported by CoT, DIS and ASTERIX at 1 Hz of
    scenario time become three firm tracks in its picture; garbage on every port is counted."""
    example = Path(__file__).resolve().parents[1] / "examples" / "indo-pacific.toml"
    data = tomllib.loads(example.read_text(encoding="utf-8"))
    data["duration_s"] = 40.0
    generate_keys(tmp_path / "keys", ["USA", "JPN", "AUS"])
    for n in data["nations"]:
        n["key_file"], n["public_key_file"] = f"keys/{n['code']}.key", f"keys/{n['code']}.pub"
    scenario = tmp_path / "feeds.toml"
    scenario.write_bytes(tomli_w.dumps(data).encode("utf-8"))
    epoch = dt.datetime.fromisoformat(str(data["epoch"]).replace("Z", "+00:00"))
    ports = {f: free_port() for f in ("cot", "dis", "asterix")}
    speed, t0 = 5.0, time.time() + 10.0
    cmd = [sys.executable, "-m", "kizuna", "node", str(scenario), "--nation", "JPN",
           "--listen", f"tcp/127.0.0.1:{free_port()}", "--out", str(tmp_path / "out"), "--speed", str(speed),
           "--clock-start", repr(t0), "--feed-cot", f"udp://127.0.0.1:{ports['cot']}",
           "--feed-dis", f"udp://127.0.0.1:{ports['dis']}",
           "--feed-asterix", f"udp://127.0.0.1:{ports['asterix']}"]  # fmt: skip
    targets = {"cot": air(1), "dis": air(2), "asterix": air(3)}
    numbers = TrackNumbers()
    with open(tmp_path / "node.log", "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            sent_up_to = -1
            while proc.poll() is None and time.time() < t0 + 60.0:
                t = int((time.time() - t0) * speed)
                if 0 <= t <= 38 and t > sent_up_to:
                    sent_up_to = t
                    for k, (fmt, target) in enumerate(targets.items()):
                        row = pd.DataFrame([picture_row(100 + k, target.state(float(t)), float(t))])
                        if fmt == "cot":
                            send(ports[fmt], [b"<not-xml", *cot_events(row, epoch)])
                        elif fmt == "dis":
                            send(ports[fmt], [b"\x00" * 10, *entity_state_pdus(row, epoch)])
                        else:
                            send(
                                ports[fmt],
                                [
                                    b"\x3e\xff",
                                    *cat062_blocks(row, epoch, sac=1, sic=1, track_numbers=numbers),
                                ],
                            )
                time.sleep(0.02)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    text = (tmp_path / "node.log").read_text()
    assert proc.returncode == 0, text[-3000:]
    picture = pd.read_parquet(tmp_path / "out" / "picture_JPN")
    late = picture[picture["time_s"] >= 30.0]
    for fmt, target in targets.items():
        for t, rows in late.groupby("time_s"):
            d = np.linalg.norm(rows[["x_m", "y_m", "z_m"]].to_numpy() - target.state(float(t))[:3], axis=1)
            assert d.min() < 3_000.0, (fmt, t)
    tracks = pd.read_parquet(tmp_path / "out" / "tracks_JPN")
    assert set(tracks["last_sensor_id"]) == {feed_sensor_id("JPN", f) for f in targets}
