"""The space infrared layer: every satellite of a constellation stares at the Earth, reports lines of sight.

`SpaceInfraredLayer` is one `Sensor` for a whole constellation (scenario table `SpaceInfrared`);
each satellite reports as sensor ``"<layer id>/<satellite id>"`` with the measurement kind
``los``: the ECEF unit vector from the satellite to the target, covariance σ²(I − u uᵀ).

At each frame (look times k·`frame_s`), for all satellites × targets at once:

1. **Field of regard.** The target is inside the cone of full angle `field_of_regard_deg` around
   the *geocentric* nadir −r_sat/|r_sat| (the direction to the Earth's centre). The geodetic nadir
   differs from it by less than 0.2° at any latitude from LEO, small against a cone of ~100°+.
2. **Earth occlusion** (`GRAZING_HEIGHT_M`). The Earth is the "grazing ellipsoid", the WGS-84
   ellipsoid grown by 20 km on both axes (a + 20 km, b + 20 km): a line of sight whose lowest point
   lies below ~20 km runs through ~1,000 km of troposphere and lower stratosphere (2√(2R·20 km)),
   which water vapour and CO₂ make opaque in the missile-warning bands. A target is hidden when the
   segment satellite → target dips below that surface *between* its ends. A target that is itself
   below 20 km (an aircraft, a cruise missile) is seen when the satellite is above its local
   horizon (the segment's lowest point is the target itself), and hidden when it is not.
   Vallado's SIGHT algorithm (D. A. Vallado, *Fundamentals of Astrodynamics and Applications*, 4th
   ed., 2013, Algorithm 35), after scaling x, y by 1/(a + 20 km) and z by 1/(b + 20 km) so the
   grazing ellipsoid becomes the unit sphere (an affine map keeps lines straight):
   τ_min = (|q_s|² − q_s·q_t) / (|q_s|² + |q_t|² − 2 q_s·q_t),  ρ²_min = (1 − τ_min)|q_s|² + τ_min q_s·q_t;
   hidden iff 0 < τ_min < 1 and ρ²_min < min(1, |q_t|²).
3. **Background.** The same line extended beyond the target: if it meets the grazing ellipsoid
   the target is seen against the Earth (`threshold_earth_w_per_m2`), otherwise against the limb
   above 20 km and space (`threshold_space_w_per_m2`). A target below 20 km is always against the
   Earth.
4. **Detection** (`detection_probability`). Irradiance E = I / R² (I the target's radiant
   intensity `ir_intensity_w_per_sr`, R the slant range). A non-fluctuating signal in Gaussian
   noise against a fixed threshold (G. C. Holst, *Electro-Optical Imaging System Performance*,
   SPIE, "probability of detection"): Pd = ½[1 + erf((SNR − TNR)/√2)] = Φ(SNR − TNR), with the
   threshold-to-noise ratio TNR = `THRESHOLD_TO_NOISE` = 5 and the scenario's threshold irradiance
   E_th taken as the irradiance that gives SNR = TNR, so SNR = TNR·E/E_th and
   Pd = Φ(5 (E/E_th − 1)): 0.023 at 0.6 E_th, 0.5 at E_th, 0.977 at 1.4 E_th, 2.9e-7 = Φ(−5) with no
   signal (the per-pixel false-alarm probability of that threshold). Detections are drawn from
   the generator passed to `observe`.
5. **Measurement.** The true unit line of sight u is turned by independent Gaussian angles of
   σ = `sigma_los_urad` about two axes perpendicular to it, z = (u + σ n₁ e₁ + σ n₂ e₂)/|…|, and
   reported with covariance σ²(I − z zᵀ) (built from the measured z: nothing in a batch reveals the
   truth). The geometry is instantaneous: no light time (≤ 10 ms at 3,000 km, 70 m for a 7 km/s
   target, ≈ 23 µrad) and no aberration (v_sat/c ≈ 25 µrad); a tracker using the same geometric
   model sees no bias from them. The sensor position and velocity are the satellite's ECEF state.
6. **False alarms.** Per satellite per frame a Poisson number with mean `false_alarms_per_frame`,
   directions uniform in solid angle over the whole field-of-regard cone (Earth disc, limb and
   space alike), labelled ``""``.

Satellites whose SGP4 propagation failed at a frame (NaN position) see nothing at it and report
no false alarms. Detections leave ordered by time, then satellite, then the measured x component
of the line of sight (a stand-in for the focal-plane read-out order), so the row order says nothing
about which rows are false alarms.

The geometry (steps 1–3) is shared with the coverage analysis (`kizuna.sensors.coverage`) through
`visibility_from_dots`; `los_visibility` is its broadcasting front end.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtr

from kizuna.constants import WGS84_A_M, WGS84_B_M
from kizuna.orbits import Constellation
from kizuna.scenario.schema import SpaceInfrared
from kizuna.sensors.detections import MEASUREMENT_KINDS, Z_MAX, DetectionBatch, DetectionLabels
from kizuna.timebase import Epoch
from kizuna.truth.samples import TruthSamples

__all__ = [
    "GRAZING_HEIGHT_M",
    "THRESHOLD_TO_NOISE",
    "SpaceInfraredLayer",
    "detection_probability",
    "half_cone_cosine",
    "los_visibility",
    "perpendicular_basis",
    "scaled_to_grazing",
    "visibility_from_dots",
]

Array = NDArray[np.float64]

GRAZING_HEIGHT_M = 20_000.0
"""Height added to both WGS-84 semi-axes to make the opaque Earth (ground plus lower atmosphere)."""

THRESHOLD_TO_NOISE = 5.0
"""TNR of the detection threshold: the scenario's threshold irradiance gives SNR = 5, Pd = ½."""

