"""A weaving hypersonic glider is held by the IMM and lost by a single CV filter tuned for quiet flight.

Target (`kizuna.truth.glide`, flown as in test_truth_glide): the default glider (60 km / 5,000 m/s
entry) launched from 20° N 150° E at an aim 3,000 km due east, flown once **straight** and once with
an **S-weave** of bank ±60° reversed every 60 s (two cycles, 331.5-571.5 s after launch). Tracked
from 320 s to 700 s: Mach 8.9-14.2 at 31-40 km. Measured on the flights (first test):

* the straight glide is not constant-velocity in ECEF: drag, following the Earth's curvature and
  Coriolis give it 4.0-6.0 m/s² of slowly turning acceleration, < 0.2 m/s² of it sideways;
* the weave adds a lateral acceleration of 6-17 m/s² (mean magnitude 11 m/s², 0.6-1.7 g) whose sign
  flips at each reversal: jumps of 13-29 m/s² between two scans. The 30° weave of test_truth_glide
  (4 m/s²) and a 45° one (5-8 m/s²) are *held* by the quiet CV below: the claim needs an aggressive
  weave.

Sensor: ECEF positions at 1 Hz with σ = 300 m per axis (stereo-triangulated fixes of two LEO infrared
sensors, `kizuna.tracking.stereo`, idealised as isotropic), seeded noise, the same noise and the
same initial error for both flights and all trackers.

Each tracker runs scan by scan as `kizuna.tracking.tracker` does: predict, gate the detection with
d² = νᵀS⁻¹ν ≤ γ = χ²₃⁻¹(0.9999) = 21.1 (`association.gate_threshold` at the default gate probability),
update when gated, else a miss (the filter keeps its prediction); K = 5 consecutive misses (the
tracker's ``DEFAULT_LIFECYCLE``) is a lost track. The IMM is gated on its moment-matched prediction
(`filters.Imm.combine`), the one state a track table holds.

* **CV, q = 20 m²/s³**, tuned for non-manoeuvring flight by the rule that √(qT) be of the order of
  the target's acceleration (Bar-Shalom, Li & Kirubarajan 2001, §6.2.2): √20 = 4.5 m/s², the glide's
  own. It holds the straight glide and loses the weave about 120 s into it, in the strongest
  reversals. Neighbouring q (seeds 0-1): q ≥ 5 holds the straight glide; q ≤ 30 loses the weave;
  q = 50 holds it with a few single misses, q = 100 with at most one.
* **IMM** (Blom & Bar-Shalom 1988, `filters.Imm`), Π = [[0.99, 0.01], [0.01, 0.99]]: a *quiet* mode
  CA with white jerk q = 0.01 m²/s⁵ and a *manoeuvre* mode CV with q = 1,000 m²/s³. The quiet mode is
  CA, not the textbook CV, because the quiet glide is not constant-velocity in ECEF (above): an IMM
  of CV q = 20 and CV q = 1,000 also holds the weave, but keeps its manoeuvre mode at ≈ 0.3 on the
  *straight* glide and is worse there than a single CV of q = 100 (260-290 m against 240-260 m; 47
  against 40 m/s), whereas a nearly-constant-acceleration mode fits it (the straight glide's
  acceleration drifts by ≤ 0.035 m/s³). The manoeuvre mode must absorb a 13-29 m/s² jump of
  acceleration within a scan or two: a CV mode with √(qT) ≈ 32 m/s² does. Singer (τ 10 s, σ 10 m/s²)
  works too but stays more probable on the straight glide (0.10-0.13 against 0.08-0.10) and smooths
  less (21-22 against 16-17 m/s); a high-jerk CA mode (q = 30 m²/s⁵) separates the modes less
  (0.42-0.45 in the weave). The quiet CA run alone loses the weave: it is the mixing that holds it.

Fair comparison: a CV with q large enough to hold the weave (q = 100: √(qT) = 10 m/s², the weave's
lateral acceleration) has, on the straight glide, 1.2-1.4× the IMM's position RMS and 1.7-2.6× its
velocity RMS: an unmodelled 4-6 m/s² needs a high-gain CV, which then follows the noise.

Margins, detection-noise seeds 0-19 (the test runs seed 0, its values in brackets):

| quantity | seeds 0-19 | asserted |
| --- | --- | --- |
| quiet CV, straight: misses | none in 18 seeds, one single miss in 2 [none] | no run over 1 |
| quiet CV, weave: lost at | 417-460 s [460 s] | lost inside the weave |
| quiet CA alone, weave: lost at | 391-445 s [404 s] | lost inside the weave |
| IMM, weave: largest d² / γ | 0.53-1.03: 2 seeds have one isolated miss [0.65] | every detection gated |
| IMM, weave: position RMS | 260-309 m [291 m] | < σ√3 = 520 m |
| IMM manoeuvre mode, weave scans | 0.47-0.64 weaving, 0.075-0.12 straight [0.61, 0.08] | > 0.4, < 0.2 |
| IMM mean d² over the weave | 2.63-3.09 [3.00] | < 3.5 |
| CV q = 100 / IMM, straight glide RMS | position 1.19-1.43, velocity 1.66-2.57 [1.38, 2.25] | > 1.1, > 1.5 |

Every assertion holds for 18 of the 20 seeds; seeds 9 and 13 each have one isolated IMM miss (d² 1.01 γ
and 1.03 γ), never a second in a row. That is the gate's own rate: even a perfectly matched filter
misses one of its 380 detections with probability 1 − 0.9999³⁸⁰ = 3.7 %.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest

from kizuna.constants import DEG
from kizuna.frames import ecef_to_geodetic
from kizuna.sensors.detections import Z_MAX
from kizuna.tracking import filters, models
from kizuna.tracking.association import gate_threshold
from kizuna.truth.atmosphere import speed_of_sound_m_per_s
from kizuna.truth.glide import GlidePlan, Manoeuvre, plan_glide
from kizuna.truth.missiles import Missile

# The east shot of test_truth_glide: launch 20° N 150° E, aim the great-circle destination 3,000 km
# away at an initial azimuth of 90° (spherical sine and cosine rules on the mean sphere).
LAUNCH_LAT_DEG, LAUNCH_LON_DEG = 20.0, 150.0
AIM_LAT_DEG, AIM_LON_DEG = 17.745976, 178.446564
WEAVE = Manoeuvre("s_weave", period_s=60.0, bank_rad=60.0 * DEG)
T_START_S, T_END_S, SCAN_S = 320.0, 700.0, 1.0

SIGMA_M = 300.0
GATE_PROBABILITY = 0.9999  # `association.AssociationParameters` default
GAMMA = gate_threshold("position", GATE_PROBABILITY)  # 21.1
K_MISSES = 5  # `tracker.DEFAULT_LIFECYCLE.max_consecutive_misses`
SEED = 0

CV_QUIET = models.ConstantVelocity(20.0)
CV_HOLDS_WEAVE = models.ConstantVelocity(100.0)
CA_QUIET = models.ConstantAcceleration(0.01)
IMM = filters.Imm([CA_QUIET, models.ConstantVelocity(1_000.0)], np.array([[0.99, 0.01], [0.01, 0.99]]))
MANOEUVRE_MODE = 1

NO_SENSOR = np.zeros((1, 3))  # position measurements need no sensor position or velocity
COV = np.full((1, Z_MAX, Z_MAX), np.nan)
COV[0, :3, :3] = SIGMA_M**2 * np.eye(3)


class Flight(NamedTuple):
    """Truth at the scan times ``t_s (n,)``: ECEF ``x (n, 6)`` and ``accel_m_per_s2 (n, 3)``, Mach, and
    ``weave (n,)``, True inside the S-weave's window (`ManoeuvreSchedule`). Scan 0 initialises."""

    t_s: np.ndarray
    x: np.ndarray
    accel_m_per_s2: np.ndarray
    mach: np.ndarray
    weave: np.ndarray


