"""The tracker loop of `kizuna.tracking.tracker` against an independent truth.

Truth: five constant-velocity targets at 10 km altitude near a radar site (straight lines in ECEF,
written out here, not taken from the tracker's model), two of them crossing at the same point at
t = 30 s. Sensors: a position sensor (ECEF, σ = 50 m per axis) at integer seconds and a radar
(range σ 30 m, azimuth/elevation σ 1 mrad, range rate σ 5 m/s; z from
`kizuna.tracking.measurements.radar_function` plus Gaussian noise) half a second later; P_D 0.9
each; Poisson clutter (mean 5 per scan) uniform in a 200 km × 200 km × 20 km box. 60 scans of each.
Scoring with `kizuna.metrics.custody` and `kizuna.metrics.gospa` (c = 2 km). All draws seeded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from kizuna import frames
from kizuna.cli import app
from kizuna.metrics.custody import custody
from kizuna.metrics.gospa import gospa
from kizuna.recording import RecordingWriter
from kizuna.sensors.detections import MEASUREMENT_KINDS, Z_MAX, DetectionBatch, DetectionLabels
from kizuna.sensors.io import detection_columns
from kizuna.tracking.association import AssociationParameters
from kizuna.tracking.measurements import radar_function
from kizuna.tracking.models import ConstantVelocity
from kizuna.tracking.tracker import Tracker, scan_slices, select_rows

LAT, LON = np.radians(35.0), np.radians(139.0)
SITE_M = frames.geodetic_to_ecef(LAT, LON, 0.0)
ROT = frames.enu_rotation(LAT, LON)  # rows: east, north, up in ECEF
KIND = {k: i for i, k in enumerate(MEASUREMENT_KINDS)}
POSITION_SIGMA_M = 50.0
RADAR_SIGMA = np.array([30.0, 1e-3, 1e-3, 5.0])  # m, rad, rad, m/s
PD = 0.9
CLUTTER_MEAN = 5.0
BOX_LO_ENU_M = np.array([-100e3, -100e3, 0.0])
BOX_HI_ENU_M = np.array([100e3, 100e3, 20e3])
GOSPA_C_M = 2_000.0

# (east, north, up) start [m] at t = 0 and velocity [m/s]; targets 3 and 4 meet at (0, 0) at t = 30 s.
TARGETS = {
    "t0": ((-60e3, 40e3, 10e3), (250.0, 0.0, 0.0)),
    "t1": ((50e3, -50e3, 10e3), (0.0, 200.0, 0.0)),
    "t2": ((-30e3, -70e3, 8e3), (150.0, 150.0, 0.0)),
    "t3": ((-9e3, 0.0, 10e3), (300.0, 0.0, 0.0)),
    "t4": ((0.0, -9e3, 10e3), (0.0, 300.0, 0.0)),
}
NON_CROSSING = ("t0", "t1", "t2")


def truth_at(time_s: float) -> tuple[list[str], np.ndarray]:
    """Target ids and ECEF states (K, 6) at ``time_s``: p = site + Rᵀ (p0 + v t), v = Rᵀ v_enu."""
    ids = list(TARGETS)
    p0 = np.array([TARGETS[k][0] for k in ids])
    v = np.array([TARGETS[k][1] for k in ids])
    x = np.empty((len(ids), 6))
    x[:, 0:3] = SITE_M + (p0 + v * time_s) @ ROT
    x[:, 3:6] = v @ ROT
    return ids, x


def make_batch(
    kind: str, sensor_id: str, time_s: float, z: np.ndarray, sigma: np.ndarray, first_id: int
) -> DetectionBatch:
    m, k = z.shape
    zz = np.full((m, Z_MAX), np.nan)
    cov = np.full((m, Z_MAX, Z_MAX), np.nan)
    zz[:, :k] = z
    cov[:, :k, :k] = np.diag(sigma**2)
    return DetectionBatch(
        detection_id=np.arange(first_id, first_id + m, dtype=np.int64),
        time_s=np.full(m, time_s),
        sensor_id=np.full(m, sensor_id, dtype=object),
        kind=np.full(m, KIND[kind], dtype=np.int8),
        z=zz,
        cov=cov,
        sensor_pos_m=np.tile(SITE_M, (m, 1)),
        sensor_vel_m_per_s=np.zeros((m, 3)),
    )


def scan(
    kind: str, time_s: float, rng: np.random.Generator, first_id: int
) -> tuple[DetectionBatch, list[str]]:
    """One scan: detected targets (P_D) plus clutter, shuffled; returns the batch and its labels."""
    ids, x = truth_at(time_s)
    seen = rng.random(len(ids)) < PD
    n_clutter = rng.poisson(CLUTTER_MEAN)
    clutter_enu = rng.uniform(BOX_LO_ENU_M, BOX_HI_ENU_M, (n_clutter, 3))
    clutter = np.zeros((n_clutter, 6))
    clutter[:, 0:3] = SITE_M + clutter_enu @ ROT
    clutter[:, 3:6] = rng.normal(0.0, 200.0, (n_clutter, 3))
    pts = np.concatenate([x[seen], clutter])
    labels = [i for i, s in zip(ids, seen, strict=True) if s] + [""] * n_clutter
    if kind == "position":
        sigma = np.full(3, POSITION_SIGMA_M)
        z = pts[:, 0:3] + rng.normal(0.0, POSITION_SIGMA_M, (len(pts), 3))
    else:
        sigma = RADAR_SIGMA
        s = np.tile(SITE_M, (len(pts), 1))
        z = radar_function(pts, s, np.zeros_like(s)) + rng.normal(0.0, 1.0, (len(pts), 4)) * RADAR_SIGMA
    order = rng.permutation(len(pts))
    return make_batch(kind, f"{kind}-1", time_s, z[order], sigma, first_id), [labels[i] for i in order]


def scenario(n_scans: int = 60, seed: int = 7) -> tuple[DetectionBatch, DetectionLabels]:
    rng = np.random.default_rng(seed)
    parts, labels, next_id = [], [], 0
    for k in range(n_scans):
        for kind, t in (("position", float(k)), ("radar", k + 0.5)):
            b, lab = scan(kind, t, rng, next_id)
            next_id += len(b)
            parts.append(b)
            labels += lab
    batch = DetectionBatch.concatenate(parts)
    return batch, DetectionLabels(np.arange(next_id, dtype=np.int64), np.array(labels, dtype=object))


def new_tracker(*, record_history: bool = True, reprocess_window_s: float = 30.0) -> Tracker:
    return Tracker(
        model=ConstantVelocity(q_m2_per_s3=1.0),
        association=AssociationParameters(),
        max_speed_m_per_s=1_000.0,
        record_history=record_history,
        reprocess_window_s=reprocess_window_s,
    )


@pytest.fixture(scope="module")
def run() -> tuple[Tracker, pd.DataFrame, pd.DataFrame]:
    batch, _ = scenario()
    tracker = new_tracker()
    tracker.step(batch)
    cols = tracker.history_columns()
    tracks = pd.DataFrame({k: v for k, v in cols.items() if k != "P"})
    times = np.unique(batch.time_s)
    rows = []
    for t in times:
        ids, x = truth_at(t)
        rows += [
            {"time_s": t, "target_id": i, "x_m": p[0], "y_m": p[1], "z_m": p[2]}
            for i, p in zip(ids, x, strict=True)
        ]
    return tracker, tracks, pd.DataFrame(rows)


WARM_UP_S = 8.0


def test_scans_are_split_by_time_and_sensor() -> None:
    batch, _ = scenario(n_scans=3)
    slices = scan_slices(batch)
    assert len(slices) == 6
    for rows in slices:
        assert len(set(batch.time_s[rows])) == 1 and len(set(batch.sensor_id[rows])) == 1
    starts = [batch.time_s[r[0]] for r in slices]
    assert starts == sorted(starts)


def test_every_target_is_held_by_one_confirmed_track(run: tuple[Tracker, pd.DataFrame, pd.DataFrame]) -> None:
    tracker, tracks, truth = run
    assert tracker.n_frames == 120 and tracker.late_frames_skipped == 0 and tracker.rewinds == 0
    held = tracks.assign(status=tracks["status"].replace({"coasting": "confirmed"}))
    late_truth = truth[truth["time_s"] >= WARM_UP_S]
    summary = custody(late_truth, held[held["time_s"] >= WARM_UP_S], gate_m=GOSPA_C_M)
    # A miss of this is a target dropped or found late: ≥ 95 % of post-warm-up samples held.
    assert (summary["held_fraction"] >= 0.95).all(), summary
    # Identity: the non-crossing targets keep one track id throughout (no switch, no break).
    assert (summary.loc[list(NON_CROSSING), "n_id_switches"] == 0).all(), summary
    assert (summary.loc[list(NON_CROSSING), "n_tracks"] == 1).all(), summary


def test_confirmed_count_and_gospa(run: tuple[Tracker, pd.DataFrame, pd.DataFrame]) -> None:
    _, tracks, truth = run
    confirmed = tracks[tracks["status"].isin(["confirmed", "coasting"]) & (tracks["time_s"] >= WARM_UP_S)]
    per_time = confirmed.groupby("time_s").size()
    n = len(TARGETS)
    # ≈ targets: never more than one spare confirmed track (a clutter track or a duplicate).
    assert per_time.between(n - 1, n + 1).all(), per_time.describe()
    assert per_time.median() == n
    no_tracks = np.sqrt(n * GOSPA_C_M**2 / 2.0)  # every target missed: (n c²/2)^(1/2) ≈ 3.16 km
    values = []
    for t, group in truth[truth["time_s"] >= WARM_UP_S].groupby("time_s"):
        est = confirmed[confirmed["time_s"] == t][["x_m", "y_m", "z_m"]].to_numpy()
        values.append(gospa(group[["x_m", "y_m", "z_m"]].to_numpy(), est, GOSPA_C_M).gospa_m)
    # Localisation alone: ~√5 × ~60 m ≈ 150 m; far below the no-track value.
    assert np.mean(values) < 0.15 * no_tracks, np.mean(values)


def test_track_accuracy_matches_sensor_noise(run: tuple[Tracker, pd.DataFrame, pd.DataFrame]) -> None:
    """Position error of held tracks is below the position sensor's σ·√3 (≈ 87 m) on average:
    the filter averages two sensors over many scans."""
    _, tracks, truth = run
    confirmed = tracks[tracks["status"] == "confirmed"]
    merged = confirmed.merge(truth, on="time_s", suffixes=("", "_true"))
    d = np.linalg.norm(
        merged[["x_m", "y_m", "z_m"]].to_numpy() - merged[["x_m_true", "y_m_true", "z_m_true"]].to_numpy(),
        axis=1,
    )
    merged["d"] = d
    nearest = merged.groupby(["time_s", "track_id"])["d"].min()
    good = nearest[nearest < GOSPA_C_M]
    assert good.mean() < np.sqrt(3) * POSITION_SIGMA_M, good.describe()


def test_late_rows_older_than_the_window_are_counted_and_skipped() -> None:
    batch, _ = scenario(n_scans=10, seed=3)
    tracker = new_tracker(reprocess_window_s=2.0)
    tracker.step(batch)
    before = {k: v.copy() for k, v in tracker.tracks().items()}
    early = select_rows(batch, np.flatnonzero(batch.time_s < 7.0))  # frames 0 … 6.5 s; now 9.5 s
    tracker.step(early)
    assert tracker.late_frames_skipped == len(scan_slices(early)) == 14
    assert tracker.late_rows_skipped == len(early)
    assert tracker.n_frames == 20 and tracker.rewinds == 0
    after = tracker.tracks()
    np.testing.assert_array_equal(after["track_id"], before["track_id"])
    np.testing.assert_array_equal(after["x_m"], before["x_m"])
    assert tracker.time_s == 9.5


def _by_state(cols: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    order = np.lexsort((cols["y_m"], cols["x_m"], cols["time_s"]))
    return {k: v[order] for k, v in cols.items() if k != "track_id"}


def test_late_batches_inside_the_window_equal_processing_in_time_order() -> None:
    """The radar's scans arrive 2.2 s late (after the position sensor's next two scans): the
    re-processing window makes the result identical to processing every scan in time order."""
    batch, _ = scenario(n_scans=40, seed=5)
    in_order = new_tracker(record_history=True)
    in_order.step(batch)

    delayed = new_tracker(record_history=True, reprocess_window_s=5.0)
    radar = batch.sensor_id == "radar-1"
    arrivals = np.where(radar, batch.time_s + 2.2, batch.time_s)  # when each row reaches the tracker
    for when in np.unique(arrivals):
        delayed.step(select_rows(batch, np.flatnonzero(arrivals == when)))
    assert delayed.rewinds == 39 and delayed.late_rows_skipped == 0  # the last radar scan is not late
    assert delayed.n_frames == in_order.n_frames == 80

    want, got = _by_state(in_order.history_columns()), _by_state(delayed.history_columns())
    assert want.keys() == got.keys()
    for name in want:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)
    # Tracks alive before a rewind keep their ids; ids are never issued twice.
    final_ids = delayed.tracks()["track_id"]
    assert len(np.unique(final_ids)) == len(final_ids)
    assert in_order.n_confirmed == delayed.n_confirmed


def test_history_columns_and_shapes(run: tuple[Tracker, pd.DataFrame, pd.DataFrame]) -> None:
    tracker, tracks, _ = run
    cols = tracker.history_columns()
    n = len(cols["time_s"])
    assert cols["P"].shape == (n, 6, 6)
    np.testing.assert_allclose(cols["sigma_x_m"] ** 2, cols["P"][:, 0, 0])
    assert set(tracks["status"]) <= {"tentative", "confirmed", "coasting"}
    assert ((tracks["quality"] >= 0) & (tracks["quality"] <= 15)).all()
    # track ids increase with creation and are never reused
    first_seen = tracks.groupby("track_id")["time_s"].min()
    assert first_seen.is_monotonic_increasing


def test_empty_batch_and_no_detections() -> None:
    tracker = new_tracker()
    tracker.step(DetectionBatch.empty())
    assert tracker.n_frames == 0 and len(tracker.tracks()["track_id"]) == 0
    assert len(tracker.history_columns()["time_s"]) == 0


def test_cli_track(tmp_path: Path) -> None:
    batch, labels = scenario(n_scans=12, seed=11)
    with RecordingWriter(tmp_path) as w:
        w.write("detections", detection_columns(batch, labels))
    out = tmp_path / "tracks.parquet"
    result = CliRunner().invoke(app, ["track", str(tmp_path / "detections.parquet"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "confirmed" in result.output
    df = pd.read_parquet(out)
    expected = [
        "time_s", "track_id", "status", "x_m", "y_m", "z_m", "vx_m_per_s", "vy_m_per_s", "vz_m_per_s",
        "sigma_x_m", "sigma_y_m", "sigma_z_m", "quality",
    ]  # fmt: skip
    assert list(df.columns) == expected
    last = df[df["time_s"] == df["time_s"].max()]
    assert (last["status"] == "confirmed").sum() >= len(TARGETS) - 1


def test_cli_track_bad_input(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(
        app, ["track", str(tmp_path / "nope.parquet"), "--out", str(tmp_path / "t.parquet")]
    )
    assert missing.exit_code == 2
    junk = tmp_path / "junk.parquet"
    junk.write_text("not parquet")
    bad = runner.invoke(app, ["track", str(junk), "--out", str(tmp_path / "t.parquet")])
    assert bad.exit_code == 2


def test_angles_only_targets_are_started_by_stereo_and_held() -> None:
    """Three satellites 1,000 km up see two targets (a glide vehicle at 40 km, 2.5 km/s, and an
    aircraft at 10 km) only as lines of sight (σ 30 µrad) with false alarms: the tracker starts
    both by triangulation across satellites, confirms them, and holds them to within the
    geometric accuracy (σ_θ · range ≈ 30 m per ray) — no radar involved."""
    rng = np.random.default_rng(21)
    sigma = 30e-6
    sats0 = np.stack(
        [
            frames.geodetic_to_ecef(np.radians(la), np.radians(lo), 1_000e3)
            for la, lo in ((30, 130), (40, 145), (28, 150))
        ]
    )
    sat_vel = (
        np.array([[0.0, 0.0, 7_000.0], [0.0, -7_000.0, 0.0], [7_000.0, 0.0, 0.0]]) @ ROT
    )  # roughly tangential
    targets = {
        "hgv": ((-150e3, 0.0, 40e3), (2_500.0, 0.0, 0.0)),
        "jet": ((50e3, 60e3, 10e3), (0.0, -220.0, 0.0)),
    }
    parts, next_id = [], 0
    for k in range(30):
        t = float(k)
        pts = np.array([SITE_M + (np.array(p0) + np.array(v) * t) @ ROT for p0, v in targets.values()])
        for j in range(3):
            sat = sats0[j] + sat_vel[j] * t
            rays = pts - sat
            rays /= np.linalg.norm(rays, axis=1, keepdims=True)
            n_false = rng.poisson(1.0)
            false = rng.normal(size=(n_false, 3)) * 0.05 + (SITE_M - sat) / np.linalg.norm(SITE_M - sat)
            z = np.vstack([rays, false]) + rng.normal(0.0, sigma, (len(rays) + n_false, 3))
            z /= np.linalg.norm(z, axis=1, keepdims=True)
            m = len(z)
            zz = np.full((m, Z_MAX), np.nan)
            zz[:, :3] = z
            cov = np.full((m, Z_MAX, Z_MAX), np.nan)
            cov[:, :3, :3] = sigma**2 * (np.eye(3) - z[:, :, None] * z[:, None, :])
            parts.append(
                DetectionBatch(
                    detection_id=np.arange(next_id, next_id + m),
                    time_s=np.full(m, t),
                    sensor_id=np.full(m, f"layer/sat-{j}", dtype=object),
                    kind=np.full(m, KIND["los"], np.int8),
                    z=zz,
                    cov=cov,
                    sensor_pos_m=np.tile(sat, (m, 1)),
                    sensor_vel_m_per_s=np.tile(sat_vel[j], (m, 1)),
                )
            )
            next_id += m
    tracker = Tracker(model=ConstantVelocity(q_m2_per_s3=1.0), max_speed_m_per_s=4_000.0, record_history=True)
    tracker.step(DetectionBatch.concatenate(parts))
    tracks = pd.DataFrame({k: v for k, v in tracker.history_columns().items() if k != "P"})
    last = tracks[(tracks["time_s"] == 29.0) & (tracks["status"] == "confirmed")]
    pts = np.array([SITE_M + (np.array(p0) + np.array(v) * 29.0) @ ROT for p0, v in targets.values()])
    d = np.linalg.norm(last[["x_m", "y_m", "z_m"]].to_numpy()[:, None] - pts[None], axis=2)
    assert len(last) == 2, last
    nearest = d.min(axis=0)
    assert (nearest < 300.0).all(), nearest  # each target held by a confirmed track, to ~10 σ_ray
    assert tracker.n_confirmed == 2  # no false track from the false alarms
    vel = last[["vx_m_per_s", "vy_m_per_s", "vz_m_per_s"]].to_numpy()[d.argmin(axis=0)]
    np.testing.assert_allclose(np.linalg.norm(vel, axis=1), [2_500.0, 220.0], atol=60.0)
