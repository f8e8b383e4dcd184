"""Track-to-track distances and association of `kizuna.fusion.t2t` against independent values.

References: hand-worked χ² distances and a hand-worked assignment where the nearest neighbour is
wrong; an all-pairs dense computation with explicit inverses (the pre-gate must lose nothing); and a
known permutation of noisy duplicates (two sources tracking the same objects). Every draw is seeded.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chi2

from kizuna.fusion import t2t

EARTH_M = np.array([6_378_137.0, 0.0, 0.0])  # a point on the equator, ECEF


def unit_tracks(pos: list[list[float]], vel_var: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """6-D tracks at the given positions (metres), zero velocity, P = diag(1 m², …, vel_var m²/s²)."""
    x = np.zeros((len(pos), 6))
    x[:, :3] = np.asarray(pos, dtype=float)
    p = np.broadcast_to(np.diag([1.0, 1.0, 1.0, vel_var, vel_var, vel_var]), (len(pos), 6, 6)).copy()
    return x, p


def random_tracks(rng: np.random.Generator, truth: np.ndarray, sigma_pos_m, sigma_vel_m_per_s):
    """Noisy copies of ``truth (N, 6)`` with random correlated covariances and errors drawn from them."""
    n = len(truth)
    q, _ = np.linalg.qr(rng.normal(size=(n, 3, 3)))
    p = np.zeros((n, 6, 6))
    pos_var = (np.asarray(sigma_pos_m)[:, None] * rng.uniform(0.3, 1.0, (n, 3))) ** 2
    p[:, :3, :3] = (q * pos_var[:, None, :]) @ np.swapaxes(q, 1, 2)
    p[:, 3:, 3:] = np.eye(3) * (np.asarray(sigma_vel_m_per_s) ** 2)[:, None, None]
    p = 0.5 * (p + np.swapaxes(p, 1, 2))
    x = truth + np.einsum("nij,nj->ni", np.linalg.cholesky(p), rng.normal(size=(n, 6)))
    return x, p


def dense_d2(xa, pa, xb, pb, dims):
    """Every pair's Δᵀ (Pa + Pb)⁻¹ Δ with explicit inverses: the (Na, Nb) reference."""
    delta = xa[:, None, :dims] - xb[None, :, :dims]
    s_inv = np.linalg.inv(pa[:, None, :dims, :dims] + pb[None, :, :dims, :dims])
    return np.einsum("abi,abij,abj->ab", delta, s_inv, delta)


def test_gate_is_the_chi2_quantile_and_checks_its_arguments():
    assert t2t.gate(6, 0.999) == pytest.approx(22.4577, abs=1e-4)  # χ²₆ table, 0.1 % upper tail
    assert t2t.gate(3, 0.999) == chi2.ppf(0.999, 3)
    assert t2t.gate(3, 0.999) is t2t.gate(3, 0.999)  # cached
    with pytest.raises(ValueError, match="probability"):
        t2t.gate(3, 1.0)
    with pytest.raises(ValueError, match="dims"):
        t2t.gate(0, 0.9)


def test_hand_computed_distances():
    # a0 at the origin; b0 offset (1, 2, 2) m with velocity (0, 0, 3) m/s. Pa = I, Pb = diag(1,1,1,2,2,2):
    # S = diag(2,2,2,3,3,3), so d² = 9/2 (position) + 9/3 (velocity) = 7.5; position only 4.5.
    xa, pa = unit_tracks([[0.0, 0.0, 0.0]])
    xb, pb = unit_tracks([[1.0, 2.0, 2.0]], vel_var=2.0)
    xb[0, 5] = 3.0
    at_earth = np.concatenate([EARTH_M, np.zeros(3)])  # far from the origin: no rounding trouble
    six = t2t.t2t_distances(xa + at_earth, pa, xb + at_earth, pb)
    np.testing.assert_array_equal(six.a_index, [0])
    np.testing.assert_array_equal(six.b_index, [0])
    assert six.d2[0] == pytest.approx(7.5, rel=1e-12)
    three = t2t.t2t_distances(xa, pa, xb, pb, dims=3)
    assert three.d2[0] == pytest.approx(4.5, rel=1e-12)


