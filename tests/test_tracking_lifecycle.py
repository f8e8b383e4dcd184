"""Track lifecycle (kizuna.tracking.lifecycle): the table, M-of-N logic, deletion, track quality.

The expected status sequences are worked out by hand from the rules in the module docstring
(Blackman 1986 M/N confirmation with a window from creation; K consecutive misses delete), look by
look; the TQ boundaries from the documented stand-in table (not MIL-STD-6016's own table).
"""

from __future__ import annotations

import numpy as np
import pytest

from kizuna.tracking.lifecycle import (
    R95_SCALE,
    TQ_RADIUS_THRESHOLDS_M,
    LifecycleParameters,
    TrackStatus,
    TrackTable,
    largest_eigenvalue_3x3,
    position_radius95_m,
    track_quality,
)

T, C, K, D = TrackStatus.TENTATIVE, TrackStatus.CONFIRMED, TrackStatus.COASTING, TrackStatus.DELETED


def _table(k: int, sigma_m: float = 100.0) -> TrackTable:
    t = TrackTable.empty()
    t.add(np.zeros((k, 6)), np.broadcast_to(sigma_m**2 * np.eye(6), (k, 6, 6)), 0.0)
    return t


def _run(patterns: list[str], params: LifecycleParameters) -> list[list[int]]:
    """One track per pattern ('H' hit, 'M' miss, '.' not looked at); statuses after each look."""
    table = _table(len(patterns))
    steps = max(len(p) for p in patterns)
    out: list[list[int]] = [[] for _ in patterns]
    for s in range(steps):
        chars = [p[s] if s < len(p) else "." for p in patterns]
        looked = np.array([c in "HM" for c in chars])
        hit = np.array([c == "H" for c in chars])
        table.record_looks(looked, hit, float(s + 1), params)
        for i, c in enumerate(chars):
            if c != ".":
                out[i].append(int(table.status[i]))
    return out


def test_two_of_three_sequences():
    prm = LifecycleParameters(confirm_hits=2, confirm_looks=3, max_consecutive_misses=3)
    got = _run(["H", "MH", "MM", "HMMM", "HMHMMM", "M.H"], prm)
    assert got[0] == [C]  # creation hit + hit: 2 of 2
    assert got[1] == [T, C]  # H(creation) M H: 2 of 3
    assert got[2] == [T, D]  # H M M: 1 hit, no look left, cannot reach 2
    assert got[3] == [C, K, K, D]  # three consecutive misses delete
    assert got[4] == [C, K, C, K, K, D]  # a hit resets the miss count
    assert got[5] == [T, C]  # a step without a look changes nothing


def test_three_of_five_sequences():
    prm = LifecycleParameters(confirm_hits=3, confirm_looks=5, max_consecutive_misses=2)
    got = _run(["MHMH", "MMM", "HH", "HHMM"], prm)
    assert got[0] == [T, T, T, C]  # hits after looks 1..5: H M H M H -> 3 of 5 at the last look
    assert got[1] == [T, T, D]  # H M M M: 1 + 1 remaining look < 3
    assert got[2] == [T, C]  # H H H
    assert got[3] == [T, C, K, D]  # K = 2


def test_hit_history_and_counters():
    table = _table(1)
    for hit in (False, True, True, False):
        table.record_looks(np.array([True]), np.array([hit]), 1.0, LifecycleParameters(confirm_looks=16))
    # creation 1, then 0 1 1 0 with the latest in bit 0: 0b10110
    assert int(table.hits[0]) == 0b10110
    assert int(table.n_looks[0]) == 5 and int(table.n_updates[0]) == 3 and int(table.misses[0]) == 1


def test_ids_unique_never_reused_and_rows_aligned():
    table = TrackTable.empty()
    ids = table.add(np.zeros((5, 6)), np.broadcast_to(np.eye(6), (5, 6, 6)), 0.0)
    assert ids.tolist() == [1, 2, 3, 4, 5]
    table.x[:, 0] = table.track_id  # tag each row's state with its id
    table.P[:, 0, 0] = table.track_id
    table.remove(np.array([False, True, False, True, False]))
    assert table.track_id.tolist() == [1, 3, 5]
    more = table.add(np.zeros((3, 6)), np.broadcast_to(np.eye(6), (3, 6, 6)), 1.0)
    assert more.tolist() == [6, 7, 8]  # 2 and 4 are gone for good
    table.x[3:, 0] = more
    table.P[3:, 0, 0] = more
    table.status[0] = D
    assert table.purge().tolist() == [1]
    assert table.track_id.tolist() == [3, 5, 6, 7, 8]
    np.testing.assert_array_equal(table.x[:, 0], table.track_id)
    np.testing.assert_array_equal(table.P[:, 0, 0], table.track_id)
    np.testing.assert_array_equal(table.created_s, [0, 0, 1, 1, 1])
    assert all(len(getattr(table, c)) == 5 for c in TrackTable._COLUMNS)
    assert table.rows_of([5, 2, 8, 99]).tolist() == [1, -1, 4, -1]
    assert len(np.unique(np.r_[ids, more])) == 8


