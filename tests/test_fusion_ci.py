"""Covariance intersection of `kizuna.fusion.ci` against independent values.

References: the CI definition of S. J. Julier & J. K. Uhlmann, "A non-divergent estimation algorithm
in the presence of unknown correlations", ACC 1997 — P⁻¹ = ω Pa⁻¹ + (1 − ω) Pb⁻¹ — evaluated here on
a brute-force grid of ω with explicit matrix inverses (not the module's simultaneous diagonalisation
and bisection); the 1-D closed form (the smaller variance wins, ω ∈ {0, 1}); and Monte Carlo NEES
judged with the χ² band of Bar-Shalom, Li & Kirubarajan 2001, eq. 5.4.2-7
(`kizuna.metrics.consistency`). Every random draw is seeded.
"""

from __future__ import annotations

import numpy as np
import pytest

from kizuna.fusion import ci
from kizuna.metrics.consistency import chi2_band, nees

OMEGA_GRID = np.linspace(0.0, 1.0, 10_001)  # 1e-4 spacing


def random_spd(rng: np.random.Generator, k: int, n: int, scale: float = 1.0) -> np.ndarray:
    """k random symmetric positive-definite n×n matrices with condition numbers up to ~1e3."""
    q, _ = np.linalg.qr(rng.normal(size=(k, n, n)))
    eig = scale * 10.0 ** rng.uniform(-1.5, 1.5, size=(k, n))
    m = (q * eig[:, None, :]) @ np.swapaxes(q, 1, 2)
    return 0.5 * (m + np.swapaxes(m, 1, 2))  # symmetric to the bit


def grid_ci(xa, pa, xb, pb, criterion):
    """CI by brute force over OMEGA_GRID with explicit inverses: (ω*, x(ω*), P(ω*)) for one pair."""
    ia, ib = np.linalg.inv(pa), np.linalg.inv(pb)
    w = OMEGA_GRID[:, None, None]
    p = np.linalg.inv(w * ia + (1.0 - w) * ib)
    cost = np.trace(p, axis1=1, axis2=2) if criterion == "trace" else np.linalg.slogdet(p)[1]
    k = int(np.argmin(cost))
    om = OMEGA_GRID[k]
    return om, p[k] @ (om * ia @ xa + (1.0 - om) * ib @ xb), p[k]


def explicit_ci(xa, pa, xb, pb, omega):
    """The CI equations at a given ω, with explicit inverses."""
    ia, ib = np.linalg.inv(pa), np.linalg.inv(pb)
    p = np.linalg.inv(omega * ia + (1.0 - omega) * ib)
    return p @ (omega * ia @ xa + (1.0 - omega) * ib @ xb), p


# --- Closed forms and brute force ----------------------------------------------------------------


@pytest.mark.parametrize("criterion", ["trace", "det"])
def test_scalar_picks_the_smaller_variance_exactly(criterion):
    # 1-D: P(ω) = 1 / (ω/a + (1 − ω)/b) is monotone in ω, so CI returns the better estimate as is.
    xa = np.array([[10.0], [10.0], [-3.0]])
    pa = np.array([[[1.0]], [[9.0]], [[2.0]]])
    xb = np.array([[12.0], [12.0], [5.0]])
    pb = np.array([[[4.0]], [[2.25]], [[2.0]]])
    r = ci.covariance_intersection(xa, pa, xb, pb, criterion=criterion)
    np.testing.assert_array_equal(r.omega, [1.0, 0.0, 0.5])  # equal variances: every ω ties → ½
    np.testing.assert_array_equal(r.x[:2, 0], [10.0, 12.0])
    np.testing.assert_array_equal(r.P[:2, 0, 0], [1.0, 2.25])
    assert r.x[2, 0] == pytest.approx(1.0) and r.P[2, 0, 0] == pytest.approx(2.0)


