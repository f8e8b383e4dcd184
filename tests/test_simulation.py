"""`kizuna run`: the recording's tables, determinism, and the command's behaviour."""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pymap3d
import pytest
from typer.testing import CliRunner

from kizuna.cli import app
from kizuna.recording import (
    FORMAT_VERSION,
    TRACK_SCHEMA,
    TRUTH_SCHEMA,
    RecordingError,
    RecordingWriter,
    read_manifest,
    read_table,
)
from kizuna.scenario import LoadedScenario, parse_scenario
from kizuna.sensors.io import read_detection_labels, read_detections
from kizuna.simulation import run

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "indo-pacific.toml"


def small_scenario(
    tmp_path: Path, *, seed: int | None = None, duration_s: float = 120.0, civil_count: int = 20
) -> Path:
    """The demo scenario, shortened and with fewer airliners, written to a file."""
    import tomli_w

    data: dict[str, Any] = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    data["duration_s"] = duration_s
    data["step_s"] = 2.0
    data["civil_traffic"]["count"] = civil_count
    if seed is not None:
        data["seed"] = seed
    path = tmp_path / f"small-{seed}.toml"
    path.write_bytes(tomli_w.dumps(data).encode("utf-8"))
    return path


def loaded(path: Path) -> LoadedScenario:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return LoadedScenario(parse_scenario(data, source=str(path)), path, path.parent)


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_same_scenario_and_seed_give_identical_files(tmp_path: Path) -> None:
    scenario = small_scenario(tmp_path)
    run(loaded(scenario), tmp_path / "a")
    run(loaded(scenario), tmp_path / "b")
    a, b = digest(tmp_path / "a"), digest(tmp_path / "b")
    assert set(a) == {
        "detections.parquet",
        "manifest.json",
        "satellites.parquet",
        "scenario.json",
        "truth.parquet",
        "tracks_USA.parquet",
        "tracks_JPN.parquet",
        "tracks_AUS.parquet",
        "picture_USA.parquet",
        "picture_JPN.parquet",
        "picture_AUS.parquet",
        "messages.parquet",
        "audit.jsonl",
        "gospa.parquet",
        "custody.parquet",
        "siap.parquet",
    }
    assert a == b


def test_each_nation_tracks_its_own_sensors_and_its_tracks_lie_on_truth(tmp_path: Path) -> None:
    """One tracker per nation: its tracks are made from its own sensors only, sit at the run's
    steps, and every firm track lies on a real object (civil traffic included) to within a few
    sensor sigmas."""
    scenario = small_scenario(tmp_path, duration_s=240.0, civil_count=200)
    summary = run(loaded(scenario), tmp_path / "run")
    truth = read_table(tmp_path / "run", "truth").to_pandas()
    steps = np.unique(truth["time_s"])
    assert set(summary.tracking) == {"USA", "JPN", "AUS"}
    confirmed_somewhere = 0
    for nation in ("USA", "JPN", "AUS"):
        tracks = read_table(tmp_path / "run", f"tracks_{nation}").to_pandas()
        assert pq.read_schema(tmp_path / "run" / f"tracks_{nation}.parquet").names == TRACK_SCHEMA.names
        assert np.isin(tracks["time_s"], steps).all()
        assert tracks["last_sensor_id"].str.startswith(f"{nation}-").all()
        firm = tracks[tracks["status"] != "tentative"]
        confirmed_somewhere += summary.tracking[nation]["confirmed"]
        for t, rows in firm.groupby("time_s"):
            objects = truth.loc[truth["time_s"] == t, ["x_m", "y_m", "z_m"]].to_numpy()
            d = np.linalg.norm(rows[["x_m", "y_m", "z_m"]].to_numpy()[:, None] - objects[None], axis=2).min(
                axis=1
            )
            sigma = np.linalg.norm(rows[["sigma_x_m", "sigma_y_m", "sigma_z_m"]].to_numpy(), axis=1)
            # a firm track within 5 of its own sigmas (or 2 km) of some object: no ghost tracks
            assert (d <= np.maximum(5 * sigma, 2_000.0)).mean() >= 0.95, (nation, t)
    assert confirmed_somewhere > 10
    custody = pq.read_table(tmp_path / "run" / "custody.parquet").to_pandas()
    hostile = truth.loc[truth["affiliation"] == "hostile", "target_id"].unique()
    assert len(custody) == 2 * 3 * len(hostile)  # own and coalition pictures
    gospa = pq.read_table(tmp_path / "run" / "gospa.parquet").to_pandas()
    assert set(gospa["nation"]) == {"USA", "JPN", "AUS"} and len(gospa) == 2 * 3 * len(steps)


