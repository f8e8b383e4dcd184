"""Batched Kalman filters: KF / EKF / UKF predict and update, Joseph form, NIS / NEES, and the IMM.

Everything works on N tracks at once — ``x (N, n)``, ``P (N, n, n)``, ``dt_s (N,)`` — with NumPy
stacked linear algebra; there is no Python loop over tracks. An update takes one measurement per
row (the association layer gathers the predicted tracks to the detection rows); a batch of mixed
kinds is grouped by kind (`update_detections`, a loop over the four kinds only).

Equations (Bar-Shalom, Li & Kirubarajan, *Estimation with Applications to Tracking and
Navigation*, 2001, §5.2.3, pp. 201–203, and §10.3 for the EKF):

    predict:  x⁻ = F x (or f(x)),  P⁻ = F P Fᵀ + Q
    update:   ν = z − h(x⁻) (angles wrapped),  S = H P⁻ Hᵀ + R,  K = P⁻ Hᵀ S⁻¹,  x⁺ = x⁻ + K ν
              P⁺ = (I − K H) P⁻ (I − K H)ᵀ + K R Kᵀ        (Joseph form, eq. 5.2.3-18, p. 206)

K is computed with ``np.linalg.solve`` on the stack of S (never an explicit inverse); every
covariance that leaves a function is symmetrised, (P + Pᵀ)/2. The constant-velocity predict and
the ``position`` update also have fused Numba twins (`kizuna.tracking.kernels`), used when they
apply and tested equal to the code here (``KIZUNA_NUMBA=0`` turns them off).

UKF: the scaled unscented transform (E. A. Wan & R. van der Merwe, "The unscented Kalman filter
for nonlinear estimation", IEEE AS-SPCC 2000, eqs. 15–18; S. J. Julier, "The scaled unscented
transformation", ACC 2002) with 2n + 1 sigma points per track from a batched Cholesky factor.
Defaults α = 1, β = 2, κ = 0 (λ = 0: the points sit at ±√n σ; the usual α = 1e-3 weights the
centre point by −1e6 and loses six digits in the sums). Angle-aware: predicted measurement means
are taken as z₀ + Σ wᵢ wrap(zᵢ − z₀) about the centre point, deviations are wrapped. The covariance
update uses the Joseph form with the statistically linearised H = P_xzᵀ P⁻¹ and the effective noise
R_eff = S − H P Hᵀ (the linearisation error added to R), which equals P − K S Kᵀ algebraically and
keeps P symmetric positive semi-definite numerically.

IMM: H. A. P. Blom & Y. Bar-Shalom, "The interacting multiple model algorithm for systems with
Markovian switching coefficients", IEEE Trans. AC 33(8), 1988; Bar-Shalom et al. 2001 §11.6.6,
pp. 453–457. See `Imm` for how models of different state size are mixed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import chi2

from kizuna.sensors.detections import KIND_DIMS, MEASUREMENT_KINDS
from kizuna.tracking import kernels
from kizuna.tracking.measurements import (
    ANGLE_COLUMNS,
    linearize,
    los_basis,
    los_measurement,
    measurement_function,
    residual,
    wrap_angle_rad,
)
from kizuna.tracking.models import ConstantVelocity, MotionModel

__all__ = [
    "Imm",
    "ImmState",
    "UnscentedParameters",
    "UpdateResult",
    "chi2_band",
    "ekf_update",
    "joseph_update",
    "kf_predict",
    "kf_update",
    "nees",
    "nis",
    "predict",
    "sigma_points",
    "symmetrize",
    "ukf_predict",
    "ukf_update",
    "update_detections",
]

Array = NDArray[np.float64]
_LOG_2PI = float(np.log(2.0 * np.pi))


def symmetrize(p: Array) -> Array:
    """(P + Pᵀ)/2 over the last two axes."""
    return 0.5 * (p + np.swapaxes(p, -1, -2))


# --- Predict -------------------------------------------------------------------------------------


def kf_predict(x: Array, p: Array, f: Array, q: Array) -> tuple[Array, Array]:
    """Linear predict: x⁻ = F x, P⁻ = F P Fᵀ + Q, all ``(N, …)`` (Bar-Shalom et al. 2001 eq. 5.2.3-5)."""
    x_pred = np.einsum("nij,nj->ni", f, x)
    return x_pred, symmetrize(f @ p @ np.swapaxes(f, 1, 2) + q)


def predict(model: MotionModel, x: Array, p: Array, dt_s: ArrayLike) -> tuple[Array, Array]:
    """KF / EKF predict of N tracks with a motion model over per-track ``dt_s (N,)``.

    For nonlinear models x⁻ = f(x) and F is the model's Jacobian at x (Bar-Shalom §10.3.2).
    """
    dt = np.broadcast_to(np.asarray(dt_s, dtype=np.float64), (x.shape[0],))
    if kernels.ENABLED and type(model) is ConstantVelocity and x.shape[1:] == (6,) and _finite(x, p, dt):
        return kernels.cv_predict(  # the fused twin of the lines below (tests/test_tracking_kernels.py)
            np.ascontiguousarray(x, np.float64), np.ascontiguousarray(p, np.float64),
            np.ascontiguousarray(dt), float(model.q_m2_per_s3),
        )  # fmt: skip
    x_pred, f = model.transition(x, dt)
    q = model.process_noise(x, dt)
    return x_pred, symmetrize(f @ p @ np.swapaxes(f, 1, 2) + q)


def _finite(*arrays: ArrayLike) -> bool:
    """Every entry finite (the kernels' precondition; non-finite rows take the reference path)."""
    return all(bool(np.isfinite(a).all()) for a in arrays)


# --- Update --------------------------------------------------------------------------------------


class UpdateResult(NamedTuple):
    """Posterior of one update, with the innovation statistics the gate and the IMM need."""

    x: Array  # (N, n)
    P: Array  # (N, n, n)
    innovation: Array  # (N, m)
    innovation_cov: Array  # (N, m, m)
    nis: Array  # (N,) νᵀ S⁻¹ ν
    log_likelihood: Array  # (N,) log N(ν; 0, S)


def _gaussian_stats(nu: Array, s: Array) -> tuple[Array, Array]:
    """NIS νᵀS⁻¹ν and log N(ν; 0, S) for stacks, via solve and slogdet."""
    d = np.einsum("ni,ni->n", nu, np.linalg.solve(s, nu[..., None])[..., 0])
    _, logdet = np.linalg.slogdet(s)
    return d, -0.5 * (d + logdet + nu.shape[1] * _LOG_2PI)


def joseph_update(x: Array, p: Array, nu: Array, h: Array, r: Array) -> UpdateResult:
    """Kalman update from innovation ν ``(N, m)``, H ``(N, m, n)``, R ``(N, m, m)``; Joseph form.

    K = P Hᵀ S⁻¹ by solving S Kᵀ = H P (S and P symmetric); P⁺ = (I − KH) P (I − KH)ᵀ + K R Kᵀ
    (Bar-Shalom et al. 2001 eq. 5.2.3-18: valid for any gain, PSD by construction).
    """
    ht = np.swapaxes(h, 1, 2)
    hp = h @ p
    s = symmetrize(hp @ ht + r)
    k = np.swapaxes(np.linalg.solve(s, hp), 1, 2)
    x_post = x + np.einsum("nij,nj->ni", k, nu)
    a = np.eye(x.shape[1]) - k @ h
    p_post = symmetrize(a @ p @ np.swapaxes(a, 1, 2) + k @ r @ np.swapaxes(k, 1, 2))
    d, ll = _gaussian_stats(nu, s)
    return UpdateResult(x_post, p_post, nu, s, d, ll)


def kf_update(x: Array, p: Array, z: Array, h: Array, r: Array) -> UpdateResult:
    """Linear KF update with z ``(N, m)``: ν = z − H x, then `joseph_update`."""
    return joseph_update(x, p, z - np.einsum("nij,nj->ni", h, x), h, r)


def ekf_update(
    x: Array,
    p: Array,
    kind: str,
    z: Array,
    cov: Array,
    sensor_pos_m: Array,
    sensor_vel_m_per_s: Array,
) -> UpdateResult:
    """EKF update of N tracks with N detections of one kind (`kizuna.tracking.measurements.linearize`).

    For ``los`` the innovation lives in the 2-D tangent frame about the predicted line of sight.
    """
    if kernels.ENABLED and kind == "position" and len(x) and _finite(x, p, z[:, :3], cov[:, :3, :3]):
        xp, pp, nu, s, d, ll, ok = kernels.position_update(  # fused twin of the lines below
            np.ascontiguousarray(x, np.float64), np.ascontiguousarray(p, np.float64),
            np.ascontiguousarray(z, np.float64), np.ascontiguousarray(cov, np.float64),
        )  # fmt: skip
        if ok:
            return UpdateResult(xp, pp, nu, s, d, ll)
    lin = linearize(kind, x, z, cov, sensor_pos_m, sensor_vel_m_per_s)
    return joseph_update(x, p, lin.innovation, lin.jacobian, lin.noise_cov)


def update_detections(
    x: Array,
    p: Array,
    kind: ArrayLike,
    z: Array,
    cov: Array,
    sensor_pos_m: Array,
    sensor_vel_m_per_s: Array,
    *,
    method: str = "ekf",
    ukf: UnscentedParameters | None = None,
) -> tuple[Array, Array, Array]:
    """Update row i of ``x (M, n), P`` with detection row i, for a batch of mixed kinds.

    ``kind (M,)`` indexes `MEASUREMENT_KINDS`; ``z``, ``cov`` are the padded `DetectionBatch`
    arrays. Rows are grouped by kind (a loop over the four kinds, never over tracks). Returns the
    posterior x, P and the NIS per row (dimension: 3, 4, 3 and 2 for position, radar, oth, los).
    """
    kind = np.asarray(kind)
    x_out, p_out = np.array(x, dtype=np.float64), np.array(p, dtype=np.float64)
    nis_out = np.full(len(kind), np.nan)
    for k, name in enumerate(MEASUREMENT_KINDS):
        rows = np.flatnonzero(kind == k)
        if rows.size == 0:
            continue
        args = (x[rows], p[rows], name, z[rows], cov[rows], sensor_pos_m[rows], sensor_vel_m_per_s[rows])
        if method == "ekf":
            res = ekf_update(*args)
        elif method == "ukf":
            res = ukf_update(*args, params=ukf)
        else:
            raise ValueError(f"method must be 'ekf' or 'ukf'; got {method!r}")
        x_out[rows], p_out[rows], nis_out[rows] = res.x, res.P, res.nis
    return x_out, p_out, nis_out


# --- UKF -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnscentedParameters:
    """Scaled unscented transform parameters (Wan & van der Merwe 2000): spread α, prior β, κ."""

    alpha: float = 1.0
    beta: float = 2.0
    kappa: float = 0.0

    def weights(self, n: int) -> tuple[Array, Array, float]:
        """Mean weights, covariance weights ``(2n + 1,)`` and the scale n + λ."""
        lam = self.alpha**2 * (n + self.kappa) - n
        c = n + lam
        wm = np.full(2 * n + 1, 0.5 / c)
        wc = wm.copy()
        wm[0] = lam / c
        wc[0] = lam / c + 1.0 - self.alpha**2 + self.beta
        return wm, wc, c


def sigma_points(x: Array, p: Array, params: UnscentedParameters | None = None) -> tuple[Array, Array, Array]:
    """Sigma points ``(N, 2n + 1, n)`` = x, x ± columns of √((n + λ) P) (batched Cholesky), and weights."""
    params = params or UnscentedParameters()
    n = x.shape[1]
    wm, wc, c = params.weights(n)
    ell = np.linalg.cholesky(c * p)  # (N, n, n); columns are the offsets
    offsets = np.swapaxes(ell, 1, 2)
    pts = np.concatenate([x[:, None, :], x[:, None, :] + offsets, x[:, None, :] - offsets], axis=1)
    return pts, wm, wc


def ukf_predict(
    model: MotionModel, x: Array, p: Array, dt_s: ArrayLike, params: UnscentedParameters | None = None
) -> tuple[Array, Array]:
    """Unscented predict: all N × (2n + 1) sigma points through f in one call, plus Q."""
    n_tracks, n = x.shape
    dt = np.broadcast_to(np.asarray(dt_s, dtype=np.float64), (n_tracks,))
    pts, wm, wc = sigma_points(x, p, params)
    k = pts.shape[1]
    moved, _ = model.transition(pts.reshape(n_tracks * k, n), np.repeat(dt, k))
    moved = moved.reshape(n_tracks, k, n)
    mean = np.einsum("k,nki->ni", wm, moved)
    dev = moved - mean[:, None, :]
    cov = np.einsum("k,nki,nkj->nij", wc, dev, dev) + model.process_noise(x, dt)
    return mean, symmetrize(cov)


def ukf_update(
    x: Array,
    p: Array,
    kind: str,
    z: Array,
    cov: Array,
    sensor_pos_m: Array,
    sensor_vel_m_per_s: Array,
    params: UnscentedParameters | None = None,
) -> UpdateResult:
    """Unscented update of N tracks with N detections of one kind (angle-aware; Joseph form).

    For ``los`` the sigma points are projected into the tangent frame about the prior's line of
    sight, as in the EKF.
    """
    n_tracks, n = x.shape
    pts, wm, wc = sigma_points(x, p, params)
    k = pts.shape[1]
    dim = KIND_DIMS[kind]
    zk, rk = z[:, :dim], cov[:, :dim, :dim]
    frame = None
    if kind == "los":
        frame = los_basis(x, sensor_pos_m)
        zk, rk = los_measurement(zk, rk, frame)
    rep = (np.repeat(a, k, axis=0) for a in (sensor_pos_m, sensor_vel_m_per_s))
    sp, sv = rep
    zf = None if frame is None else np.repeat(frame, k, axis=0)
    zs = measurement_function(kind, pts.reshape(n_tracks * k, n), sp, sv, zf).reshape(n_tracks, k, -1)
    zdev0 = residual(kind, zs, zs[:, :1, :])
    z_mean = zs[:, 0, :] + np.einsum("k,nki->ni", wm, zdev0)
    if ANGLE_COLUMNS[kind]:
        cols = list(ANGLE_COLUMNS[kind])
        z_mean[:, cols] = wrap_angle_rad(z_mean[:, cols])
    zdev = residual(kind, zs, z_mean[:, None, :])
    xdev = pts - x[:, None, :]
    pzz = np.einsum("k,nki,nkj->nij", wc, zdev, zdev)
    pxz = np.einsum("k,nki,nkj->nij", wc, xdev, zdev)
    # Statistical linearisation H = Pxzᵀ P⁻¹, R_eff = S − H P Hᵀ (module docstring).
    h = np.swapaxes(np.linalg.solve(p, pxz), 1, 2)
    r_eff = symmetrize(pzz - h @ pxz + rk)
    nu = residual(kind, zk, z_mean)
    return joseph_update(x, p, nu, h, r_eff)


# --- Consistency ---------------------------------------------------------------------------------


def nees(x_true: Array, x: Array, p: Array) -> Array:
    """Normalised estimation error squared ``(N,)``: (x − x̂)ᵀ P⁻¹ (x − x̂) (Bar-Shalom §5.4.2, p. 234)."""
    e = x_true - x
    return np.einsum("ni,ni->n", e, np.linalg.solve(p, e[..., None])[..., 0])


def nis(innovation: Array, innovation_cov: Array) -> Array:
    """Normalised innovation squared ``(N,)``: νᵀ S⁻¹ ν (Bar-Shalom §5.4.2, p. 236)."""
    return _gaussian_stats(innovation, innovation_cov)[0]


def chi2_band(dof: int, runs: int, probability: float = 0.95) -> tuple[float, float]:
    """Two-sided acceptance interval of the *average* of ``runs`` independent χ²(dof) statistics.

    runs × average ~ χ²(runs · dof) (Bar-Shalom et al. 2001 §5.4.2, eq. 5.4.2-5/6, p. 234–235).
    """
    tail = 0.5 * (1.0 - probability)
    total = runs * dof
    return float(chi2.ppf(tail, total) / runs), float(chi2.ppf(1.0 - tail, total) / runs)


# --- IMM -----------------------------------------------------------------------------------------


class ImmState(NamedTuple):
    """IMM state of N tracks over r models, each model's state padded to the common size n."""

    x: Array  # (N, r, n)
    P: Array  # (N, r, n, n)
    mu: Array  # (N, r) mode probabilities


@dataclass(frozen=True, eq=False)
class Imm:
    """Interacting multiple model filter (Blom & Bar-Shalom 1988), batched over tracks.

    ``models``: r motion models whose state layouts are prefixes of the largest one (e.g. CV (6)
    with CT (7: [p, v, ω]), or CV with CA/Singer (9: [p, v, a]); CT and CA cannot be mixed since
    both use component 6 differently). ``transition_probability (r, r)``: Π[i, j] = P(mode j at
    k+1 | mode i at k), rows summing to 1.

    Unequal state sizes (augmentation): every mode-conditioned estimate is carried at the common
    size n. A model of size n_j < n filters its first n_j components; the remaining components of
    its estimate keep the values and covariance they had after *mixing* (the mixture of the modes
    that model them), with zero cross-covariance to the modelled part, through both predict and
    update. Mixing and combination then run at size n. This avoids pulling, say, the turn rate of
    the CT mode towards an arbitrary "zero with variance σ²" carried by the CV mode — the bias of
    naive zero-padding discussed by K. Granström, P. Willett & Y. Bar-Shalom, "Systematic approach to
    IMM mixing for unequal dimension states", IEEE Trans. AES 51(4), 2015.

    Cycle (Bar-Shalom et al. 2001 §11.6.6): `predict` = mixing (c̄ⱼ = Σᵢ Πᵢⱼ μᵢ, μᵢ|ⱼ = Πᵢⱼ μᵢ / c̄ⱼ,
    x⁰ⱼ = Σᵢ μᵢ|ⱼ xᵢ, P⁰ⱼ = Σᵢ μᵢ|ⱼ [Pᵢ + (xᵢ − x⁰ⱼ)(xᵢ − x⁰ⱼ)ᵀ]) then each model's EKF predict, with
    the predicted mode probabilities c̄ⱼ; `update` = each model's EKF update, μⱼ ∝ Λⱼ c̄ⱼ (in the log
    domain), and `combine` gives the moment-matched output x = Σ μⱼ xⱼ, P = Σ μⱼ [Pⱼ + dxⱼ dxⱼᵀ].
    """

    models: Sequence[MotionModel]
    transition_probability: Array

    @property
    def state_dim(self) -> int:
        return max(m.state_dim for m in self.models)

    def initial_state(self, x: Array, p: Array, mu: ArrayLike) -> ImmState:
        """Every mode starts from ``x (N, n), P (N, n, n)`` at the common size, with probabilities mu."""
        r = len(self.models)
        n_tracks = x.shape[0]
        mu_arr = np.broadcast_to(np.asarray(mu, dtype=np.float64), (n_tracks, r)).copy()
        return ImmState(
            np.repeat(x[:, None, :], r, axis=1), np.repeat(p[:, None, :, :], r, axis=1), mu_arr
        )

    def predict(self, state: ImmState, dt_s: ArrayLike) -> ImmState:
        pi = np.asarray(self.transition_probability, dtype=np.float64)
        x, p, mu = state
        c_bar = mu @ pi  # (N, r)
        w = mu[:, :, None] * pi[None, :, :] / np.maximum(c_bar[:, None, :], 1e-300)  # μ_{i|j}: (N, i, j)
        x0 = np.einsum("nij,nia->nja", w, x)
        dx = x[:, :, None, :] - x0[:, None, :, :]  # (N, i, j, n)
        p0 = np.einsum("nij,niab->njab", w, p) + np.einsum("nij,nija,nijb->njab", w, dx, dx)
        x_out, p_out = x0.copy(), p0.copy()
        for j, model in enumerate(self.models):
            nj = model.state_dim
            xj, pj = predict(model, x0[:, j, :nj], p0[:, j, :nj, :nj], dt_s)
            x_out[:, j, :nj] = xj
            p_out[:, j, :nj, :nj] = pj
            p_out[:, j, :nj, nj:] = 0.0
            p_out[:, j, nj:, :nj] = 0.0
        return ImmState(x_out, symmetrize(p_out), c_bar)

    def update(
        self,
        state: ImmState,
        kind: str,
        z: Array,
        cov: Array,
        sensor_pos_m: Array,
        sensor_vel_m_per_s: Array,
    ) -> ImmState:
        """Mode-matched EKF updates with one detection (one kind) per track, then the mode probabilities."""
        x, p, mu = state
        x_out, p_out = x.copy(), p.copy()
        log_w = np.log(np.maximum(mu, 1e-300))
        for j, model in enumerate(self.models):
            nj = model.state_dim
            res = ekf_update(x[:, j, :nj], p[:, j, :nj, :nj], kind, z, cov, sensor_pos_m, sensor_vel_m_per_s)
            x_out[:, j, :nj] = res.x
            p_out[:, j, :nj, :nj] = res.P
            log_w[:, j] += res.log_likelihood
        log_w -= log_w.max(axis=1, keepdims=True)
        w = np.exp(log_w)
        return ImmState(x_out, p_out, w / w.sum(axis=1, keepdims=True))

    @staticmethod
    def combine(state: ImmState) -> tuple[Array, Array]:
        """Moment-matched estimate ``x (N, n)``, ``P (N, n, n)`` over the modes."""
        x, p, mu = state
        xc = np.einsum("nj,nja->na", mu, x)
        dx = x - xc[:, None, :]
        pc = np.einsum("nj,njab->nab", mu, p) + np.einsum("nj,nja,njb->nab", mu, dx, dx)
        return xc, symmetrize(pc)
