"""Target motion ("truth"): where every target is, and how fast it moves, at requested times.

Owns the trajectories of everything sensors look at: aircraft and cruise missiles flying
waypoints (`waypoints`), civil air traffic built from airports and airways (`traffic`); ballistic
missiles (`ballistic`, on the `flight` model) and glide vehicles join them. Every model answers the same question the same way:
given times ``t_s (T,)`` it returns a `TruthSamples` batch, ``pos_m``/``vel_m_per_s`` ``(N, T, 3)``
ECEF and ``active (N, T)``; batches of different models join with `TruthSamples.concatenate`.

May import `kizuna.constants` and `kizuna.frames` only (NumPy aside): truth knows nothing of sensors,
tracking or the network.
"""

from kizuna.truth.ballistic import RANGE_CLASSES, BallisticShot, fly_ballistic, solve_ballistic
from kizuna.truth.missiles import Missile, sample_missiles
from kizuna.truth.samples import TruthSamples
from kizuna.truth.traffic import Airport, generate_civil_traffic
from kizuna.truth.waypoints import FLIGHT_PLAN_KINDS, FlightPlan, sample_plans, with_cruise_terminal

__all__ = [
    "FLIGHT_PLAN_KINDS",
    "RANGE_CLASSES",
    "Airport",
    "BallisticShot",
    "FlightPlan",
    "Missile",
    "TruthSamples",
    "fly_ballistic",
    "generate_civil_traffic",
    "sample_missiles",
    "sample_plans",
    "solve_ballistic",
    "with_cruise_terminal",
]