@pytest.mark.parametrize("criterion", ["trace", "det"])
@pytest.mark.parametrize("angle_deg", [0.0, 30.0, 117.0])
def test_orthogonal_long_axes_match_a_grid_search(criterion, angle_deg):
    # Long axes at right angles (metres²): the intersection is far smaller than either ellipse.
    c, s = np.cos(np.radians(angle_deg)), np.sin(np.radians(angle_deg))
    rot = np.array([[c, -s], [s, c]])
    pa = rot @ np.diag([4.0, 100.0]) @ rot.T
    pb = rot @ np.diag([64.0, 9.0]) @ rot.T
    xa, xb = np.array([1.0, 2.0]), np.array([-3.0, 5.0])
    r = ci.covariance_intersection(xa[None], pa[None], xb[None], pb[None], criterion=criterion)
    om_grid, _, p_grid = grid_ci(xa, pa, xb, pb, criterion)
    assert 0.0 < r.omega[0] < 1.0
    assert abs(r.omega[0] - om_grid) <= 1e-3
    x_ref, p_ref = explicit_ci(xa, pa, xb, pb, r.omega[0])
    np.testing.assert_allclose(r.x[0], x_ref, rtol=0, atol=1e-9)  # metres
    np.testing.assert_allclose(r.P[0], p_ref, rtol=0, atol=1e-9)
    assert np.trace(r.P[0]) <= min(np.trace(pa), np.trace(pb))
    # The optimum is at least as good as the best grid point (to the grid's own resolution).
    if criterion == "trace":
        assert np.trace(r.P[0]) <= np.trace(p_grid) + 1e-9
    else:
        assert np.linalg.det(r.P[0]) <= np.linalg.det(p_grid) * (1 + 1e-9)