class Run(NamedTuple):
    """One tracker over the scans 1..n-1: state after each scan ``x``, its d², whether it was gated, and
    for the IMM the mode probabilities ``mu (n-1, 2)``."""

    x: np.ndarray
    d2: np.ndarray
    gated: np.ndarray
    mu: np.ndarray | None = None


def fly(manoeuvre: Manoeuvre) -> tuple[GlidePlan, Missile]:
    plan = plan_glide(
        LAUNCH_LAT_DEG * DEG, LAUNCH_LON_DEG * DEG, AIM_LAT_DEG * DEG, AIM_LON_DEG * DEG, manoeuvre=manoeuvre
    )
    return plan, plan.fly("hgv")


def sample(plan: GlidePlan, missile: Missile) -> Flight:
    traj = missile.trajectory
    t = np.arange(T_START_S, T_END_S + 0.5 * SCAN_S, SCAN_S)
    pos, vel, _, _ = traj.sample(t)
    terms = traj.accelerations(t)
    accel = terms.gravity + terms.frame + terms.thrust + terms.drag + terms.lift
    _, _, alt = ecef_to_geodetic(pos)
    mach = np.linalg.norm(vel, axis=1) / speed_of_sound_m_per_s(alt)
    s = plan.schedule
    t_glide = traj.phase_start_s[1]
    weave = (t >= t_glide + s.start_s) & (t <= t_glide + s.end_s)
    return Flight(t, np.concatenate([pos, vel], axis=1), accel, mach, weave)