_INV_AXES_M = np.array(
    [
        1.0 / (WGS84_A_M + GRAZING_HEIGHT_M),
        1.0 / (WGS84_A_M + GRAZING_HEIGHT_M),
        1.0 / (WGS84_B_M + GRAZING_HEIGHT_M),
    ]
)
"""Per-axis scale [1/m] that maps the grazing ellipsoid onto the unit sphere."""

_LOS_KIND = np.int8(MEASUREMENT_KINDS.index("los"))

_TRIPLES_PER_CHUNK = 1_000_000
"""Satellite × target × frame triples handled at once in `observe`: bounds memory (~100 MB)."""


# --- Geometry shared with the coverage analysis -------------------------------------------------


def scaled_to_grazing(pos_m: ArrayLike) -> Array:
    """ECEF positions ``(..., 3)`` [m] in the frame where the grazing ellipsoid is the unit sphere."""
    return np.asarray(pos_m, dtype=np.float64) * _INV_AXES_M


def visibility_from_dots(
    ss: ArrayLike,
    sp: ArrayLike,
    pp: ArrayLike,
    qss: ArrayLike,
    qsp: ArrayLike,
    qpp: ArrayLike,
    cos_half_for: float,
    *,
    background: bool = True,
) -> tuple[NDArray[np.bool_], NDArray[np.bool_] | None]:
    """Field of regard, Earth occlusion and background from dot products (module docstring, 1–3).

    ``ss = s·s``, ``sp = s·p``, ``pp = p·p`` for the satellite's and the target's ECEF positions s
    and p [m²]; ``qss``, ``qsp``, ``qpp`` the same for the positions scaled by `scaled_to_grazing`
    [-]. All broadcast together. ``cos_half_for`` is the cosine of half the field of regard (≥ 0).

    Returns ``(visible, earth_background)`` (the latter None when ``background=False``). Non-finite
    inputs (a failed satellite, an inactive target) are never visible. Written in dot products so
    the coverage analysis gets them from one matrix product per block and the sensor from einsum,
    and free of divisions and square roots (both sides multiplied by positive quantities):

    * field of regard: with a = s·s − s·p = −s·(p − s) and R² = p·p + s·s − 2 s·p,
      cos(nadir, los) = a / (|s| R) ≥ c  ⇔  a ≥ 0 and a² ≥ c² |s|² R²;
    * SIGHT: with qa = q_s·q_s − q_s·q_p and qd² = |q_p − q_s|² = q_p·q_p − q_s·q_p + qa > 0,
      τ_min = qa / qd², so 0 < τ_min < 1 ⇔ 0 < qa < qd², and ρ²_min·qd² = q_s·q_s·qd² − qa²;
    * background: the line keeps descending past the target iff τ_min ≥ 1 ⇔ qa ≥ qd².
    """
    ss, sp, pp = (np.asarray(x, dtype=np.float64) for x in (ss, sp, pp))
    qss, qsp, qpp = (np.asarray(x, dtype=np.float64) for x in (qss, qsp, qpp))
    shape = np.broadcast_shapes(ss.shape, sp.shape, pp.shape, qss.shape, qsp.shape, qpp.shape)
    sp, qsp = np.broadcast_to(sp, shape), np.broadcast_to(qsp, shape)  # the in-place steps need full shape
    a = ss - sp
    range2 = pp - sp
    range2 += a
    in_for = a >= 0.0  # NaN compares False: a failed satellite or inactive target is never visible
    in_for &= range2 > 0.0  # a target at the satellite itself is not a line of sight
    a *= a
    range2 *= (cos_half_for * cos_half_for) * ss
    in_for &= a >= range2
    qa = qss - qsp
    qd2 = qpp - qsp
    qd2 += qa
    rho2_qd2 = qss * qd2
    rho2_qd2 -= qa * qa
    hidden = qa > 0.0
    hidden &= qa < qd2
    hidden &= rho2_qd2 < np.minimum(qpp, 1.0) * qd2
    visible = in_for & ~hidden
    if not background:
        return visible, None
    earth = np.where(qa >= qd2, rho2_qd2 < qd2, qpp < 1.0)
    return visible, earth & np.isfinite(qd2)


