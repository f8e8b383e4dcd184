"""Metrics: compare tracks with truth.

Owns GOSPA (`kizuna.metrics.gospa`), filter consistency — NEES and NIS with χ² bands
(`kizuna.metrics.consistency`) — and per-target custody timelines (`kizuna.metrics.custody`).
Inputs are plain arrays and DataFrames of truth and track states (SI units, ECEF positions), so
metrics work on a live run, a recording or a test alike.

May import NumPy, SciPy and pandas, and read truth and track arrays; imports nothing else from
Kizuna. Nothing imports metrics except `kizuna.simulation` and `kizuna.report`.
"""

from kizuna.metrics.consistency import (
    ConsistencyCheck,
    check_consistency,
    chi2_band,
    nees,
    nis,
)
from kizuna.metrics.custody import assign_tracks_to_truth, custody
from kizuna.metrics.gospa import GospaResult, GospaSeries, gospa, gospa_series
from kizuna.metrics.siap import CommonalityResult, SiapResult, commonality, siap, siap_association

__all__ = [
    "CommonalityResult",
    "ConsistencyCheck",
    "GospaResult",
    "GospaSeries",
    "SiapResult",
    "assign_tracks_to_truth",
    "check_consistency",
    "chi2_band",
    "commonality",
    "custody",
    "gospa",
    "gospa_series",
    "nees",
    "nis",
    "siap",
    "siap_association",
]