def lateral_m_per_s2(f: Flight) -> np.ndarray:
    """Acceleration to the right of the velocity, horizontally (geodetic up)."""
    lat, lon, _ = ecef_to_geodetic(f.x[:, :3])
    up = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], axis=1)
    right = np.cross(f.x[:, 3:], up)
    right /= np.linalg.norm(right, axis=1, keepdims=True)
    return np.sum(f.accel_m_per_s2 * right, axis=1)


def detections(f: Flight, noise_m: np.ndarray) -> np.ndarray:
    """Padded ``position`` rows ``(n-1, Z_MAX)`` for scans 1..n-1."""
    z = np.full((len(f.t_s) - 1, Z_MAX), np.nan)
    z[:, :3] = f.x[1:, :3] + noise_m[1:]
    return z


def track_single(model: models.MotionModel, x0: np.ndarray, p0: np.ndarray, z: np.ndarray) -> Run:
    x, p = x0[None, :], p0[None, :, :]
    xs, d2, gated = np.empty((len(z), x0.size)), np.empty(len(z)), np.zeros(len(z), dtype=bool)
    for k in range(len(z)):
        x, p = filters.predict(model, x, p, [SCAN_S])
        res = filters.ekf_update(x, p, "position", z[k : k + 1], COV, NO_SENSOR, NO_SENSOR)
        d2[k] = res.nis[0]
        if d2[k] <= GAMMA:
            x, p, gated[k] = res.x, res.P, True
        xs[k] = x[0]
    return Run(xs, d2, gated)


def track_imm(x0: np.ndarray, p0: np.ndarray, z: np.ndarray) -> Run:
    state = IMM.initial_state(x0[None, :], p0[None, :, :], [0.9, 0.1])
    xs, d2, gated = np.empty((len(z), x0.size)), np.empty(len(z)), np.zeros(len(z), dtype=bool)
    mu = np.empty((len(z), 2))
    for k in range(len(z)):
        state = IMM.predict(state, [SCAN_S])
        x, p = filters.Imm.combine(state)
        d2[k] = filters.ekf_update(x, p, "position", z[k : k + 1], COV, NO_SENSOR, NO_SENSOR).nis[0]
        if d2[k] <= GAMMA:
            state = IMM.update(state, "position", z[k : k + 1], COV, NO_SENSOR, NO_SENSOR)
            gated[k] = True
        xs[k], mu[k] = filters.Imm.combine(state)[0][0], state.mu[0]
    return Run(xs, d2, gated, mu)


