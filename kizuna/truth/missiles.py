"""Flown missiles (ballistic and glide) as truth samples with their signatures.

`Missile` is what `ballistic.py` and `glide.py` produce: a `flight.Trajectory` plus the few body
dimensions the infrared proxy needs. `sample_missiles` turns a batch of them into `TruthSamples`
at common times, with phase, infrared intensity (plume while a stage burns, Sutton–Graves
aero-heating, a 300 K body floor; see `signatures`) and the aspect-averaged radar cross-section.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kizuna.constants import STANDARD_GRAVITY_M_PER_S2
from kizuna.frames import ecef_to_geodetic
from kizuna.truth.atmosphere import density_kg_per_m3
from kizuna.truth.flight import Trajectory, Vehicle
from kizuna.truth.samples import TruthSamples
from kizuna.truth.signatures import (
    PHASES,
    aeroheating_intensity_w_per_sr,
    body_intensity_w_per_sr,
    nominal_rcs_m2,
    plume_intensity_w_per_sr,
)

__all__ = ["MISSILE_KINDS", "Missile", "sample_missiles"]

MISSILE_KINDS = ("ballistic_missile", "glide_vehicle")


@dataclass(frozen=True, eq=False)
class Missile:
    """A missile that has been flown: who it is, what flew, and its body dimensions for the IR proxy.

    ``nose_radius_m`` and ``hot_area_m2`` feed the Sutton–Graves aero-heating proxy (the hot area is
    the body area weighted by its heat flux relative to the stagnation point); ``body_area_m2`` the
    300 K thermal floor. Trajectory phase names must be names in `signatures.PHASES`.
    """

    target_id: str
    kind: str
    vehicle: Vehicle
    trajectory: Trajectory
    nose_radius_m: float = 0.05
    hot_area_m2: float = 0.005
    body_area_m2: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in MISSILE_KINDS:
            raise ValueError(
                f"Missile {self.target_id!r}: kind must be one of {MISSILE_KINDS}; got {self.kind!r}"
            )
        unknown = [p for p in self.trajectory.phase_names if p not in PHASES]
        if unknown:
            raise ValueError(f"Missile {self.target_id!r}: phases {unknown} are not in {PHASES}")


def _plume_w_per_sr(missile: Missile, t_s: NDArray[np.float64]) -> NDArray[np.float64]:
    """Plume intensity while a stage burns (zero otherwise), from that stage's thrust and Isp."""
    stages = missile.vehicle.stages
    out = np.zeros_like(t_s)
    if not stages:
        return out
    elapsed = t_s - missile.trajectory.launch_time_s
    ends = missile.vehicle.burnout_times_s()
    starts = np.concatenate([[0.0], ends[:-1]])
    for stage, start, end in zip(stages, starts, ends, strict=True):
        burning = (elapsed >= start) & (elapsed < end)
        out[burning] = plume_intensity_w_per_sr(stage.thrust_n, stage.isp_s * STANDARD_GRAVITY_M_PER_S2)
    return out


def sample_missiles(missiles: Sequence[Missile], t_s: ArrayLike) -> TruthSamples:
    """Positions, velocities, phases and signatures of every missile at times ``t_s (T,)``."""
    t = np.asarray(t_s, dtype=np.float64)
    n, n_t = len(missiles), t.size
    pos = np.full((n, n_t, 3), np.nan)
    vel = np.full((n, n_t, 3), np.nan)
    active = np.zeros((n, n_t), dtype=bool)
    phase = np.full((n, n_t), -1, dtype=np.int8)
    ir = np.full((n, n_t), np.nan)
    rcs = np.full((n, n_t), np.nan)
    for i, m in enumerate(missiles):
        p, v, on, phase_index = m.trajectory.sample(t)
        pos[i], vel[i], active[i] = p, v, on
        if not on.any():
            continue
        codes = np.array([PHASES.index(name) for name in m.trajectory.phase_names], dtype=np.int8)
        phase[i, on] = codes[phase_index[on]]
        _, _, alt = ecef_to_geodetic(p[on])
        speed = np.linalg.norm(v[on], axis=1)
        ir[i, on] = (
            _plume_w_per_sr(m, t[on])
            + aeroheating_intensity_w_per_sr(density_kg_per_m3(alt), speed, m.nose_radius_m, m.hot_area_m2)
            + body_intensity_w_per_sr(m.body_area_m2)
        )
        nominal = np.array([nominal_rcs_m2(m.kind, name) for name in m.trajectory.phase_names])
        rcs[i, on] = nominal[phase_index[on]]
    return TruthSamples(
        target_ids=tuple(m.target_id for m in missiles),
        kinds=tuple(m.kind for m in missiles),
        t_s=t.copy(),
        pos_m=pos,
        vel_m_per_s=vel,
        active=active,
        phase=phase,
        ir_intensity_w_per_sr=ir,
        rcs_m2=rcs,
    )