def test_another_seed_gives_other_civil_traffic(tmp_path: Path) -> None:
    run(loaded(small_scenario(tmp_path, seed=1)), tmp_path / "a")
    run(loaded(small_scenario(tmp_path, seed=2)), tmp_path / "b")
    a = read_table(tmp_path / "a", "truth").to_pandas()
    b = read_table(tmp_path / "b", "truth").to_pandas()
    civil_a = a[a.kind == "civil_aircraft"].sort_values(["target_id", "time_s"])
    civil_b = b[b.kind == "civil_aircraft"].sort_values(["target_id", "time_s"])
    assert len(civil_a) and len(civil_b)
    assert not np.array_equal(civil_a[["x_m"]].to_numpy()[:50], civil_b[["x_m"]].to_numpy()[:50])
    red_a = a[a.target_id == "red-bomber-1"]
    red_b = b[b.target_id == "red-bomber-1"]
    np.testing.assert_array_equal(red_a.x_m.to_numpy(), red_b.x_m.to_numpy())  # scripted: seed-free


def test_truth_table_columns_and_geometry(tmp_path: Path) -> None:
    summary = run(loaded(small_scenario(tmp_path)), tmp_path / "rec")
    truth = pq.read_table(tmp_path / "rec" / "truth.parquet").to_pandas()
    required = [
        "time_s", "target_id", "kind", "x_m", "y_m", "z_m", "vx_m_per_s", "vy_m_per_s", "vz_m_per_s",
        "lat_deg", "lon_deg", "alt_m", "phase", "ir_intensity_w_per_sr", "rcs_m2",
    ]  # fmt: skip
    assert all(c in truth.columns for c in required)
    assert summary.rows["truth"] == len(truth)
    np.testing.assert_allclose(np.mod(truth.time_s, 2.0), 0.0)  # every row on the step grid
    assert truth.time_s.is_monotonic_increasing  # time-major, as a stream would deliver it
    # The geodetic columns agree with the ECEF ones through an independent library (pymap3d).
    x, y, z = pymap3d.geodetic2ecef(
        truth.lat_deg.to_numpy(), truth.lon_deg.to_numpy(), truth.alt_m.to_numpy()
    )
    np.testing.assert_allclose(x, truth.x_m, atol=1e-3)  # 1 mm
    np.testing.assert_allclose(y, truth.y_m, atol=1e-3)
    np.testing.assert_allclose(z, truth.z_m, atol=1e-3)
    bomber = truth[truth.target_id == "red-bomber-1"]
    speed = np.linalg.norm(bomber[["vx_m_per_s", "vy_m_per_s", "vz_m_per_s"]].to_numpy(), axis=1)
    np.testing.assert_allclose(speed, 220.0, rtol=0.01)  # scenario: 220 m/s on its first leg
    np.testing.assert_allclose(bomber.alt_m, 9000.0, atol=1.0)
    assert (bomber.phase == "cruise").all()
    assert (truth.rcs_m2 > 0).all() and (truth.ir_intensity_w_per_sr > 0).all()
    airliners = truth[truth.kind == "civil_aircraft"]
    assert airliners.rcs_m2.min() > bomber.rcs_m2.max()  # an airliner is a bigger radar target
    recon = truth[truth.target_id == "red-recon-1"]
    assert recon.time_s.min() == pytest.approx(120.0)  # starts at start_s = 120 s


def test_satellite_table(tmp_path: Path) -> None:
    run(loaded(small_scenario(tmp_path)), tmp_path / "rec")
    sats = read_table(tmp_path / "rec", "satellites").to_pandas()
    assert sats.satellite_id.nunique() == 28  # Walker 28/4/1
    assert len(sats) == 28 * 61  # 120 s at 2 s steps: 61 samples
    # Circular orbits at 1,000 km: heights stay within the WGS-84 flattening's ±11 km swing
    # (geodetic height over a circular orbit varies with latitude by ~ a·f·sin²φ ≈ 21 km peak to peak)
    # plus SGP4's short-period J2 terms (a few km).
    assert sats.alt_m.between(975e3, 1030e3).all()
    speed = np.linalg.norm(sats[["vx_m_per_s", "vy_m_per_s", "vz_m_per_s"]].to_numpy(), axis=1)
    # ECEF speed = inertial speed sqrt(GM/r) = 7.35 km/s minus/plus Earth rotation's ≤ 0.54 km/s.
    assert np.all((speed > 6.7e3) & (speed < 7.9e3))


