"""Numba kernels for the tracker's per-frame hot spots, each the fused twin of a NumPy reference.

At a few hundred tracks a frame is not limited by arithmetic but by the fixed cost of ~100 small
NumPy calls (each allocates, checks shapes and loops over a (N, 3, 3) stack once). The kernels
below fuse one stage into one compiled loop over rows. The NumPy code in `filters`,
`association`, `lifecycle` and `initiation` stays the reference: the public functions call a kernel
only when it applies (constant-velocity model, ``position`` measurements, finite inputs, …) and
``ENABLED`` is true, and ``tests/test_tracking_kernels.py`` checks kernel against reference on random
inputs (to ~1e-12 relative; exactly for graph labels and pair sets) and runs the public functions
with the kernels on and off.

``KIZUNA_NUMBA=0`` in the environment (read once at import) turns every kernel off; tests
monkeypatch `ENABLED`. Kernels compile on first use (``cache=True``: later processes load the
compiled code from ``__pycache__``).

| kernel | reference |
| --- | --- |
| `cv_predict` | `filters.predict` with `models.ConstantVelocity` (F P Fᵀ + Q, Bar-Shalom eq. 6.2.2-12) |
| `position_gate` | `association.chi2_gate` for ``position`` pairs (d² and ln|S|, S = P_pos + R) |
| `position_update` | `filters.ekf_update` for ``position`` (Joseph form, Bar-Shalom eq. 5.2.3-18) |
| `component_labels` | `scipy.sparse.csgraph.connected_components` (undirected), same labels |
| `max_eig_3x3` | `association._max_eig`, `lifecycle.position_sigma_max_m` (Smith 1961) |
| `ball_pairs_3d`, `sweep_pairs_3d` | `association.coarse_candidates`' tree query + per-pair cut (3-D) |
| `speed_pairs` | `initiation.pair_by_speed`'s tree query, brute force for small M1·M2 |
| `record_looks` | `lifecycle.TrackTable.record_looks` (M-of-N bookkeeping, before the limits) |
"""

from __future__ import annotations

import math
import os

import numpy as np
from numba import njit

__all__ = [
    "BRUTE_FORCE_MAX_PAIRS",
    "ENABLED",
    "ball_pairs_3d",
    "component_labels",
    "cv_predict",
    "max_eig_3x3",
    "position_gate",
    "position_update",
    "record_looks",
    "speed_pairs",
    "sweep_pairs_3d",
]

ENABLED: bool = os.environ.get("KIZUNA_NUMBA", "1").strip() != "0"
"""Use the kernels (``KIZUNA_NUMBA=0`` at import turns them off; tests monkeypatch this)."""

BRUTE_FORCE_MAX_PAIRS = 250_000
"""Above this many (track, detection) or (point, point) pairs the k-d tree query is cheaper than
testing every pair (a few ns each)."""

_LOG_2PI = math.log(2.0 * math.pi)


# --- Predict -------------------------------------------------------------------------------------


@njit(cache=True)
def cv_predict(x, p, dt_s, q_m2_per_s3):  # type: ignore[no-untyped-def]
    """Constant-velocity predict of ``x (N, 6)``, ``P (N, 6, 6)`` over ``dt_s (N,)``:
    x⁻ = F x, P⁻ = sym(F P Fᵀ + Q), F = [[I, Δt I], [0, I]], Q per axis q [[Δt³/3, Δt²/2], [Δt²/2, Δt]]
    (`models.cv_transition`, `models.cv_process_noise`). Dense products, as the reference."""
    n = x.shape[0]
    x_out = np.empty((n, 6))
    p_out = np.empty((n, 6, 6))
    f = np.zeros((6, 6))
    fp = np.empty((6, 6))
    m = np.empty((6, 6))
    for r in range(n):
        t = dt_s[r]
        f[:, :] = 0.0
        for i in range(6):
            f[i, i] = 1.0
        for i in range(3):
            f[i, i + 3] = t
        for i in range(6):
            s = 0.0
            for j in range(6):
                s += f[i, j] * x[r, j]
            x_out[r, i] = s
        for i in range(6):
            for j in range(6):
                s = 0.0
                for k in range(6):
                    s += f[i, k] * p[r, k, j]
                fp[i, j] = s
        for i in range(6):
            for j in range(6):
                s = 0.0
                for k in range(6):
                    s += fp[i, k] * f[j, k]
                m[i, j] = s
        q00 = t**3 / 3.0 * q_m2_per_s3
        q01 = t**2 / 2.0 * q_m2_per_s3
        q11 = t * q_m2_per_s3
        for a in range(3):
            m[a, a] += q00
            m[a, a + 3] += q01
            m[a + 3, a] += q01
            m[a + 3, a + 3] += q11
        for i in range(6):
            for j in range(6):
                p_out[r, i, j] = 0.5 * (m[i, j] + m[j, i])
    return x_out, p_out