def first_loss_s(run: Run, t_s: np.ndarray) -> float | None:
    """Time of the scan that completes the first run of K consecutive misses (None: never lost)."""
    misses = 0
    for gated, t in zip(run.gated, t_s, strict=True):
        misses = 0 if gated else misses + 1
        if misses == K_MISSES:
            return float(t)
    return None


def longest_miss_run(run: Run) -> int:
    longest = misses = 0
    for gated in run.gated:
        misses = 0 if gated else misses + 1
        longest = max(longest, misses)
    return longest


def rms_m(run: Run, f: Flight, cols: slice, rows: np.ndarray) -> float:
    err = run.x[:, cols] - f.x[1:, cols]
    return float(np.sqrt(np.mean(np.sum(err[rows] ** 2, axis=1))))


def run_all(seed: int, flights: dict[str, Flight]) -> dict[tuple[str, str], Run]:
    """Every tracker over both flights with the same detection noise and the same initial error."""
    rng = np.random.default_rng(seed)
    n = len(flights["weave"].t_s)
    noise_m = rng.normal(0.0, SIGMA_M, (n, 3))
    p0 = np.diag([SIGMA_M**2] * 3 + [50.0**2] * 3)
    error0 = rng.normal(size=6) * np.sqrt(np.diag(p0))
    p0_ca = np.zeros((9, 9))
    p0_ca[:6, :6] = p0
    p0_ca[6:, 6:] = 10.0**2 * np.eye(3)  # acceleration prior 0 ± 10 m/s² per axis
    out = {}
    for name, f in flights.items():
        z = detections(f, noise_m)
        x0 = f.x[0] + error0
        x0_ca = np.concatenate([x0, np.zeros(3)])
        out["cv_quiet", name] = track_single(CV_QUIET, x0, p0, z)
        out["cv_holds_weave", name] = track_single(CV_HOLDS_WEAVE, x0, p0, z)
        out["ca_quiet", name] = track_single(CA_QUIET, x0_ca, p0_ca, z)
        out["imm", name] = track_imm(x0_ca, p0_ca, z)
    return out


@pytest.fixture(scope="module")
def flights() -> dict[str, Flight]:
    return {"weave": sample(*fly(WEAVE)), "straight": sample(*fly(Manoeuvre("straight")))}


@pytest.fixture(scope="module")
def runs(flights: dict[str, Flight]) -> dict[tuple[str, str], Run]:
    return run_all(SEED, flights)


# --- The target ------------------------------------------------------------------------------------


def test_weave_is_hypersonic_and_pulls_up_to_1_7_g_sideways(flights: dict[str, Flight]) -> None:
    # Mach ≥ 5 (US 1976 speed of sound) over the whole window (measured 8.9-14.2). The straight glide's
    # ECEF acceleration is 4.0-6.0 m/s² (drag, curvature, Coriolis), < 0.2 m/s² of it sideways; the
    # weave's lateral acceleration peaks at 16.7 m/s² and averages 11.0 m/s² in magnitude.
    weave, straight = flights["weave"], flights["straight"]
    assert weave.mach.min() > 5.0 and straight.mach.min() > 5.0
    a_quiet = np.linalg.norm(straight.accel_m_per_s2, axis=1)
    assert a_quiet.min() > 3.5 and a_quiet.max() < 6.5, (a_quiet.min(), a_quiet.max())
    assert np.abs(lateral_m_per_s2(straight)).max() < 0.5
    lat = lateral_m_per_s2(weave)[weave.weave]
    assert 15.0 < np.abs(lat).max() < 18.0, np.abs(lat).max()
    assert 10.0 < np.abs(lat).mean() < 12.0, np.abs(lat).mean()
    assert lat.max() > 10.0 and lat.min() < -10.0  # both ways


# --- The single CV filter --------------------------------------------------------------------------