def test_scenario_json_is_the_resolved_scenario(tmp_path: Path) -> None:
    run(loaded(small_scenario(tmp_path)), tmp_path / "rec")
    resolved = json.loads((tmp_path / "rec" / "scenario.json").read_text())
    s = resolved["scenario"]
    assert s["epoch"].startswith("2027-03-01T02:00:00")
    assert s["sensors"][0]["detection"]["pfa"] == 1e-6
    assert s["targets"][3]["max_bank_deg"] == 30.0  # a default, filled in
    assert len(resolved["derived"]["satellites"]["USA-tracking-layer"]) == 28


def test_run_command_prints_summary_and_where_outputs_went(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["run", str(small_scenario(tmp_path)), "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert "satellites" in result.output
    assert "detections per sensor" in result.output
    assert str(tmp_path / "o") in result.output.replace("\n", "")


def _write_then_fail(out: Path) -> None:
    with RecordingWriter(out) as rec:
        rec.write("truth", {f.name: [] for f in TRUTH_SCHEMA})
        raise RuntimeError("the run broke")


def test_failed_run_leaves_no_complete_looking_file(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    with pytest.raises(RuntimeError):
        _write_then_fail(out)
    assert not (out / "truth.parquet").exists()
    assert (out / "truth.parquet.partial").exists()
    with pytest.raises(RecordingError, match=r"manifest\.json is missing"):
        read_manifest(out)


def test_recording_reader_explains_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="no such recording"):
        read_manifest(tmp_path / "nowhere")
    folder = tmp_path / "rec"
    with RecordingWriter(folder):
        pass
    assert read_manifest(folder)["format_version"] == FORMAT_VERSION
    (folder / "satellites.parquet").unlink()
    with pytest.raises(RecordingError, match=r"satellites\.parquet"):
        read_manifest(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["format_version"] = 0
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(RecordingError, match="re-run"):
        read_manifest(folder)


def test_run_writes_detections_from_every_sensor(tmp_path: Path) -> None:
    summary = run(loaded(small_scenario(tmp_path)), tmp_path / "rec")
    detections = read_detections(tmp_path / "rec" / "detections.parquet")
    labels = read_detection_labels(tmp_path / "rec" / "detections.parquet")
    assert len(detections) == summary.rows["detections"] > 0
    assert np.all(np.diff(detections.time_s) >= 0)  # time-ordered, as a node would receive them
    assert len(np.unique(detections.detection_id)) == len(detections)
    layers = {str(s).split("/")[0] for s in detections.sensor_id}
    assert {"JPN-shimokoshiki", "USA-guam", "USA-leo-ir"} <= layers
    n_false = int(labels.is_false_alarm.sum())
    assert n_false == sum(false for _, false in summary.detections.values())
    assert sum(n for n, _ in summary.detections.values()) == len(detections)


def test_plot_truth_writes_one_png_per_kind(tmp_path: Path) -> None:
    run(loaded(small_scenario(tmp_path)), tmp_path / "rec")
    result = CliRunner().invoke(app, ["plot-truth", str(tmp_path / "rec"), "--out", str(tmp_path / "png")])
    assert result.exit_code == 0, result.output
    files = sorted(p.name for p in (tmp_path / "png").iterdir())
    assert files == ["truth_aircraft.png", "truth_civil_aircraft.png", "truth_cruise_missile.png"]
    assert all((tmp_path / "png" / f).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for f in files)
    missing = CliRunner().invoke(app, ["plot-truth", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2
    assert "no such recording" in missing.output


def test_no_sharing_variant_keeps_every_picture_national(tmp_path: Path) -> None:
    """With no release rules, no message is sent and each coalition picture holds its own
    nation's data only; with the rules, partners' data reaches the pictures."""
    from kizuna.scenario.variants import apply_variant

    scenario = loaded(small_scenario(tmp_path, duration_s=120.0, civil_count=100))
    alone = run(apply_variant(scenario, "no-sharing"), tmp_path / "alone")
    shared = run(scenario, tmp_path / "shared")
    assert all(c["messages_sent"] == 0 for c in alone.tracking.values())
    assert all(c["messages_sent"] > 0 for c in shared.tracking.values())
    mixed = 0
    for nation in ("USA", "JPN", "AUS"):
        pic = read_table(tmp_path / "alone", f"picture_{nation}").to_pandas()
        assert set(pic["pedigree"]) <= {nation}
        pic = read_table(tmp_path / "shared", f"picture_{nation}").to_pandas()
        mixed += int((pic["pedigree"] != nation).sum())
    assert mixed > 0
    messages = read_table(tmp_path / "shared", "messages").to_pandas()
    assert set(messages["fate"]) <= {"delivered", "lost", "outage", "congestion", "no-link"}
    delivered = messages[messages["fate"] == "delivered"]
    assert (delivered["arrival_s"] > delivered["sent_s"]).all()
    assert set(delivered["outcome"]) <= {"accepted", "pending"}
