"""SIAP measures and track-number commonality (`kizuna.metrics.siap`): hand-worked pictures whose
every measure is computed on paper in the comments, Stone Soup 1.9.1's ``SIAPMetrics`` with the
``TrackToTruth`` associator on seeded random pictures, and the edge cases (empty, mismatched times,
missing columns)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from stonesoup.dataassociator.tracktotrack import TrackToTruth
from stonesoup.measures import Euclidean
from stonesoup.metricgenerator.manager import MultiManager
from stonesoup.metricgenerator.tracktotruthmetrics import SIAPMetrics
from stonesoup.types.groundtruth import GroundTruthPath, GroundTruthState
from stonesoup.types.state import GaussianState
from stonesoup.types.track import Track

from kizuna.metrics import commonality, siap, siap_association
from kizuna.metrics.siap import PER_TARGET_COLUMNS, PER_TIME_COLUMNS, PICTURE_COLUMNS, TRUTH_COLUMNS

BASE_M = np.array([6_378_137.0, 0.0, 0.0])  # a point on the equator (ECEF); offsets are exact in float64
FAR_M = BASE_M + np.array([0.0, -1_000_000.0, 0.0])  # where spurious tracks sit: 1000 km from any truth
GATE_M = 10_000.0
DT_S = 10.0


def _truth(rows: list[tuple]) -> pd.DataFrame:
    """rows: (time_s, target_id, position (3,), velocity (3,))."""
    out = [(t, j, *p, *v) for t, j, p, v in rows]
    return pd.DataFrame(out, columns=list(TRUTH_COLUMNS)).assign(kind="aircraft", affiliation="hostile")


def _picture(rows: list[tuple]) -> pd.DataFrame:
    """rows: (time_s, track_id, position (3,), velocity (3,))."""
    out = [(t, n, *p, *v) for t, n, p, v in rows]
    df = pd.DataFrame(out, columns=list(PICTURE_COLUMNS))
    return df.astype({"track_id": np.int64}).assign(status="confirmed")


# --- a picture worked on paper -------------------------------------------------------------------
#
# Times 0, 10, 20, 30, 40 s (steps 0–4), gate 10 km. Truths, 100 km apart, all moving at
# (0, 0, 100) m/s: A, B, C over steps 0–4, D over steps 0–1. Tracks (error vectors exact in float64):
#   1: on A at steps 0–2, on B at 3–4 (swap)      position error (0, 60, 80) → 100 m, velocity 1 m/s
#   2: on B at steps 0–2, on A at 3–4 (swap)      200 m, 2 m/s
#   3: on A at steps 1–2 (duplicate of 1)         300 m, 3 m/s
#   4: spurious at steps 0–4 (1000 km away)
#   5: on C at steps 0–1, away at 2, on C at 3–4 (re-acquired under the same number)   400 m, 4 m/s
#
# step  J  J_T  N  N_A
#  0    4   3   4   3     (A, B, C held; D not)
#  1    4   3   5   4     (A held twice)
#  2    3   2   5   3     (C lost; D gone)
#  3    3   3   4   3
#  4    3   3   4   3
# sums 17  14  22  16  →  C = 14/17, A = 16/14 = 8/7, S = 6/22 = 3/11
# PA = (5·100 + 5·200 + 2·300 + 4·400)/16 = 3700/16 = 231.25 m;  VA = (5 + 10 + 6 + 16)/16 = 37/16 m/s
# Segments: A: 1 [0, 20], 3 [10, 20], 2 [30, 40];  B: 2 [0, 20], 1 [30, 40];  C: 5 [0, 10], 5 [30, 40].
# T: 40, 40, 40, 10 s.  TL (per track number, summed): 20, 20, 20 (5: 10 + 10), 0 s → LS = 60/130 = 6/13.
# Contiguous: 20, 20, 10, 0 s → 50/130 = 5/13.  TT: 30, 30, 20, 0 s.  NU: 2, 2, 2, 0 → R = 3/80 per s.


def _hand_case() -> tuple[pd.DataFrame, pd.DataFrame]:
    vel = np.array([0.0, 0.0, 100.0])
    start = {"A": 0.0, "B": 100_000.0, "C": 200_000.0, "D": 300_000.0}
    life = {"A": range(5), "B": range(5), "C": range(5), "D": range(2)}

    def pos(target: str, k: int) -> np.ndarray:
        return BASE_M + np.array([0.0, start[target], 0.0]) + vel * k * DT_S

    truth = _truth([(k * DT_S, j, pos(j, k), vel) for j in start for k in life[j]])
    script = {
        1: (["A", "A", "A", "B", "B"], 1),
        2: (["B", "B", "B", "A", "A"], 2),
        3: ([None, "A", "A", None, None], 3),
        4: (["far"] * 5, 0),
        5: (["C", "C", "far", "C", "C"], 4),
    }
    rows = []
    for track, (on, size) in script.items():
        for k, target in enumerate(on):
            if target is None:
                continue
            if target == "far":
                rows.append((k * DT_S, track, FAR_M + np.array([0.0, 0.0, 1000.0 * track]), vel))
            else:
                err_pos = np.array([0.0, 60.0, 80.0]) * size
                err_vel = np.array([1.0, 0.0, 0.0]) * size
                rows.append((k * DT_S, track, pos(target, k) + err_pos, vel + err_vel))
    return truth, _picture(rows)


def test_siap_measures_of_a_hand_worked_picture() -> None:
    truth, picture = _hand_case()
    r = siap(truth, picture, association_gate_m=GATE_M)
    assert r.completeness == pytest.approx(14 / 17, rel=1e-15)
    assert r.ambiguity == pytest.approx(8 / 7, rel=1e-15)
    assert r.spuriousness == pytest.approx(3 / 11, rel=1e-15)
    assert r.position_accuracy_m == pytest.approx(231.25, rel=1e-15)
    assert r.velocity_accuracy_m_per_s == pytest.approx(37 / 16, rel=1e-15)
    assert r.longest_segment == pytest.approx(6 / 13, rel=1e-15)
    assert r.longest_contiguous_segment == pytest.approx(5 / 13, rel=1e-15)
    assert r.track_number_change_rate_per_s == pytest.approx(3 / 80, rel=1e-15)

    assert list(r.per_time.columns) == list(PER_TIME_COLUMNS)
    np.testing.assert_array_equal(r.per_time["time_s"], [0.0, 10.0, 20.0, 30.0, 40.0])
    np.testing.assert_array_equal(r.per_time["n_truths"], [4, 4, 3, 3, 3])
    np.testing.assert_array_equal(r.per_time["n_truths_tracked"], [3, 3, 2, 3, 3])
    np.testing.assert_array_equal(r.per_time["n_tracks"], [4, 5, 5, 4, 4])
    np.testing.assert_array_equal(r.per_time["n_tracks_assigned"], [3, 4, 3, 3, 3])
    np.testing.assert_allclose(r.per_time["completeness"], [3 / 4, 3 / 4, 2 / 3, 1, 1], rtol=1e-15)
    # step 1: tracks 1, 2, 3, 5 → (100 + 200 + 300 + 400)/4 m
    assert r.per_time["position_accuracy_m"].iloc[1] == pytest.approx(250.0, rel=1e-15)

    pt = r.per_target.set_index("target_id")
    assert list(r.per_target.columns) == list(PER_TARGET_COLUMNS)
    np.testing.assert_array_equal(pt.loc[["A", "B", "C", "D"], "n_samples"], [5, 5, 5, 2])
    np.testing.assert_allclose(pt.loc[["A", "B", "C", "D"], "held_fraction"], [1.0, 1.0, 0.8, 0.0])
    np.testing.assert_allclose(pt.loc[["A", "B", "C", "D"], "lifetime_s"], [40, 40, 40, 10])
    np.testing.assert_allclose(pt.loc[["A", "B", "C", "D"], "tracked_time_s"], [30, 30, 20, 0])
    np.testing.assert_allclose(pt.loc[["A", "B", "C", "D"], "longest_segment_s"], [20, 20, 20, 0])
    np.testing.assert_allclose(pt.loc[["A", "B", "C", "D"], "longest_segment_fraction"], [0.5, 0.5, 0.5, 0])
    np.testing.assert_allclose(pt.loc[["A", "B", "C", "D"], "longest_contiguous_s"], [20, 20, 10, 0])
    np.testing.assert_array_equal(pt.loc[["A", "B", "C", "D"], "n_tracks_needed"], [2, 2, 2, 0])
    np.testing.assert_array_equal(pt.loc[["A", "B", "C", "D"], "n_track_number_changes"], [1, 1, 1, 0])
    np.testing.assert_array_equal(pt.loc[["A", "B", "C", "D"], "n_track_numbers"], [3, 2, 1, 0])

    # the same picture through Stone Soup: every measure agrees (no single-time runs, no gaps)
    ref = _stonesoup_siap(truth, picture)
    ours = r.as_dict()
    for name, want in ref.items():
        assert ours[name] == pytest.approx(want, rel=1e-12), name


def test_association_takes_the_nearest_truth_strictly_inside_the_gate() -> None:
    still = np.zeros(3)
    truth = _truth([(0.0, "A", BASE_M, still), (0.0, "B", BASE_M + np.array([0.0, 6_000.0, 0.0]), still)])
    picture = _picture(
        [
            (0.0, 7, BASE_M + np.array([0.0, 2_000.0, 0.0]), still),  # 2 km from A, 4 km from B: A only
            (0.0, 8, BASE_M + np.array([0.0, 0.0, -10_000.0]), still),  # exactly 10 km from A: outside
            (0.0, 9, BASE_M + np.array([0.0, 0.0, -9_999.0]), still),  # 9.999 km from A: inside
            (0.0, 10, BASE_M + np.array([np.nan, 0.0, 0.0]), still),  # no position: never assigned
        ]
    ).set_axis([30, 10, 20, 40])  # the result keeps the picture's index and order
    a = siap_association(truth, picture, association_gate_m=GATE_M)
    assert list(a.index) == [30, 10, 20, 40]
    assert a["target_id"].tolist() == ["A", None, "A", None]
    assert a["assigned"].tolist() == [True, False, True, False]
    np.testing.assert_allclose(a["position_error_m"], [2_000.0, np.nan, 9_999.0, np.nan])
    r = siap(truth, picture, association_gate_m=GATE_M)
    # A holds 2 tracks, B none; 2 of 4 tracks are spurious
    assert (r.completeness, r.ambiguity, r.spuriousness) == (0.5, 2.0, 0.5)


def test_track_number_changes_take_the_minimum_cover_where_stone_soup_does_not() -> None:
    # One truth A over steps 0–9 (0–90 s). X holds it over steps 0–5, Y over 0–1 and 8–9, Z over 6–7.
    # Fewest tracks that cover every held time: X, Z, Y → NU = 3, two changes. TT = 50 + 10 + 10 = 70 s.
    # Stone Soup picks Y at t = 0 (its merged association ends last, at 90 s) though Y's first piece
    # ends at 10 s, then X, Z and Y again: NU = 4, R = 3/70 (module docstring, "Differences").
    vel = np.array([100.0, 0.0, 0.0])
    truth = _truth([(k * DT_S, "A", BASE_M + vel * k * DT_S, vel) for k in range(10)])
    holds = {"X": range(0, 6), "Y": [0, 1, 8, 9], "Z": [6, 7]}
    numbers = {"X": 1, "Y": 2, "Z": 3}
    rows = []
    for name, steps in holds.items():
        first, last = min(steps), max(steps)
        for k in range(first, last + 1):  # reported at every time of its life (no gaps)
            on = k in steps
            p = BASE_M + vel * k * DT_S + [0.0, 100.0 * numbers[name], 0.0] if on else FAR_M
            rows.append((k * DT_S, numbers[name], p, vel))
    picture = _picture(rows)
    r = siap(truth, picture, association_gate_m=GATE_M)
    assert r.per_target["n_tracks_needed"].tolist() == [3]
    assert r.per_target["tracked_time_s"].tolist() == [70.0]
    assert r.track_number_change_rate_per_s == pytest.approx(2 / 70, rel=1e-15)
    # LS: X's 50 s is the longest; Y totals 10 + 10 s
    assert r.longest_segment == pytest.approx(50 / 90, rel=1e-15)
    ref = _stonesoup_siap(truth, picture)
    assert ref["track_number_change_rate_per_s"] == pytest.approx(3 / 70, rel=1e-12)
    for name in ("completeness", "ambiguity", "spuriousness", "position_accuracy_m", "longest_segment"):
        assert r.as_dict()[name] == pytest.approx(ref[name], rel=1e-12), name


# --- Stone Soup 1.9.1 ----------------------------------------------------------------------------

_EPOCH = datetime(2025, 1, 1)  # Stone Soup uses naive datetimes
_SS_NAMES = {
    "SIAP Completeness": "completeness",
    "SIAP Ambiguity": "ambiguity",
    "SIAP Spuriousness": "spuriousness",
    "SIAP Position Accuracy": "position_accuracy_m",
    "SIAP Velocity Accuracy": "velocity_accuracy_m_per_s",
    "SIAP Longest Track Segment": "longest_segment",
    "SIAP Rate of Track Number Change": "track_number_change_rate_per_s",
}


def _stonesoup_objects(
    truth: pd.DataFrame, picture: pd.DataFrame
) -> tuple[dict[object, GroundTruthPath], list[Track]]:
    """GroundTruthPath per target and Track per track number; state vector (x, vx, y, vy, z, vz)."""

    def vector(r: pd.Series) -> np.ndarray:
        return r[["x_m", "vx_m_per_s", "y_m", "vy_m_per_s", "z_m", "vz_m_per_s"]].to_numpy(float)[:, None]

    def when(r: pd.Series) -> datetime:
        return _EPOCH + timedelta(seconds=float(r["time_s"]))

    paths = {
        j: GroundTruthPath([GroundTruthState(vector(r), timestamp=when(r)) for _, r in g.iterrows()])
        for j, g in truth.sort_values("time_s").groupby("target_id", sort=True)
    }
    tracks = [
        Track([GaussianState(vector(r), np.eye(6), timestamp=when(r)) for _, r in g.iterrows()])
        for _, g in picture.sort_values("time_s").groupby("track_id", sort=True)
    ]
    return paths, tracks


def _stonesoup_manager(truth: pd.DataFrame, picture: pd.DataFrame) -> tuple[MultiManager, dict]:
    # Association reduced to the per-time gate: confirm on 1 hit, end on 1 miss; the gate is on
    # position (Euclidean over x, y, z), strict (Stone Soup keeps d < threshold).
    position = Euclidean(mapping=(0, 2, 4))
    generator = SIAPMetrics(position_measure=position, velocity_measure=Euclidean(mapping=(1, 3, 5)))
    associator = TrackToTruth(
        association_threshold=GATE_M, consec_pairs_confirm=1, consec_misses_end=1, measure=position
    )
    paths, tracks = _stonesoup_objects(truth, picture)
    manager = MultiManager([generator], associator)
    manager.add_data({"tracks": tracks, "groundtruth_paths": list(paths.values())})
    return manager, paths


def _stonesoup_siap(truth: pd.DataFrame, picture: pd.DataFrame) -> dict[str, float]:
    manager, _ = _stonesoup_manager(truth, picture)
    metrics = manager.generate_metrics()["siap_generator"]
    return {ours: float(metrics[title].value) for title, ours in _SS_NAMES.items()}


def _random_scenario(seed: int, *, duplicates: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """5 truths, 7 track numbers, 30 steps of 10 s. Each truth's life is cut into pieces of ≥ 2
    steps, each held by a free track number or by none; with ``duplicates`` some pieces are held by
    a second number as well. Tracks are reported at every step of their life (spurious, 1000 km
    away, when they hold nothing) and sit 0.5 km (1σ per axis) from the truth they hold — never near
    the 10 km gate, so each held piece is one run of ≥ 2 steps: Stone Soup's associator needs that
    (module docstring). Truths 0 and 1 fly in formation 8 km apart, so a track holding one is inside
    the gate of both and the nearest-truth rule decides."""
    rng = np.random.default_rng(seed)
    n_truth, n_track, n_steps = 5, 7, 30
    times = np.arange(n_steps) * DT_S
    vel = rng.uniform(-100.0, 100.0, (n_truth, 3))
    vel[1] = vel[0]
    p0 = BASE_M + np.array([0.0, 300_000.0, 0.0]) * np.arange(n_truth)[:, None]
    p0[1] = p0[0] + np.array([0.0, 0.0, 8_000.0])
    life = [(int(rng.integers(0, 6)), int(rng.integers(n_steps - 6, n_steps))) for _ in range(n_truth)]
    truth = _truth(
        [
            (times[k], j, p0[j] + vel[j] * times[k], vel[j])
            for j in range(n_truth)
            for k in range(life[j][0], life[j][1] + 1)
        ]
    )

    holds = np.full((n_track, n_steps), -1)  # target each track number holds, −1: none
    for j, (s, e) in enumerate(life):
        k = s
        while e + 1 - k >= 2:
            hi = min(k + int(rng.integers(2, 9)), e + 1)
            if hi - k < 2:
                break
            n_holders = 0 if rng.random() < 0.2 else (2 if duplicates and rng.random() < 0.4 else 1)
            free = [i for i in range(n_track) if (holds[i, k:hi] == -1).all()]
            for i in rng.permutation(free)[:n_holders]:
                holds[i, k:hi] = j
            k = hi + int(rng.integers(0, 3))
    rows = []
    for i in range(n_track):
        held = np.flatnonzero(holds[i] >= 0)
        first = int(held.min()) if len(held) else int(rng.integers(0, 20))
        last = int(held.max()) if len(held) else first + 5
        first, last = (
            max(first - int(rng.integers(0, 3)), 0),
            min(last + int(rng.integers(0, 3)), n_steps - 1),
        )
        for k in range(first, last + 1):
            j = holds[i, k]
            if j >= 0:
                p = p0[j] + vel[j] * times[k] + rng.normal(0.0, 500.0, 3)
                v = vel[j] + rng.normal(0.0, 5.0, 3)
            else:
                p, v = (
                    FAR_M + np.array([0.0, 50_000.0 * i, 0.0]) + rng.normal(0.0, 500.0, 3),
                    rng.normal(0, 50.0, 3),
                )
            rows.append((times[k], 100 + i, p, v))
    return truth, _picture(rows)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_siap_equals_stonesoup_on_random_pictures_with_duplicates(seed: int) -> None:
    truth, picture = _random_scenario(seed, duplicates=True)
    ours = siap(truth, picture, association_gate_m=GATE_M)
    ref = _stonesoup_siap(truth, picture)
    assert ours.ambiguity > 1.0 and 0.0 < ours.spuriousness < 1.0 and 0.0 < ours.completeness < 1.0
    # R is left out: with two numbers on one truth at once Stone Soup's NU need not be the minimum
    # (module docstring, "Differences"); the per-target cover is checked in the next test.
    for name, want in ref.items():
        if name != "track_number_change_rate_per_s":
            # float sums in another order: 1e-12 relative is ~1e-9 m on a 500 m mean error
            assert ours.as_dict()[name] == pytest.approx(want, rel=1e-12), name

    manager, paths = _stonesoup_manager(truth, picture)
    manager.associate_tracks(manager.generators[0])
    per_target = ours.per_target.set_index("target_id")
    for j, path in paths.items():
        assert per_target.loc[j, "lifetime_s"] == SIAPMetrics.truth_lifetime(path)
        assert per_target.loc[j, "longest_segment_s"] == SIAPMetrics.longest_track_time_on_truth(
            manager, path
        )
        assert per_target.loc[j, "tracked_time_s"] == SIAPMetrics.total_time_tracked(manager, path)


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_siap_equals_stonesoup_including_r_when_one_track_holds_each_truth(seed: int) -> None:
    truth, picture = _random_scenario(seed, duplicates=False)
    ours = siap(truth, picture, association_gate_m=GATE_M)
    ref = _stonesoup_siap(truth, picture)
    assert ours.track_number_change_rate_per_s > 0.0
    for name, want in ref.items():
        assert ours.as_dict()[name] == pytest.approx(want, rel=1e-12), name


def test_tracks_needed_is_the_minimum_cover_on_random_pictures() -> None:
    # Brute force per truth: the smallest set of segments (run of consecutive steps with one number)
    # whose union contains every held time, by trying subsets in order of size.
    from itertools import combinations

    for seed in (1, 2, 3):
        truth, picture = _random_scenario(seed, duplicates=True)
        r = siap(truth, picture, association_gate_m=GATE_M)
        a = siap_association(truth, picture, association_gate_m=GATE_M)
        a = a[a["assigned"]]
        for j, g in a.groupby("target_id"):
            segments = []
            for _, h in g.sort_values("time_s").groupby("track_id"):
                steps = np.round(h["time_s"].to_numpy() / DT_S).astype(int)
                for run in np.split(steps, np.flatnonzero(np.diff(steps) != 1) + 1):
                    segments.append(set(run.tolist()))
            held = set().union(*segments)
            need = next(
                n
                for n in range(1, len(segments) + 1)
                if any(set().union(*c) == held for c in combinations(segments, n))
            )
            assert r.per_target.set_index("target_id").loc[j, "n_tracks_needed"] == need


# --- edge cases ----------------------------------------------------------------------------------


def test_empty_and_mismatched_inputs_give_nan_not_errors() -> None:
    truth, picture = _hand_case()
    no_tracks = siap(truth, picture.iloc[:0])
    assert no_tracks.completeness == 0.0 and no_tracks.longest_segment == 0.0
    for value in (no_tracks.ambiguity, no_tracks.spuriousness, no_tracks.position_accuracy_m):
        assert math.isnan(value)
    assert math.isnan(no_tracks.track_number_change_rate_per_s)
    assert len(no_tracks.per_time) == 5 and len(no_tracks.per_target) == 4

    no_truth = siap(truth.iloc[:0], picture)
    assert no_truth.spuriousness == 1.0
    assert math.isnan(no_truth.completeness) and math.isnan(no_truth.longest_segment)
    assert len(no_truth.per_target) == 0 and list(no_truth.per_target.columns) == list(PER_TARGET_COLUMNS)

    nothing = siap(pd.DataFrame(), pd.DataFrame())  # column-less empties are empty tables
    assert all(math.isnan(v) for v in nothing.as_dict().values())
    assert len(nothing.per_time) == 0

    shifted = siap(truth, picture.assign(time_s=picture["time_s"] + 0.5))  # no shared time
    assert shifted.completeness == 0.0 and shifted.spuriousness == 1.0
    assert len(shifted.per_time) == 10
    assert math.isnan(shifted.per_time["completeness"].iloc[1])  # 0.5 s: tracks only


def test_missing_columns_and_bad_gate_raise_with_names() -> None:
    truth, picture = _hand_case()
    with pytest.raises(ValueError, match=r"picture lacks column\(s\) \['track_id', 'vz_m_per_s'\]"):
        siap(truth, picture.drop(columns=["vz_m_per_s", "track_id"]))
    with pytest.raises(ValueError, match=r"truth lacks column\(s\) \['target_id'\]"):
        commonality({"JPN": picture}, truth.drop(columns=["target_id"]))
    with pytest.raises(ValueError, match=r"picture 'KOR' lacks column\(s\) \['x_m'\]"):
        commonality({"JPN": picture, "KOR": picture.drop(columns=["x_m"])}, truth)
    with pytest.raises(ValueError, match="association_gate_m must be a positive"):
        siap(truth, picture, association_gate_m=0.0)


# --- commonality ---------------------------------------------------------------------------------
#
# Truths A–D at t = 0 and 10 s, 100 km apart; nations USA, JPN, KOR. Track numbers held:
#            t = 0                  t = 10
#     USA   JPN   KOR  common?   USA   JPN   KOR  common?
#  A  101   101   101  yes (all) 101   101   101  yes (all)
#  B  201   202    –   no        201   201    –   yes
#  C  301    –     –   (1 only)   –     –     –
#  D  401   401   402  no (all)  401   401   401  yes (all)
# held by ≥ 2: 3 + 3 = 6, common 1 + 3 = 4 → 2/3;  held by all: 2 + 2 = 4, common 1 + 2 = 3 → 3/4.
# JPN also carries #999 on A at t = 0, 500 m off (its #101 is 100 m off: the nearest wins), and a
# spurious #777; KOR's #555 sits 20 km from C (outside the gate).


def _commonality_case() -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    still = np.zeros(3)
    where = {j: BASE_M + np.array([0.0, 100_000.0 * i, 0.0]) for i, j in enumerate("ABCD")}
    truth = _truth([(t, j, where[j], still) for t in (0.0, 10.0) for j in "ABCD"])
    held = {
        "USA": {0.0: {"A": 101, "B": 201, "C": 301, "D": 401}, 10.0: {"A": 101, "B": 201, "D": 401}},
        "JPN": {0.0: {"A": 101, "B": 202, "D": 401}, 10.0: {"A": 101, "B": 201, "D": 401}},
        "KOR": {0.0: {"A": 101, "D": 402}, 10.0: {"A": 101, "D": 401}},
    }
    pictures = {}
    for nation, by_time in held.items():
        rows = [
            (t, n, where[j] + np.array([0.0, 0.0, 100.0]), still)
            for t, on in by_time.items()
            for j, n in on.items()
        ]
        pictures[nation] = rows
    pictures["JPN"] += [
        (0.0, 999, where["A"] + np.array([0.0, 0.0, 500.0]), still),
        (10.0, 777, FAR_M, still),
    ]
    pictures["KOR"] += [(0.0, 555, where["C"] + np.array([0.0, 0.0, 20_000.0]), still)]
    return {n: _picture(rows) for n, rows in pictures.items()}, truth


def test_commonality_of_three_nations_pictures() -> None:
    pictures, truth = _commonality_case()
    c = commonality(pictures, truth, association_gate_m=GATE_M)
    assert c.commonality == pytest.approx(2 / 3, rel=1e-15)
    assert c.commonality_all == pytest.approx(3 / 4, rel=1e-15)
    assert c.per_time.to_dict("list") == {
        "time_s": [0.0, 10.0],
        "n_held_by_2plus": [3, 3],
        "n_common": [1, 3],
        "n_held_by_all": [2, 2],
        "n_common_all": [1, 2],
    }
    jpn_a0 = c.held[(c.held["nation"] == "JPN") & (c.held["target_id"] == "A") & (c.held["time_s"] == 0.0)]
    assert jpn_a0["track_id"].tolist() == [101] and jpn_a0["distance_m"].tolist() == [100.0]
    assert len(c.held) == 17  # one row per (time, truth, nation) held: USA 4 + 3, JPN 3 + 3, KOR 2 + 2


def test_commonality_with_empty_and_single_pictures() -> None:
    pictures, truth = _commonality_case()
    none = commonality({}, truth)
    assert math.isnan(none.commonality) and math.isnan(none.commonality_all)
    assert none.per_time["n_held_by_2plus"].tolist() == [0, 0]
    one = commonality({"USA": pictures["USA"]}, truth)
    assert math.isnan(one.commonality) and math.isnan(one.commonality_all)
    with_empty = commonality({**pictures, "AUS": pictures["USA"].iloc[:0]}, truth)
    assert with_empty.commonality == pytest.approx(2 / 3, rel=1e-15)
    assert with_empty.per_time["n_held_by_all"].tolist() == [0, 0]  # AUS holds nothing
    assert math.isnan(with_empty.commonality_all)
    assert math.isnan(commonality({}, truth.iloc[:0]).commonality)
