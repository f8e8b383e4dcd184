"""Release rules: which partner may receive which track.

A scenario's ``[[release]]`` rules are permissions: rule (nation N, to [D…], categories, sources)
lets N release to each D its tracks of those categories built from those kinds of sensor. Nothing
is released without a rule, and a nation's own data always goes back to itself.

A track carries its **pedigree**: per nation, the bitmask of the sensor kinds of that nation whose
data built it (`kizuna.network.messages.SOURCE_BITS`; 0 = the nation did not contribute). A track
may go to nation D only if **every** contributor allows it: for each contributor C, every source
kind in C's bits must be permitted to D for the track's category by some rule of C. So nothing a
nation was not cleared for ever reaches it, directly or folded into a fused track.

Rules are compiled once into a table ``allowed[C, D, category]`` of permitted source bits, and a
decision over N tracks is a few array operations.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kizuna.network.messages import CATEGORIES, SOURCE_BITS
from kizuna.scenario.schema import ReleaseRule

__all__ = ["ALL_SOURCES", "ReleasePolicy"]

ALL_SOURCES = int(np.bitwise_or.reduce(np.array(list(SOURCE_BITS.values()), dtype=np.uint8)))
"""Every source-kind bit."""


class ReleasePolicy:
    """Compiled release rules over the coalition's ``nations`` (module docstring)."""

    def __init__(self, nations: Sequence[str], rules: Sequence[ReleaseRule]) -> None:
        self.nations: tuple[str, ...] = tuple(nations)
        self.index = {n: i for i, n in enumerate(self.nations)}
        k = len(self.nations)
        allowed = np.zeros((k, k, len(CATEGORIES)), dtype=np.uint8)
        for rule in rules:
            c = self._at(rule.nation, "release rule's nation")
            cats = range(len(CATEGORIES)) if "all" in rule.categories else [
                CATEGORIES.index(x) for x in rule.categories
            ]  # fmt: skip
            bits = ALL_SOURCES if "all" in rule.sources else int(
                np.bitwise_or.reduce(np.array([SOURCE_BITS[s] for s in rule.sources], dtype=np.uint8))
            )  # fmt: skip
            for dest in rule.to:
                d = self._at(dest, "release rule's partner")
                for cat in cats:
                    allowed[c, d, cat] |= bits
        for i in range(k):
            allowed[i, i, :] = ALL_SOURCES
        self.allowed = allowed

    def _at(self, nation: str, what: str) -> int:
        try:
            return self.index[nation]
        except KeyError:
            raise ValueError(f"{what} {nation!r} is not a coalition nation {list(self.nations)}") from None

    def releasable(self, pedigree: ArrayLike, category: ArrayLike, dest: str) -> NDArray[np.bool_]:
        """Whether each of N tracks (``pedigree (N, K)`` source bits per nation in `nations` order,
        ``category (N,)`` codes) may go to ``dest``: every contributor allows every kind it gave."""
        ped = np.asarray(pedigree, dtype=np.uint8).reshape(-1, len(self.nations))
        cat = np.asarray(category, dtype=np.intp).reshape(-1)
        permitted = self.allowed[:, self._at(dest, "destination"), :][:, cat].T  # (N, K)
        return ~np.any(ped & ~permitted, axis=1)

    def audience(self, pedigree: ArrayLike, category: ArrayLike) -> NDArray[np.bool_]:
        """``(N, K)``: for each track, which nations may receive it (`releasable` for each)."""
        return np.stack([self.releasable(pedigree, category, d) for d in self.nations], axis=1)

    def reach(self, nation: str, category: int, sources: int) -> frozenset[str]:
        """The nations that may receive ``nation``'s own track of ``category`` built from
        ``sources`` (itself included)."""
        c = self._at(nation, "nation")
        ok = (np.uint8(sources) & ~self.allowed[c, :, int(category)]) == 0
        return frozenset(n for n, yes in zip(self.nations, ok, strict=True) if yes)