def test_hand_computed_assignment_beats_nearest_neighbour():
    # On the x axis, unit covariances (S = 2 I, d² = |Δ|²/2, γ₃ = χ²₃(0.999) ≈ 16.27):
    #   a0 = 0, b0 = √2, b1 = −2, a1 = √2 + √6  →  d²(a0,b0) = 1, d²(a0,b1) = 2, d²(a1,b0) = 3,
    #   d²(a1,b1) = (√2 + √6 + 2)²/2 ≈ 17.2 (not gated).
    # Nearest neighbour takes (a0, b0) and strands a1; the optimum takes (a0, b1) and (a1, b0):
    # Σ(d² − γ) = 5 − 2γ < 1 − γ.
    s2, s6 = np.sqrt(2.0), np.sqrt(6.0)
    xa, pa = unit_tracks([[0.0, 0, 0], [s2 + s6, 0, 0]])
    xb, pb = unit_tracks([[s2, 0, 0], [-2.0, 0, 0]])
    pairs = t2t.t2t_distances(xa, pa, xb, pb, dims=3)
    np.testing.assert_array_equal(pairs.a_index, [0, 0, 1])
    np.testing.assert_array_equal(pairs.b_index, [0, 1, 0])
    np.testing.assert_allclose(pairs.d2, [1.0, 2.0, 3.0], rtol=1e-12)
    m = t2t.associate_tracks(xa, pa, xb, pb, dims=3)
    np.testing.assert_array_equal(m.a_index, [0, 1])
    np.testing.assert_array_equal(m.b_index, [1, 0])
    np.testing.assert_allclose(m.d2, [2.0, 3.0], rtol=1e-12)
    assert m.unmatched_a.size == 0 and m.unmatched_b.size == 0
    # Forbid (a0, b1) by equal labels: the best left is (a0, b0) alone, a1 and b1 unmatched.
    m = t2t.associate_tracks(xa, pa, xb, pb, dims=3, forbid=(np.array(["JP", "US"]), np.array(["AU", "JP"])))
    np.testing.assert_array_equal(m.a_index, [0])
    np.testing.assert_array_equal(m.b_index, [0])
    np.testing.assert_array_equal(m.unmatched_a, [1])
    np.testing.assert_array_equal(m.unmatched_b, [1])


@pytest.mark.parametrize("dims", [3, 6])
def test_distances_equal_brute_force_and_the_pre_gate_loses_nothing(dims):
    rng = np.random.default_rng(50)
    na, nb = 300, 250
    truth = np.zeros((na + nb, 6))
    truth[:, :3] = EARTH_M + rng.uniform(-30e3, 30e3, (na + nb, 3))
    truth[:, 3:] = rng.normal(0.0, 150.0, (na + nb, 3))
    sig_pos = 10.0 ** rng.uniform(2.0, 3.7, na + nb)  # 100 m – 5 km
    sig_pos[::50] = 30e3  # a few new tracks with huge covariances (one bucket of their own)
    xa, pa = random_tracks(rng, truth[:na], sig_pos[:na], rng.uniform(2, 40, na))
    xb, pb = random_tracks(rng, truth[na:], sig_pos[na:], rng.uniform(2, 40, nb))
    ref = dense_d2(xa, pa, xb, pb, dims)
    gamma = t2t.gate(dims, 0.999)
    got = t2t.t2t_distances(xa, pa, xb, pb, dims=dims)
    assert got.n_candidates < na * nb  # the pre-gate did prune
    found = np.zeros((na, nb), bool)
    found[got.a_index, got.b_index] = True
    np.testing.assert_allclose(got.d2, ref[got.a_index, got.b_index], rtol=1e-9)
    assert np.all(got.d2 <= gamma)
    margin = 1e-9 * gamma  # pairs within rounding of γ may go either way
    assert np.all(found[ref <= gamma - margin])  # nothing under the gate is lost
    assert not np.any(found[ref > gamma + margin])
    assert (ref <= gamma).sum() > 50  # the case has real work in it
    huge = sig_pos == 30e3
    assert huge[got.a_index].any() and huge[na + got.b_index].any()  # wide tracks on both sides gated
    assert np.all(np.diff(got.a_index * nb + got.b_index) > 0)  # sorted by (a, b), no duplicates


def permuted_duplicates(n=200, seed=60):
    """Two sources tracking the same n objects; source b's rows are a known permutation."""
    rng = np.random.default_rng(seed)
    truth = np.zeros((n, 6))
    # Dense and in formation (~2.7 km apart, velocities within ~20 m/s; σ 100–600 m, 3–15 m/s): about
    # 90 wrong pairs pass the gate, so many clusters hold several tracks and go to the solver.
    truth[:, :3] = EARTH_M + rng.uniform(-8e3, 8e3, (n, 3))
    truth[:, 3:] = rng.normal(0.0, 20.0, (n, 3))
    xa, pa = random_tracks(rng, truth, rng.uniform(100, 600, n), rng.uniform(3, 15, n))
    xb, pb = random_tracks(rng, truth, rng.uniform(100, 600, n), rng.uniform(3, 15, n))
    perm = rng.permutation(n)  # row j of b is object perm[j]
    return xa, pa, xb[perm], pb[perm], perm