# --- 3 × 3 helpers -------------------------------------------------------------------------------


@njit(cache=True)
def _det3(s):  # type: ignore[no-untyped-def]
    return (
        s[0, 0] * (s[1, 1] * s[2, 2] - s[1, 2] * s[2, 1])
        - s[0, 1] * (s[1, 0] * s[2, 2] - s[1, 2] * s[2, 0])
        + s[0, 2] * (s[1, 0] * s[2, 1] - s[1, 1] * s[2, 0])
    )


@njit(cache=True)
def _inv3(s, det, out):  # type: ignore[no-untyped-def]
    """S⁻¹ by the adjugate (cofactors / det)."""
    out[0, 0] = (s[1, 1] * s[2, 2] - s[1, 2] * s[2, 1]) / det
    out[0, 1] = (s[0, 2] * s[2, 1] - s[0, 1] * s[2, 2]) / det
    out[0, 2] = (s[0, 1] * s[1, 2] - s[0, 2] * s[1, 1]) / det
    out[1, 0] = (s[1, 2] * s[2, 0] - s[1, 0] * s[2, 2]) / det
    out[1, 1] = (s[0, 0] * s[2, 2] - s[0, 2] * s[2, 0]) / det
    out[1, 2] = (s[0, 2] * s[1, 0] - s[0, 0] * s[1, 2]) / det
    out[2, 0] = (s[1, 0] * s[2, 1] - s[1, 1] * s[2, 0]) / det
    out[2, 1] = (s[0, 1] * s[2, 0] - s[0, 0] * s[2, 1]) / det
    out[2, 2] = (s[0, 0] * s[1, 1] - s[0, 1] * s[1, 0]) / det


@njit(cache=True)
def _quad3(sinv, nu):  # type: ignore[no-untyped-def]
    d = 0.0
    for i in range(3):
        for j in range(3):
            d += nu[i] * sinv[i, j] * nu[j]
    return d


# --- Gate ----------------------------------------------------------------------------------------


@njit(cache=True)
def position_gate(x, p, z, cov, track_index, detection_index):  # type: ignore[no-untyped-def]
    """d² = νᵀ S⁻¹ ν and ln|S| ``(K,)`` for ``position`` pairs: ν = z − x[:3], S = sym(P[:3, :3] + R).

    NaN where S or ν is not finite or |S| ≤ 0, as `association.chi2_gate`; like its dense H P Hᵀ,
    a non-finite entry anywhere in the track's P makes S non-finite."""
    k = track_index.shape[0]
    n = p.shape[1]
    d2 = np.empty(k)
    log_det = np.empty(k)
    s = np.empty((3, 3))
    sinv = np.empty((3, 3))
    nu = np.empty(3)
    for e in range(k):
        t = track_index[e]
        d = detection_index[e]
        finite = True
        for i in range(n):
            for j in range(n):
                if not math.isfinite(p[t, i, j]):
                    finite = False
        for i in range(3):
            nu[i] = z[d, i] - x[t, i]
            if not math.isfinite(nu[i]):
                finite = False
            for j in range(3):
                s[i, j] = 0.5 * ((p[t, i, j] + cov[d, i, j]) + (p[t, j, i] + cov[d, j, i]))
                if not math.isfinite(s[i, j]):
                    finite = False
        det = _det3(s) if finite else math.nan
        if not finite or not det > 0.0:
            d2[e] = math.nan
            log_det[e] = math.nan
            continue
        _inv3(s, det, sinv)
        d2[e] = _quad3(sinv, nu)
        log_det[e] = math.log(det)
    return d2, log_det


# --- Update --------------------------------------------------------------------------------------


