"""Seeded random streams: one independent `numpy.random.Generator` per named purpose.

Every random draw in Kizuna comes from a stream derived from the scenario seed and a purpose name
(``"civil_traffic"``, ``"sensor:JPN-radar-1"``...). Adding a new consumer never shifts the draws of
the others, so a change in one layer does not reshuffle the rest of a run.
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["stream"]


def stream(seed: int, purpose: str) -> np.random.Generator:
    """The generator for `purpose` under scenario `seed` (PCG64 seeded by a SeedSequence)."""
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(purpose.encode("utf-8"))]))