def test_limits_delete_by_covariance_and_time():
    prm = LifecycleParameters(max_position_sigma_m=1_000.0, max_time_since_update_s=30.0)
    table = _table(3)
    table.P[1, 2, 2] = 1_001.0**2  # one axis beyond the limit
    table.P[2] = np.nan  # a broken covariance is not kept either
    res = table.record_looks(np.zeros(3, bool), np.zeros(3, bool), 10.0, prm)
    assert res.deleted.tolist() == [False, True, True]
    table = _table(2)
    table.record_looks(np.array([True, True]), np.array([True, False]), 20.0, prm)
    res = table.record_looks(np.zeros(2, bool), np.zeros(2, bool), 40.0, prm)
    # track 1's last hit was its creation at t = 0: 40 s > 30 s; track 0 was hit at 20 s
    assert res.deleted.tolist() == [False, True]
    assert table.updated_s.tolist() == [20.0, 0.0]


def test_deleted_rows_are_frozen():
    table = _table(1)
    table.status[0] = D
    table.record_looks(np.array([True]), np.array([True]), 1.0)
    assert table.status[0] == D and table.n_looks[0] == 1


def test_parameters_validated():
    with pytest.raises(ValueError, match=r"1\.\.16"):
        LifecycleParameters(confirm_looks=17)
    with pytest.raises(ValueError, match="confirm_hits"):
        LifecycleParameters(confirm_hits=4, confirm_looks=3)


# --- track quality -------------------------------------------------------------------------------


def _iso(radius95_m: np.ndarray) -> np.ndarray:
    """Covariances (N, 6, 6) whose 95 % radius is exactly radius95_m (σ = r / R95_SCALE on each axis)."""
    sig2 = (np.asarray(radius95_m) / R95_SCALE) ** 2
    return sig2[:, None, None] * np.eye(6)


def test_tq_table_shape():
    # 20 NM (37,040 m) to 25 ft (7.62 m), strictly decreasing, geometric
    assert TQ_RADIUS_THRESHOLDS_M[0] == pytest.approx(37_040.0)
    assert TQ_RADIUS_THRESHOLDS_M[-1] == pytest.approx(7.62)
    ratio = TQ_RADIUS_THRESHOLDS_M[:-1] / TQ_RADIUS_THRESHOLDS_M[1:]
    np.testing.assert_allclose(ratio, ratio[0])
    assert len(TQ_RADIUS_THRESHOLDS_M) == 15


def test_tq_extremes_and_exact_boundaries():
    assert track_quality(_iso(np.array([0.01])))[0] == 15
    assert track_quality(_iso(np.array([1e6])))[0] == 0
    assert track_quality(np.full((1, 6, 6), np.nan))[0] == 0
    thr = TQ_RADIUS_THRESHOLDS_M
    for k in range(1, 16):
        at = track_quality(_iso(np.array([thr[k - 1] * (1 - 1e-9)])))[0]
        above = track_quality(_iso(np.array([thr[k - 1] * (1 + 1e-9)])))[0]
        assert (at, above) == (k, k - 1)


def test_tq_monotone_in_covariance():
    rng = np.random.default_rng(9)
    a = rng.standard_normal((200, 6, 6))
    base = a @ np.swapaxes(a, 1, 2) * 100.0
    scales = np.geomspace(1e-6, 1e8, 60)
    tq = np.stack([track_quality(base * s) for s in scales], axis=1)
    assert np.all(np.diff(tq.astype(int), axis=1) <= 0)
    # adding any PSD matrix never raises TQ (Loewner order)
    b = rng.standard_normal((200, 6, 6))
    assert np.all(track_quality(base + b @ np.swapaxes(b, 1, 2)) <= track_quality(base))
    # the radius uses the worst axis: one stretched axis decides
    p = np.eye(6)[None] * 1.0
    p[0, 1, 1] = 1e6
    assert position_radius95_m(p)[0] == pytest.approx(R95_SCALE * 1e3)


def test_table_quality_matches_function():
    table = _table(3, sigma_m=50.0)
    np.testing.assert_array_equal(table.quality(), track_quality(table.P))


def test_closed_form_eigenvalue_matches_eigvalsh():
    # fast path (Smith 1961 closed form) against the reference path (LAPACK eigvalsh)
    rng = np.random.default_rng(10)
    a = rng.standard_normal((2_000, 3, 3))
    spd = a @ np.swapaxes(a, 1, 2)
    rot = np.linalg.qr(rng.standard_normal((4, 3, 3)))[0]
    special = np.stack(
        [
            np.eye(3) * 7.0,  # triple eigenvalue
            rot[0] @ np.diag([5.0, 5.0, 1.0]) @ rot[0].T,  # double, largest
            rot[1] @ np.diag([5.0, 1.0, 1.0]) @ rot[1].T,  # double, smallest
            rot[2] @ np.diag([1e-6, 0.0, 0.0]) @ rot[2].T,  # rank 1
            rot[3] @ np.diag([5_000.0**2, 30.0**2, 30.0**2]) @ rot[3].T,  # OTH-like dynamic range
        ]
    )
    mats = np.concatenate([spd, special])
    ref = np.linalg.eigvalsh(mats)[:, -1]
    # acos is ill-conditioned at r = ±1 (a repeated largest eigenvalue): ~√ε relative there, i.e. a
    # 1e-8 relative error in a variance — a nanometre on a 100 m σ, nothing TQ or limits can see
    np.testing.assert_allclose(largest_eigenvalue_3x3(mats), ref, rtol=1e-7, atol=1e-12)