def los_visibility(
    sat_pos_m: ArrayLike, target_pos_m: ArrayLike, field_of_regard_rad: float
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Whether satellites see targets, and whether against the Earth, for broadcasting ``(..., 3)`` ECEF.

    ``field_of_regard_rad`` is the full cone angle around the geocentric nadir (≤ π). Returns
    ``(visible, earth_background)`` with the broadcast shape less the last axis.
    """
    s = np.asarray(sat_pos_m, dtype=np.float64)
    p = np.asarray(target_pos_m, dtype=np.float64)
    qs, qp = scaled_to_grazing(s), scaled_to_grazing(p)
    return visibility_from_dots(
        np.sum(s * s, axis=-1),
        np.sum(s * p, axis=-1),
        np.sum(p * p, axis=-1),
        np.sum(qs * qs, axis=-1),
        np.sum(qs * qp, axis=-1),
        np.sum(qp * qp, axis=-1),
        half_cone_cosine(field_of_regard_rad),
    )


def half_cone_cosine(field_of_regard_rad: float) -> float:
    """cos(FOR/2) for a full cone angle 0 < FOR ≤ π around nadir; a teaching error otherwise."""
    if not (math.isfinite(field_of_regard_rad) and 0.0 < field_of_regard_rad <= math.pi + 1e-12):
        raise ValueError(
            f"field_of_regard_rad={field_of_regard_rad!r}: expected the full cone angle around nadir, "
            "0 < angle ≤ π radians (180°); convert degrees with kizuna.constants.DEG"
        )
    return math.cos(0.5 * min(field_of_regard_rad, math.pi))


def detection_probability(irradiance_w_per_m2: ArrayLike, threshold_w_per_m2: ArrayLike) -> Array:
    """Pd = Φ(TNR (E/E_th − 1)), TNR = 5 (module docstring, 4): ½ at the threshold, NaN in → NaN out."""
    e = np.asarray(irradiance_w_per_m2, dtype=np.float64)
    return ndtr(THRESHOLD_TO_NOISE * (e / np.asarray(threshold_w_per_m2, dtype=np.float64) - 1.0))


def perpendicular_basis(u: ArrayLike) -> tuple[Array, Array]:
    """Two unit vectors ``(..., 3)`` perpendicular to the unit vectors `u` and to each other (e₂ = u × e₁)."""
    u = np.asarray(u, dtype=np.float64)
    helper = np.zeros_like(u)
    near_pole = np.abs(u[..., 2]) > 0.9
    helper[..., 2] = np.where(near_pole, 0.0, 1.0)
    helper[..., 0] = np.where(near_pole, 1.0, 0.0)
    e1 = np.cross(u, helper)
    e1 /= np.linalg.norm(e1, axis=-1, keepdims=True)
    return e1, np.cross(u, e1)


# --- The sensor ---------------------------------------------------------------------------------


class SpaceInfraredLayer:
    """The infrared sensors of every satellite of one constellation, as one `Sensor`.

    ``sensor_id`` is the scenario's layer id; each detection's sensor id is
    ``f"{layer id}/{satellite id}"`` (`satellite_sensor_ids`, in the constellation's order).
    """

    def __init__(self, spec: SpaceInfrared, constellation: Constellation, epoch: Epoch) -> None:
        if not isinstance(spec, SpaceInfrared):
            raise TypeError(f"spec={spec!r}: expected a kizuna.scenario.schema.SpaceInfrared table")
        if constellation.name != spec.constellation:
            raise ValueError(
                f"space_ir sensor {spec.id!r} is carried by constellation {spec.constellation!r}, but "
                f"was given constellation {constellation.name!r}; pass the constellation whose id "
                "the scenario names"
            )
        if not isinstance(epoch, Epoch):
            raise TypeError(f"epoch={epoch!r}: expected a kizuna.timebase.Epoch (the scenario epoch)")
        self.spec = spec
        self.constellation = constellation
        self.epoch = epoch
        self.sensor_id: str = spec.id
        self.nation: str = spec.nation
        self.satellite_sensor_ids: tuple[str, ...] = tuple(
            f"{spec.id}/{sat}" for sat in constellation.satellite_ids
        )
        self.field_of_regard_rad = math.radians(spec.field_of_regard_deg)
        self.sigma_los_rad = spec.sigma_los_urad * 1e-6
        self._cos_half_for = half_cone_cosine(self.field_of_regard_rad)

    def __repr__(self) -> str:
        return f"SpaceInfraredLayer({self.sensor_id!r}, {len(self.constellation)} satellites)"

    def look_times(self, t0_s: float, t1_s: float) -> NDArray[np.float64]:
        """Frame times k·frame_s in ``[t0_s, t1_s)``, seconds since the epoch."""
        frame_s = self.spec.frame_s
        k0 = math.ceil(t0_s / frame_s - 1e-9)
        k1 = math.ceil(t1_s / frame_s - 1e-9)
        return np.arange(k0, max(k0, k1), dtype=np.float64) * frame_s

    def observe(
        self, truth: TruthSamples, first_id: int, rng: np.random.Generator
    ) -> tuple[DetectionBatch, DetectionLabels]:
        """Detections of every satellite at each of ``truth.t_s`` (see the module docstring)."""
        t_s = np.asarray(truth.t_s, dtype=np.float64)
        if t_s.size == 0:
            return DetectionBatch.empty(), DetectionLabels.concatenate([])
        eph = self.constellation.propagate(self.epoch, t_s)
        sat_pos, sat_vel = eph.pos_m, eph.vel_m_per_s  # (S, T, 3)
        n_sat, n_tgt = sat_pos.shape[0], truth.n_targets
        rows: list[tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.intp], Array]] = []
        if n_tgt:
            chunk = max(1, _TRIPLES_PER_CHUNK // (n_sat * n_tgt))
            for k0 in range(0, t_s.size, chunk):
                rows.append(self._detect_targets(sat_pos, truth, slice(k0, k0 + chunk), rng))
        fa_sat, fa_t, fa_z = self._false_alarms(sat_pos, rng)
        sat_idx = np.concatenate([r[0] for r in rows] + [fa_sat])
        tgt_idx = np.concatenate([r[1] for r in rows] + [np.full(fa_sat.size, -1, dtype=np.intp)])
        t_idx = np.concatenate([r[2] for r in rows] + [fa_t])
        z = np.concatenate([r[3] for r in rows] + [fa_z]).reshape(-1, 3)
        order = np.lexsort((z[:, 0], sat_idx, t_idx))
        sat_idx, tgt_idx, t_idx, z = sat_idx[order], tgt_idx[order], t_idx[order], z[order]
        m = sat_idx.size
        detection_id = np.arange(first_id, first_id + m, dtype=np.int64)
        z_pad = np.full((m, Z_MAX), np.nan)
        z_pad[:, :3] = z
        cov = np.full((m, Z_MAX, Z_MAX), np.nan)
        cov[:, :3, :3] = self.sigma_los_rad**2 * (np.eye(3) - z[:, :, None] * z[:, None, :])
        batch = DetectionBatch(
            detection_id=detection_id,
            time_s=t_s[t_idx],
            sensor_id=np.asarray(self.satellite_sensor_ids, dtype=object)[sat_idx],
            kind=np.full(m, _LOS_KIND, dtype=np.int8),
            z=z_pad,
            cov=cov,
            sensor_pos_m=sat_pos[sat_idx, t_idx],
            sensor_vel_m_per_s=sat_vel[sat_idx, t_idx],
        )
        names = np.asarray((*truth.target_ids, ""), dtype=object)  # index -1 -> "" (false alarm)
        return batch, DetectionLabels(detection_id.copy(), names[tgt_idx])

    def _detect_targets(
        self, sat_pos: Array, truth: TruthSamples, frames: slice, rng: np.random.Generator
    ) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.intp], Array]:
        """Target detections in a block of frames: (satellite, target, frame) indices and measured LOS."""
        s = sat_pos[:, frames]  # (S, Tc, 3)
        p = np.where(truth.active[:, frames, None], truth.pos_m[:, frames], np.nan)  # (N, Tc, 3)
        qs, qp = scaled_to_grazing(s), scaled_to_grazing(p)
        ss = np.einsum("sti,sti->st", s, s)[:, None, :]
        pp = np.einsum("nti,nti->nt", p, p)[None, :, :]
        sp = np.einsum("sti,nti->snt", s, p)
        visible, earth = visibility_from_dots(
            ss,
            sp,
            pp,
            np.einsum("sti,sti->st", qs, qs)[:, None, :],
            np.einsum("sti,nti->snt", qs, qp),
            np.einsum("nti,nti->nt", qp, qp)[None, :, :],
            self._cos_half_for,
        )  # (S, N, Tc)
        draw = rng.random(visible.shape)
        i_s, i_n, i_t = np.nonzero(visible)
        d = p[i_n, i_t] - s[i_s, i_t]  # (V, 3) satellite -> target
        range2_m2 = np.einsum("vi,vi->v", d, d)
        irradiance = truth.ir_intensity_w_per_sr[i_n, frames.start + i_t] / range2_m2
        threshold = np.where(
            earth[i_s, i_n, i_t], self.spec.threshold_earth_w_per_m2, self.spec.threshold_space_w_per_m2
        )
        hit = draw[i_s, i_n, i_t] < np.nan_to_num(detection_probability(irradiance, threshold))
        i_s, i_n, i_t, d = i_s[hit], i_n[hit], i_t[hit], d[hit]
        u = d / np.sqrt(range2_m2[hit])[:, None]
        return i_s, i_n, i_t + frames.start, self._perturb(u, rng)

    def _perturb(self, u: Array, rng: np.random.Generator) -> Array:
        """z = (u + σ n₁ e₁ + σ n₂ e₂)/|…| with n ~ N(0, 1) (module docstring, 5)."""
        if u.shape[0] == 0:
            return u
        e1, e2 = perpendicular_basis(u)
        n = rng.standard_normal((u.shape[0], 2)) * self.sigma_los_rad
        z = u + n[:, :1] * e1 + n[:, 1:] * e2
        return z / np.linalg.norm(z, axis=1, keepdims=True)

    def _false_alarms(
        self, sat_pos: Array, rng: np.random.Generator
    ) -> tuple[NDArray[np.intp], NDArray[np.intp], Array]:
        """Poisson counts per satellite per frame; directions uniform in solid angle over the cone."""
        counts = rng.poisson(self.spec.false_alarms_per_frame, size=sat_pos.shape[:2])
        counts[~np.all(np.isfinite(sat_pos), axis=-1)] = 0  # a failed satellite sees nothing
        i_s, i_t = np.nonzero(counts)
        reps = counts[i_s, i_t]
        i_s, i_t = np.repeat(i_s, reps), np.repeat(i_t, reps)
        nadir = -sat_pos[i_s, i_t]
        nadir /= np.linalg.norm(nadir, axis=1, keepdims=True)
        e1, e2 = perpendicular_basis(nadir)
        # Uniform on the cap: cos θ uniform in [cos(FOR/2), 1], azimuth uniform in [0, 2π).
        cos_theta = 1.0 - rng.random(i_s.size) * (1.0 - self._cos_half_for)
        sin_theta = np.sqrt(np.clip(1.0 - cos_theta**2, 0.0, None))
        phi = rng.random(i_s.size) * (2.0 * math.pi)
        z = (
            cos_theta[:, None] * nadir
            + (sin_theta * np.cos(phi))[:, None] * e1
            + (sin_theta * np.sin(phi))[:, None] * e2
        )
        return i_s.astype(np.intp), i_t.astype(np.intp), z
