"""Target motion ("truth"): where every target is, and how fast it moves, at requested times.

Owns the trajectories of everything sensors look at: aircraft and cruise missiles flying
waypoints (`waypoints`), civil air traffic (`traffic`), ballistic missiles (`ballistic`) and glide
vehicles (`glide`) flown on the 3-DOF point-mass model (`flight`, `atmosphere`), and the
signatures sensors use (`signatures`). Every model answers the same question the same way: given
times ``t_s (T,)`` it returns a `TruthSamples` batch (``pos_m``/``vel_m_per_s`` ``(N, T, 3)`` ECEF,
``active``, ``phase`` and signatures ``(N, T)``); batches join with `TruthSamples.concatenate`.

May import `kizuna.constants`, `kizuna.frames` and `ambiance`; `build` alone also reads the scenario
schema, to turn scenario entries into models. Truth knows nothing of sensors, tracking or the network.
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