@njit(cache=True)
def position_update(x, p, z, cov):  # type: ignore[no-untyped-def]
    """Joseph-form Kalman update of row i of ``x (M, n)``, ``P (M, n, n)`` with the ``position``
    detection row i (H = [I₃ 0]): S = sym(P[:3, :3] + R), K = P Hᵀ S⁻¹, x⁺ = x + K ν,
    P⁺ = sym((I − KH) P (I − KH)ᵀ + K R Kᵀ) (Bar-Shalom eq. 5.2.3-18). Returns x⁺, P⁺, ν, S, NIS,
    log N(ν; 0, S), and ``ok``: False when some S is not positive definite (the caller then runs
    the reference, which raises as NumPy's solve does)."""
    m, n = x.shape
    x_out = np.empty((m, n))
    p_out = np.empty((m, n, n))
    nu_out = np.empty((m, 3))
    s_out = np.empty((m, 3, 3))
    nis = np.empty(m)
    ll = np.empty(m)
    s = np.empty((3, 3))
    sinv = np.empty((3, 3))
    gain = np.empty((n, 3))
    a = np.empty((n, n))
    ap = np.empty((n, n))
    c = np.empty((n, n))
    kr = np.empty((n, 3))
    for r in range(m):
        for i in range(3):
            nu_out[r, i] = z[r, i] - x[r, i]
            for j in range(3):
                s[i, j] = 0.5 * ((p[r, i, j] + cov[r, i, j]) + (p[r, j, i] + cov[r, j, i]))
        det = _det3(s)
        if not det > 0.0:
            return x_out, p_out, nu_out, s_out, nis, ll, False
        _inv3(s, det, sinv)
        s_out[r] = s
        for i in range(n):  # K = P Hᵀ S⁻¹
            for b in range(3):
                acc = 0.0
                for j in range(3):
                    acc += p[r, i, j] * sinv[j, b]
                gain[i, b] = acc
        for i in range(n):
            acc = x[r, i]
            for b in range(3):
                acc += gain[i, b] * nu_out[r, b]
            x_out[r, i] = acc
        for i in range(n):  # A = I − K H
            for j in range(n):
                a[i, j] = (1.0 if i == j else 0.0) - (gain[i, j] if j < 3 else 0.0)
        for i in range(n):
            for j in range(n):
                acc = 0.0
                for k in range(n):
                    acc += a[i, k] * p[r, k, j]
                ap[i, j] = acc
        for i in range(n):
            for b in range(3):
                acc = 0.0
                for j in range(3):
                    acc += gain[i, j] * cov[r, j, b]
                kr[i, b] = acc
        for i in range(n):
            for j in range(n):
                acc = 0.0
                for k in range(n):
                    acc += ap[i, k] * a[j, k]
                acc2 = 0.0
                for b in range(3):
                    acc2 += kr[i, b] * gain[j, b]
                c[i, j] = acc + acc2
        for i in range(n):
            for j in range(n):
                p_out[r, i, j] = 0.5 * (c[i, j] + c[j, i])
        d = _quad3(sinv, nu_out[r])
        nis[r] = d
        ll[r] = -0.5 * (d + math.log(det) + 3.0 * _LOG_2PI)
    return x_out, p_out, nu_out, s_out, nis, ll, True


# --- Clusters ------------------------------------------------------------------------------------


@njit(cache=True)
def _find(parent, v):  # type: ignore[no-untyped-def]
    while parent[v] != v:
        parent[v] = parent[parent[v]]  # path halving
        v = parent[v]
    return v


@njit(cache=True)
def component_labels(n_nodes, a, b):  # type: ignore[no-untyped-def]
    """Connected-component label ``(n_nodes,)`` of every node of the undirected graph with edges
    (a[k], b[k]), by union-find; components numbered in the order of their smallest node, as
    `scipy.sparse.csgraph.connected_components` does (so the labels are identical)."""
    parent = np.arange(n_nodes)
    for e in range(a.shape[0]):
        ra = _find(parent, a[e])
        rb = _find(parent, b[e])
        if ra != rb:
            if ra < rb:
                parent[rb] = ra
            else:
                parent[ra] = rb
    label = np.full(n_nodes, -1, dtype=np.int64)
    out = np.empty(n_nodes, dtype=np.int64)
    count = 0
    for v in range(n_nodes):
        root = _find(parent, v)
        if label[root] < 0:
            label[root] = count
            count += 1
        out[v] = label[root]
    return out


# --- Coarse gate ---------------------------------------------------------------------------------