def test_association_recovers_a_known_permutation():
    xa, pa, xb, pb, perm = permuted_duplicates()
    pairs = t2t.t2t_distances(xa, pa, xb, pb, gate_probability=0.9999)
    assert len(pairs.d2) > len(xa) + 50  # ambiguous pairs: clusters bigger than one pair are solved
    m = t2t.associate_tracks(xa, pa, xb, pb, gate_probability=0.9999)
    np.testing.assert_array_equal(m.a_index, np.arange(len(xa)))
    np.testing.assert_array_equal(perm[m.b_index], m.a_index)  # zero association errors
    assert m.unmatched_a.size == 0 and m.unmatched_b.size == 0


def test_forbid_labels_are_respected():
    xa, pa, xb, pb, perm = permuted_duplicates()
    n = len(xa)
    rng = np.random.default_rng(61)
    nation_a = rng.integers(0, 5, n)
    nation_b = rng.integers(0, 5, n)
    m = t2t.associate_tracks(xa, pa, xb, pb, gate_probability=0.9999, forbid=(nation_a, nation_b))
    assert not np.any(nation_a[m.a_index] == nation_b[m.b_index])
    allowed = nation_a[perm] != nation_b  # true pairs (perm[j], j) whose labels differ
    truly_matched = perm[m.b_index] == m.a_index
    assert truly_matched.sum() >= 0.95 * allowed.sum()
    # 2-D labels: each system track holds up to two nations (padded with −1); b's nation must be new.
    held = np.stack([nation_a, np.where(np.arange(n) % 3 == 0, (nation_a + 1) % 5, -1)], axis=1)
    m2 = t2t.associate_tracks(xa, pa, xb, pb, gate_probability=0.9999, forbid=(held, nation_b))
    assert not np.any((held[m2.a_index] == nation_b[m2.b_index][:, None]).any(axis=1))
    with pytest.raises(ValueError, match="label_a"):
        t2t.associate_tracks(xa, pa, xb, pb, forbid=(nation_a[:-1], nation_b))


def test_empty_inputs_and_bad_rows():
    x, p = unit_tracks([[0.0, 0, 0], [5.0, 0, 0]])
    x0, p0 = np.zeros((0, 6)), np.zeros((0, 6, 6))
    for xa, pa, xb, pb in [(x0, p0, x, p), (x, p, x0, p0), (x0, p0, x0, p0)]:
        pairs = t2t.t2t_distances(xa, pa, xb, pb)
        assert pairs.a_index.shape == pairs.b_index.shape == pairs.d2.shape == (0,)
        m = t2t.associate_tracks(xa, pa, xb, pb)
        assert m.a_index.size == 0
        np.testing.assert_array_equal(m.unmatched_a, np.arange(len(xa)))
        np.testing.assert_array_equal(m.unmatched_b, np.arange(len(xb)))
    xb, pb = x.copy(), p.copy()
    xb[0, 4] = np.nan
    pb[1] = -pb[1]  # not positive definite (nor is Pa + Pb)
    m = t2t.associate_tracks(x, p, xb, pb)
    assert m.a_index.size == 0
    np.testing.assert_array_equal(m.unmatched_b, [0, 1])
    with pytest.raises(ValueError, match="dims"):
        t2t.t2t_distances(x, p, x, p, dims=2)
    with pytest.raises(ValueError, match="covariances"):
        t2t.t2t_distances(x, p[:, :3, :3], x, p)


def test_ten_thousand_a_side_stays_sparse():
    # 10,000 × 10,000 (10⁸ pairs dense): the pre-gate keeps the χ² work near one candidate per track.
    rng = np.random.default_rng(70)
    n = 10_000
    truth = np.zeros((n, 6))
    truth[:, :3] = EARTH_M + rng.uniform(-1e6, 1e6, (n, 3))
    truth[:, 3:] = rng.normal(0.0, 200.0, (n, 3))
    xa, pa = random_tracks(rng, truth, rng.uniform(30, 1000, n), rng.uniform(2, 30, n))
    xb, pb = random_tracks(rng, truth, rng.uniform(30, 1000, n), rng.uniform(2, 30, n))
    pairs = t2t.t2t_distances(xa, pa, xb, pb)
    assert pairs.n_candidates < 2 * n
    m = t2t.associate_tracks(xa, pa, xb, pb)
    assert np.all(m.a_index == m.b_index)
    assert len(m.a_index) >= 0.995 * n  # 0.1 % of true pairs fall outside a 0.999 gate
