"""Track-to-track fusion: association of tracks from several sources, covariance intersection, system
track numbering and the picture.

Owns covariance intersection and its batched multi-estimate forms (`kizuna.fusion.ci`) and
track-to-track association of two track sets (`kizuna.fusion.t2t`). Inputs are batches in the
tracking convention — ``x (N, n)``, ``P (N, n, n)``, ECEF, SI units, position then velocity.

May import NumPy, SciPy, `kizuna.constants`, `kizuna.frames` and `kizuna.tracking` (models/filters);
never network, sensors or simulation.
"""

from kizuna.fusion.ci import CiResult, covariance_intersection, fuse_estimates, fuse_groups, naive_fusion
from kizuna.fusion.t2t import T2tAssignment, T2tPairs, associate_tracks, gate, t2t_distances

__all__ = [
    "CiResult",
    "T2tAssignment",
    "T2tPairs",
    "associate_tracks",
    "covariance_intersection",
    "fuse_estimates",
    "fuse_groups",
    "gate",
    "naive_fusion",
    "t2t_distances",
]