@njit(cache=True)
def max_eig_3x3(c, pad, upper=False):  # type: ignore[no-untyped-def]
    """Largest eigenvalue ``(N,)`` of sym(c[:, :3, :3]) (Smith 1961, as
    `lifecycle.largest_eigenvalue_3x3`) times ``pad``, floored at 0, and a finite mask; NaN for a
    block with a non-finite entry (`association._max_eig`). ``upper``: read the upper triangle
    only (as `lifecycle.largest_eigenvalue_3x3`) instead of symmetrising."""
    n = c.shape[0]
    lam_out = np.empty(n)
    ok = np.empty(n, dtype=np.bool_)
    for r in range(n):
        finite = True
        for i in range(3):
            for j in range(3):
                if not math.isfinite(c[r, i, j]):
                    finite = False
        ok[r] = finite
        if not finite:
            lam_out[r] = math.nan
            continue
        a00, a11, a22 = c[r, 0, 0], c[r, 1, 1], c[r, 2, 2]
        if upper:
            a01, a02, a12 = c[r, 0, 1], c[r, 0, 2], c[r, 1, 2]
        else:
            a01 = 0.5 * (c[r, 0, 1] + c[r, 1, 0])
            a02 = 0.5 * (c[r, 0, 2] + c[r, 2, 0])
            a12 = 0.5 * (c[r, 1, 2] + c[r, 2, 1])
        q = (a00 + a11 + a22) / 3.0
        b00, b11, b22 = a00 - q, a11 - q, a22 - q
        p1 = a01 * a01 + a02 * a02 + a12 * a12
        pp = math.sqrt((b00 * b00 + b11 * b11 + b22 * b22 + 2.0 * p1) / 6.0)
        if pp > 0:
            det = (
                b00 * (b11 * b22 - a12 * a12) - a01 * (a01 * b22 - a12 * a02) + a02 * (a01 * a12 - b11 * a02)
            )
            rr = min(max(det / (2.0 * pp**3), -1.0), 1.0)
            lam = q + 2.0 * pp * math.cos(math.acos(rr) / 3.0)
        else:
            lam = q
        lam_out[r] = max(lam * pad, 0.0)
    return lam_out, ok


@njit(cache=True)
def ball_pairs_3d(pos, ok_p, lam_p, point, rows, lam_c, factor, gamma):  # type: ignore[no-untyped-def]
    """Every (track, detection row) pair with |point − pos|² ≤ factor² γ (λ_P + λ_C), tracks with
    ``ok_p`` only, detections in ``rows`` order then tracks in order: the coarse gate's per-pair
    cut (`association.coarse_candidates`) without the tree. Two passes (test, then gather) keep the
    inner loop branch-free."""
    n = pos.shape[0]
    px, py, pz, lp = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    for t in range(n):
        px[t], py[t], pz[t] = pos[t, 0], pos[t, 1], pos[t, 2]
        lp[t] = lam_p[t] if ok_p[t] else math.nan  # NaN never passes the test
    m = rows.shape[0]
    hit = np.empty((m, n), dtype=np.bool_)
    count = 0
    for e in range(m):
        d = rows[e]
        scale = factor[d] * factor[d] * gamma[d]
        qx, qy, qz, lc = point[d, 0], point[d, 1], point[d, 2], lam_c[d]
        for t in range(n):
            dx, dy, dz = qx - px[t], qy - py[t], qz - pz[t]
            h = dx * dx + dy * dy + dz * dz <= scale * (lp[t] + lc)
            hit[e, t] = h
            count += h
    ti = np.empty(count, dtype=np.intp)
    dj = np.empty(count, dtype=np.intp)
    k = 0
    for e in range(m):
        for t in range(n):
            if hit[e, t]:
                ti[k], dj[k] = t, rows[e]
                k += 1
    return ti, dj


@njit(cache=True)
def sweep_pairs_3d(pos, ok_p, lam_p, bucket, point, rows, lam_c, factor, gamma):  # type: ignore[no-untyped-def]
    """`ball_pairs_3d`'s pairs for large N·M, bucket by bucket as `association.coarse_candidates`
    (buckets ascending, then detections in ``rows`` order): the bucket's tracks sorted along the
    axis of widest spread, each detection takes the window |Δ| ≤ its bucket radius by binary search,
    and the window's tracks get the exact per-pair cut. A sweep, not a tree: O(N log N + M log N +
    window sizes)."""
    n = pos.shape[0]
    lo_c = np.full(3, np.inf)
    hi_c = np.full(3, -np.inf)
    for t in range(n):
        if ok_p[t]:
            for a in range(3):
                lo_c[a] = min(lo_c[a], pos[t, a])
                hi_c[a] = max(hi_c[a], pos[t, a])
    axis = int(np.argmax(hi_c - lo_c))
    cap = 64
    ti = np.empty(cap, dtype=np.intp)
    dj = np.empty(cap, dtype=np.intp)
    count = 0
    good = np.flatnonzero(ok_p)
    for b in np.unique(bucket[good]):
        members = good[bucket[good] == b]
        key = pos[members, axis]
        order = np.argsort(key, kind="mergesort")
        members = members[order]
        key = key[order]
        lam_b = lam_p[members].max()
        for e in range(rows.shape[0]):
            d = rows[e]
            q = point[d, axis]
            r = factor[d] * math.sqrt(gamma[d] * (lam_b + lam_c[d]))
            lo = np.searchsorted(key, q - r, side="left")
            hi = np.searchsorted(key, q + r, side="right")
            scale = factor[d] * factor[d] * gamma[d]
            for w in range(lo, hi):
                t = members[w]
                dx = point[d, 0] - pos[t, 0]
                dy = point[d, 1] - pos[t, 1]
                dz = point[d, 2] - pos[t, 2]
                if dx * dx + dy * dy + dz * dz <= scale * (lam_p[t] + lam_c[d]):
                    if count == cap:
                        cap *= 2
                        ti2 = np.empty(cap, dtype=np.intp)
                        dj2 = np.empty(cap, dtype=np.intp)
                        ti2[:count] = ti
                        dj2[:count] = dj
                        ti, dj = ti2, dj2
                    ti[count] = t
                    dj[count] = d
                    count += 1
    return ti[:count].copy(), dj[:count].copy()