def test_cv_tuned_for_the_quiet_glide_holds_it_and_loses_the_weave(flights, runs) -> None:
    weave, straight = flights["weave"], flights["straight"]
    # Straight glide: never lost (seed 0: every detection gated, largest d² 0.81 γ; seeds 0-19: at most
    # one single miss).
    assert first_loss_s(runs["cv_quiet", "straight"], straight.t_s[1:]) is None
    assert longest_miss_run(runs["cv_quiet", "straight"]) <= 1
    # Weave: K consecutive misses, inside the weave (seed 0: at 460 s, in the third reversal interval,
    # where the lateral acceleration peaks; seeds 0-19: 417-460 s).
    lost_s = first_loss_s(runs["cv_quiet", "weave"], weave.t_s[1:])
    t_weave = weave.t_s[weave.weave]
    assert lost_s is not None and t_weave[0] < lost_s <= t_weave[-1], lost_s


# --- The IMM ---------------------------------------------------------------------------------------


def test_imm_holds_the_weave_where_its_quiet_mode_alone_loses_it(flights, runs) -> None:
    weave, straight = flights["weave"], flights["straight"]
    imm = runs["imm", "weave"]
    # Every detection of the window gated, weave and straight (seed 0: largest d² 0.65 γ on the weave).
    assert imm.gated.all(), np.flatnonzero(~imm.gated)
    assert runs["imm", "straight"].gated.all()
    # Position RMS over the weave below σ√3 = 520 m, the 3-D RMS error of one raw detection: a track no
    # better than its detections would have no reason to exist (seed 0: 291 m).
    assert rms_m(imm, weave, slice(0, 3), weave.weave[1:]) < SIGMA_M * np.sqrt(3.0)
    # The IMM's quiet mode run alone holds the straight glide and loses the weave (seed 0: at 404 s):
    # the mixing holds it.
    assert first_loss_s(runs["ca_quiet", "straight"], straight.t_s[1:]) is None
    lost_s = first_loss_s(runs["ca_quiet", "weave"], weave.t_s[1:])
    t_weave = weave.t_s[weave.weave]
    assert lost_s is not None and t_weave[0] < lost_s <= t_weave[-1], lost_s


def test_imm_manoeuvre_mode_takes_over_during_the_weave(flights, runs) -> None:
    # Mean probability of the manoeuvre mode over the weave's scans: 0.61 on the weaving flight and 0.08
    # over the same scans of the straight one (seed 0).
    rows = flights["weave"].weave[1:]
    mu_weave = runs["imm", "weave"].mu[rows, MANOEUVRE_MODE].mean()
    mu_straight = runs["imm", "straight"].mu[rows, MANOEUVRE_MODE].mean()
    assert mu_weave > 0.4 and mu_straight < 0.2, (mu_weave, mu_straight)
    # Its d² is consistent on the weave: mean 3.00 for the 3 of a consistent filter (seed 0).
    assert runs["imm", "weave"].d2[rows].mean() < 3.5


def test_imm_beats_a_cv_that_holds_the_weave_on_the_quiet_glide(flights, runs) -> None:
    # CV q = 100 holds the weave (seed 0: no miss); on the straight glide, after 30 s of settling, its
    # position RMS is 262 m against the IMM's 190 m and its velocity RMS 39 m/s against 17 m/s.
    weave, straight = flights["weave"], flights["straight"]
    assert first_loss_s(runs["cv_holds_weave", "weave"], weave.t_s[1:]) is None
    settled = straight.t_s[1:] > T_START_S + 30.0
    imm, cv = runs["imm", "straight"], runs["cv_holds_weave", "straight"]
    pos_ratio = rms_m(cv, straight, slice(0, 3), settled) / rms_m(imm, straight, slice(0, 3), settled)
    vel_ratio = rms_m(cv, straight, slice(3, 6), settled) / rms_m(imm, straight, slice(3, 6), settled)
    assert pos_ratio > 1.1 and vel_ratio > 1.5, (pos_ratio, vel_ratio)
