"""`TruthSamples`: what every target model in `kizuna.truth` returns.

A target model (flight plans today; ballistic missiles and glide vehicles later) answers one
question: where is each target, and how fast is it moving, at these times? The answer for N targets
at T times is one batch of arrays, ECEF and SI like everything else in Kizuna:

* ``pos_m``        ``(N, T, 3)`` ECEF position [m], NaN where the target is not active;
* ``vel_m_per_s``  ``(N, T, 3)`` ECEF velocity [m/s], NaN where the target is not active;
* ``active``       ``(N, T)`` True where the target exists (launched or airborne, not yet arrived);
* ``phase``        ``(N, T)`` int8 index into `signatures.PHASES` (-1 where inactive);
* ``ir_intensity_w_per_sr`` and ``rcs_m2`` ``(N, T)``: the signatures sensors use (see
  `kizuna.truth.signatures`), NaN where inactive.

Batches from different models sampled at the same times join with `TruthSamples.concatenate`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["TruthSamples"]


@dataclass(frozen=True, eq=False)
class TruthSamples:
    """Positions and velocities of N targets at T common times (see the module docstring).

    ``target_ids`` and ``kinds`` have N entries (``kinds`` names the model: ``"aircraft"``,
    ``"cruise_missile"``, ...); ``t_s`` ``(T,)`` holds the times, seconds since the scenario epoch.
    """

    target_ids: tuple[str, ...]
    kinds: tuple[str, ...]
    t_s: NDArray[np.float64]
    pos_m: NDArray[np.float64]
    vel_m_per_s: NDArray[np.float64]
    active: NDArray[np.bool_]
    phase: NDArray[np.int8]
    ir_intensity_w_per_sr: NDArray[np.float64]
    rcs_m2: NDArray[np.float64]

    def __post_init__(self) -> None:
        n, t_shape = len(self.target_ids), np.shape(self.t_s)
        if len(t_shape) != 1:
            raise ValueError(
                f"TruthSamples.t_s must be 1-D (T,) seconds since the epoch; got shape {t_shape}."
            )
        expected = {
            "kinds": ((len(self.kinds),), (n,)),
            "pos_m": (np.shape(self.pos_m), (n, *t_shape, 3)),
            "vel_m_per_s": (np.shape(self.vel_m_per_s), (n, *t_shape, 3)),
            "active": (np.shape(self.active), (n, *t_shape)),
            "phase": (np.shape(self.phase), (n, *t_shape)),
            "ir_intensity_w_per_sr": (np.shape(self.ir_intensity_w_per_sr), (n, *t_shape)),
            "rcs_m2": (np.shape(self.rcs_m2), (n, *t_shape)),
        }
        for name, (got, want) in expected.items():
            if got != want:
                raise ValueError(
                    f"TruthSamples.{name} has shape {got}, expected {want} for N = len(target_ids) = {n} "
                    f"targets at T = len(t_s) = {t_shape[0]} times: pos_m and vel_m_per_s are (N, T, 3), "
                    "active, phase and the signatures are (N, T), kinds is (N,)."
                )

    @property
    def n_targets(self) -> int:
        return len(self.target_ids)

    def take_times(self, indices: NDArray[np.intp]) -> TruthSamples:
        """The same targets at a subset (or reordering) of the times, by index into ``t_s``."""
        idx = np.asarray(indices, dtype=np.intp)
        return TruthSamples(
            target_ids=self.target_ids,
            kinds=self.kinds,
            t_s=self.t_s[idx],
            pos_m=self.pos_m[:, idx],
            vel_m_per_s=self.vel_m_per_s[:, idx],
            active=self.active[:, idx],
            phase=self.phase[:, idx],
            ir_intensity_w_per_sr=self.ir_intensity_w_per_sr[:, idx],
            rcs_m2=self.rcs_m2[:, idx],
        )

    @staticmethod
    def concatenate(parts: Sequence[TruthSamples]) -> TruthSamples:
        """Stack batches of different targets sampled at the same times into one batch."""
        if not parts:
            raise ValueError("TruthSamples.concatenate needs at least one batch to take the times from.")
        t_s = parts[0].t_s
        for i, part in enumerate(parts[1:], start=1):
            if part.t_s.shape != t_s.shape or not np.array_equal(part.t_s, t_s):
                raise ValueError(
                    f"TruthSamples.concatenate: batch {i} was sampled at different times than batch 0; "
                    "sample every model at the same t_s before joining them."
                )
        return TruthSamples(
            target_ids=tuple(i for p in parts for i in p.target_ids),
            kinds=tuple(k for p in parts for k in p.kinds),
            t_s=t_s,
            pos_m=np.concatenate([p.pos_m for p in parts], axis=0),
            vel_m_per_s=np.concatenate([p.vel_m_per_s for p in parts], axis=0),
            active=np.concatenate([p.active for p in parts], axis=0),
            phase=np.concatenate([p.phase for p in parts], axis=0),
            ir_intensity_w_per_sr=np.concatenate([p.ir_intensity_w_per_sr for p in parts], axis=0),
            rcs_m2=np.concatenate([p.rcs_m2 for p in parts], axis=0),
        )