# --- Initiation ----------------------------------------------------------------------------------


@njit(cache=True)
def speed_pairs(p1, good1, p2, good2, radius_m):  # type: ignore[no-untyped-def]
    """Every (i, j) in good1 × good2 with |p2_j − p1_i| ≤ radius and that distance, i-major: the
    pairs `initiation.pair_by_speed`'s ``sparse_distance_matrix`` forms, without the trees."""
    m1, m2 = good1.shape[0], good2.shape[0]
    qx, qy, qz = np.empty(m2), np.empty(m2), np.empty(m2)
    for b in range(m2):
        qx[b], qy[b], qz[b] = p2[good2[b], 0], p2[good2[b], 1], p2[good2[b], 2]
    d2 = np.empty((m1, m2))
    r2 = radius_m * radius_m
    count = 0
    for a in range(m1):
        i = good1[a]
        x, y, z = p1[i, 0], p1[i, 1], p1[i, 2]
        for b in range(m2):
            dx, dy, dz = qx[b] - x, qy[b] - y, qz[b] - z
            v = dx * dx + dy * dy + dz * dz
            d2[a, b] = v
            count += v <= r2
    ii = np.empty(count, dtype=np.int64)
    jj = np.empty(count, dtype=np.int64)
    dist = np.empty(count)
    k = 0
    for a in range(m1):
        for b in range(m2):
            if d2[a, b] <= r2:
                ii[k], jj[k], dist[k] = good1[a], good2[b], math.sqrt(d2[a, b])
                k += 1
    return ii, jj, dist


# --- Lifecycle -----------------------------------------------------------------------------------


@njit(cache=True)
def record_looks(  # type: ignore[no-untyped-def]
    hits, n_looks, misses, n_updates, updated_s, status, look, got, now_s, confirm_hits, confirm_looks,
    max_misses,
):  # fmt: skip
    """One look of every row (`lifecycle.TrackTable.record_looks` before its limits; ``look`` and
    ``got`` already masked to live and looked rows): new hits, n_looks, misses, n_updates,
    updated_s, status columns, and the confirmed and dropped masks. Status codes as `TrackStatus`."""
    n = hits.shape[0]
    window = (1 << confirm_looks) - 1 if confirm_looks < 16 else 0xFFFF
    h_out = hits.copy()
    nl_out = n_looks.copy()
    ms_out = misses.copy()
    nu_out = n_updates.copy()
    us_out = updated_s.copy()
    st_out = status.copy()
    confirm = np.zeros(n, dtype=np.bool_)
    drop = np.zeros(n, dtype=np.bool_)
    for r in range(n):
        lk, g = look[r], got[r]
        miss = lk and not g
        h = int(hits[r])
        if lk:
            h = ((h << 1) | int(g)) & 0xFFFF
            h_out[r] = h
            nl_out[r] = n_looks[r] + 1
        if g:
            ms_out[r] = 0
            nu_out[r] = n_updates[r] + 1
            us_out[r] = now_s
        elif miss:
            ms_out[r] = misses[r] + 1
        st = status[r]
        w = h & window
        count = 0
        while w:
            w &= w - 1
            count += 1
        remaining = max(confirm_looks - int(nl_out[r]), 0)
        tentative = lk and st == 0
        conf = tentative and count >= confirm_hits
        dr = tentative and not conf and count + remaining < confirm_hits
        held = lk and (st == 1 or st == 2)
        if held and g:
            st_out[r] = 1
        if held and miss:
            st_out[r] = 2
        dr = dr or (held and ms_out[r] >= max_misses)
        if conf:
            st_out[r] = 1
        if dr:
            st_out[r] = 3
        confirm[r] = conf
        drop[r] = dr
    return h_out, nl_out, ms_out, nu_out, us_out, st_out, confirm, drop