@pytest.mark.parametrize("criterion", ["trace", "det"])
def test_random_6d_pairs_match_grid_search(criterion):
    rng = np.random.default_rng(11)
    k = 8
    pa, pb = random_spd(rng, k, 6), random_spd(rng, k, 6)
    xa, xb = rng.normal(size=(k, 6)), rng.normal(size=(k, 6))
    r = ci.covariance_intersection(xa, pa, xb, pb, criterion=criterion)
    for i in range(k):
        om_grid, _, _ = grid_ci(xa[i], pa[i], xb[i], pb[i], criterion)
        assert abs(r.omega[i] - om_grid) <= 1e-3
        x_ref, p_ref = explicit_ci(xa[i], pa[i], xb[i], pb[i], r.omega[i])
        np.testing.assert_allclose(r.x[i], x_ref, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(r.P[i], p_ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(r.P, np.swapaxes(r.P, 1, 2))  # symmetrised exactly


def test_ci_is_never_more_confident_than_naive_fusion():
    # For every ω, ω Pa⁻¹ + (1 − ω) Pb⁻¹ ≤ Pa⁻¹ + Pb⁻¹, so P_CI − (Pa⁻¹ + Pb⁻¹)⁻¹ is PSD.
    rng = np.random.default_rng(5)
    k = 300
    pa, pb = random_spd(rng, k, 6, 1e4), random_spd(rng, k, 6, 1e4)
    xa, xb = rng.normal(size=(k, 6)), rng.normal(size=(k, 6))
    p_naive = np.linalg.inv(np.linalg.inv(pa) + np.linalg.inv(pb))
    for criterion in ci.CRITERIA:
        r = ci.covariance_intersection(xa, pa, xb, pb, criterion=criterion)
        gap = np.linalg.eigvalsh(r.P - p_naive)[:, 0]
        scale = np.linalg.eigvalsh(r.P)[:, -1]
        assert np.all(gap >= -1e-9 * scale)


def test_naive_fusion_matches_the_information_form():
    rng = np.random.default_rng(6)
    pa, pb = random_spd(rng, 50, 6), random_spd(rng, 50, 6)
    xa, xb = rng.normal(size=(50, 6)), rng.normal(size=(50, 6))
    ia, ib = np.linalg.inv(pa), np.linalg.inv(pb)
    p_ref = np.linalg.inv(ia + ib)
    x_ref = np.einsum("nij,nj->ni", p_ref, np.einsum("nij,nj->ni", ia, xa) + np.einsum("nij,nj->ni", ib, xb))
    x, p = ci.naive_fusion(xa, pa, xb, pb)
    np.testing.assert_allclose(p, p_ref, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(x, x_ref, rtol=1e-8, atol=1e-9)


def test_dominant_estimate_is_returned_exactly():
    # Pb = Pa + (PSD): Pa is better in every direction, so ω = 1 and CI returns (xa, Pa) bit for bit.
    rng = np.random.default_rng(7)
    pa = random_spd(rng, 20, 6, 100.0)
    pb = pa + random_spd(rng, 20, 6, 10.0)
    xa, xb = rng.normal(size=(20, 6)), rng.normal(size=(20, 6))
    for criterion in ci.CRITERIA:
        r = ci.covariance_intersection(xa, pa, xb, pb, criterion=criterion)
        np.testing.assert_array_equal(r.omega, 1.0)
        np.testing.assert_array_equal(r.x, xa)
        np.testing.assert_array_equal(r.P, pa)
        r = ci.covariance_intersection(xb, pb, xa, pa, criterion=criterion)
        np.testing.assert_array_equal(r.omega, 0.0)
        np.testing.assert_array_equal(r.x, xa)


def test_bad_rows_give_nan_and_leave_the_others_alone():
    rng = np.random.default_rng(8)
    pa, pb = random_spd(rng, 5, 6), random_spd(rng, 5, 6)
    xa, xb = rng.normal(size=(5, 6)), rng.normal(size=(5, 6))
    good = ci.covariance_intersection(xa, pa, xb, pb)
    xa2, pa2, pb2 = xa.copy(), pa.copy(), pb.copy()
    xa2[1, 2] = np.nan
    pa2[2] = -pa2[2]  # negative definite
    pb2[3] = np.diag([1.0, 1.0, 1.0, 1.0, 1.0, 0.0])  # singular
    r = ci.covariance_intersection(xa2, pa2, xb, pb2)
    bad = np.array([False, True, True, True, False])
    assert np.isnan(r.omega[bad]).all() and np.isnan(r.x[bad]).all() and np.isnan(r.P[bad]).all()
    np.testing.assert_allclose(r.x[~bad], good.x[~bad], rtol=1e-12)
    np.testing.assert_allclose(r.P[~bad], good.P[~bad], rtol=1e-12)
    x_n, p_n = ci.naive_fusion(xa2, pa2, xb, -pb)
    assert np.isnan(x_n).all() and np.isnan(p_n).all()


def test_inputs_are_checked():
    x, p = np.zeros((2, 3)), np.broadcast_to(np.eye(3), (2, 3, 3))
    with pytest.raises(ValueError, match=r"'trace', 'det'"):
        ci.covariance_intersection(x, p, x, p, criterion="max")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"x\[None\]"):
        ci.covariance_intersection(x[0], p[0], x[0], p[0])
    with pytest.raises(ValueError, match="at least one"):
        ci.fuse_estimates(np.zeros((0, 3)), np.zeros((0, 3, 3)))
    with pytest.raises(ValueError, match="integer labels"):
        ci.fuse_groups(x, p, np.array([0.5, 1.5]))
    x0, p0 = np.zeros((0, 3)), np.zeros((0, 3, 3))
    empty = ci.covariance_intersection(x0, p0, x0, p0)
    assert empty.x.shape == (0, 3) and empty.P.shape == (0, 3, 3) and empty.omega.shape == (0,)


# --- Consistency: the reason CI exists --------------------------------------------------------------

TRIALS = 2_000
TRUTH = np.array([6_378_137.0 + 9_000.0, 120_000.0, -40_000.0, 210.0, -35.0, 4.0])  # ECEF m, m/s


def correlated_pair(common_scale: float):
    """Covariances (m², m²/s²) of two estimates with errors e_c + e_a and e_c + e_b.

    Pc is the shared part (common process noise and a common sensor), Qa and Qb the private parts,
    of different shapes; each estimate's own covariance Pc + Q is its true error covariance.
    """
    rng = np.random.default_rng(21)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    pc = np.zeros((6, 6))
    pc[:3, :3] = q @ np.diag([300.0, 200.0, 120.0]) ** 2 @ q.T
    pc[3:, 3:] = np.diag([6.0, 4.0, 3.0]) ** 2
    pc[:3, 3:] = pc[3:, :3] = 0.3 * np.diag([300.0 * 6.0, 200.0 * 4.0, 120.0 * 3.0])  # position-velocity
    qa = np.diag([150.0, 60.0, 300.0, 3.0, 1.0, 2.0]) ** 2
    qb = np.diag([60.0, 250.0, 90.0, 1.0, 3.0, 1.5]) ** 2
    return common_scale * pc, qa, qb


def monte_carlo(common_scale: float):
    pc, qa, qb = correlated_pair(common_scale)
    rng = np.random.default_rng(22)
    common = rng.multivariate_normal(np.zeros(6), pc, TRIALS) if common_scale else np.zeros((TRIALS, 6))
    xa = TRUTH + common + rng.multivariate_normal(np.zeros(6), qa, TRIALS)
    xb = TRUTH + common + rng.multivariate_normal(np.zeros(6), qb, TRIALS)
    pa = np.broadcast_to(pc + qa, (TRIALS, 6, 6))
    pb = np.broadcast_to(pc + qb, (TRIALS, 6, 6))
    return xa, pa, xb, pb


def test_naive_fusion_is_inconsistent_and_ci_is_conservative_with_correlated_errors():
    xa, pa, xb, pb = monte_carlo(common_scale=1.0)
    lower, upper = chi2_band(6, TRIALS, 0.95)  # ≈ [5.85, 6.15]
    # Sanity of the set-up: each estimate alone is consistent.
    assert lower <= nees(xa - TRUTH, pa).mean() <= upper
    assert lower <= nees(xb - TRUTH, pb).mean() <= upper
    x_naive, p_naive = ci.naive_fusion(xa, pa, xb, pb)
    naive_nees = nees(x_naive - TRUTH, p_naive).mean()
    assert naive_nees > 1.5 * upper  # over-confident: it counts the shared error twice
    for criterion in ci.CRITERIA:
        fused = ci.covariance_intersection(xa, pa, xb, pb, criterion=criterion)
        assert nees(fused.x - TRUTH, fused.P).mean() <= upper


def test_naive_fusion_is_consistent_with_independent_errors():
    xa, pa, xb, pb = monte_carlo(common_scale=0.0)
    lower, upper = chi2_band(6, TRIALS, 0.95)
    x_naive, p_naive = ci.naive_fusion(xa, pa, xb, pb)
    assert lower <= nees(x_naive - TRUTH, p_naive).mean() <= upper  # the test can pass a right filter
    fused = ci.covariance_intersection(xa, pa, xb, pb)
    assert nees(fused.x - TRUTH, fused.P).mean() <= upper  # CI stays conservative (below the band)


# --- K estimates -----------------------------------------------------------------------------------


def test_fuse_estimates_one_and_two():
    rng = np.random.default_rng(30)
    p = random_spd(rng, 2, 6)
    x = rng.normal(size=(2, 6))
    x1, p1 = ci.fuse_estimates(x[:1], p[:1])
    np.testing.assert_array_equal(x1, x[0])
    np.testing.assert_array_equal(p1, p[0])
    x2, p2 = ci.fuse_estimates(x, p, criterion="det")
    pair = ci.covariance_intersection(x[:1], p[:1], x[1:], p[1:], criterion="det")
    np.testing.assert_array_equal(x2, pair.x[0])
    np.testing.assert_array_equal(p2, pair.P[0])


def test_fuse_estimates_of_three_is_sequential_ci_and_beats_each_input():
    rng = np.random.default_rng(31)
    p = random_spd(rng, 3, 4)
    x = rng.normal(size=(3, 4))
    xf, pf = ci.fuse_estimates(x, p)
    first = ci.covariance_intersection(x[:1], p[:1], x[1:2], p[1:2])
    second = ci.covariance_intersection(first.x, first.P, x[2:], p[2:])
    np.testing.assert_allclose(xf, second.x[0], rtol=1e-12)
    assert np.trace(pf) <= np.trace(p, axis1=1, axis2=2).min()


@pytest.mark.parametrize("criterion", ["trace", "det"])
def test_fuse_groups_equals_a_loop_of_fuse_estimates(criterion):
    rng = np.random.default_rng(40)
    sizes = rng.integers(1, 5, size=300)  # groups of 1–4 rows
    ids = rng.choice(np.arange(-500, 5_000), size=len(sizes), replace=False)
    group = np.repeat(ids, sizes)
    perm = rng.permutation(len(group))  # rows of one group scattered through the batch
    group = group[perm]
    x = rng.normal(size=(len(group), 6)) * 100.0
    p = random_spd(rng, len(group), 6, 1e3)
    got_ids, got_x, got_p = ci.fuse_groups(x, p, group, criterion=criterion)
    np.testing.assert_array_equal(got_ids, np.sort(ids))
    for k, g in enumerate(got_ids):
        rows = np.flatnonzero(group == g)  # order of appearance
        ref_x, ref_p = ci.fuse_estimates(x[rows], p[rows], criterion=criterion)
        np.testing.assert_allclose(got_x[k], ref_x, rtol=1e-10, atol=1e-9)
        np.testing.assert_allclose(got_p[k], ref_p, rtol=1e-10, atol=1e-9)
        if len(rows) == 1:
            np.testing.assert_array_equal(got_x[k], x[rows[0]])
            np.testing.assert_array_equal(got_p[k], p[rows[0]])


def test_fuse_groups_empty_and_bad_member():
    ids, x, p = ci.fuse_groups(np.zeros((0, 6)), np.zeros((0, 6, 6)), np.zeros(0, np.int64))
    assert ids.shape == (0,) and x.shape == (0, 6) and p.shape == (0, 6, 6)
    rng = np.random.default_rng(41)
    xs, ps = rng.normal(size=(4, 6)), random_spd(rng, 4, 6)
    xs[1] = np.nan
    ids, x, p = ci.fuse_groups(xs, ps, np.array([7, 7, 3, 3]))
    np.testing.assert_array_equal(ids, [3, 7])
    assert np.isfinite(x[0]).all() and np.isnan(x[1]).all() and np.isnan(p[1]).all()
