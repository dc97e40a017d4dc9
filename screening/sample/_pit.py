"""Point-in-time look-ups for many (firm, date) queries at once.

A fact that starts or stops counting at a date is a step (+1/-1) in a per-firm step
function. Sorting all steps by (firm, day) once and taking a cumulative sum answers any
number of "value at day d for firm f" queries with two binary searches, which is how the
ground-truth PD sees exactly the facts known at each loan date without a per-firm loop.
"""

from __future__ import annotations

import numpy as np

_SHIFT = np.int64(1) << np.int64(21)  # ~5,700 years of days after the offset below
_OFFSET = np.int64(-40_000)  # days before 1970 still representable (~1860)


def _key(firm: np.ndarray, day: np.ndarray) -> np.ndarray:
    return firm.astype(np.int64) * _SHIFT + (np.asarray(day, dtype=np.int64) - _OFFSET)


class StepCounter:
    """Sum of per-firm steps up to and including a day.

    Parameters
    ----------
    firm, day, delta : ndarray
        One step each: ``delta`` is added to the firm's value from ``day`` on.
    """

    def __init__(self, firm: np.ndarray, day: np.ndarray, delta: np.ndarray) -> None:
        keys = _key(firm, day)
        order = np.argsort(keys, kind="stable")
        self._keys = keys[order]
        self._cum = np.concatenate([[0.0], np.cumsum(np.asarray(delta, dtype=float)[order])])

    def at(self, firm: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Value of each query firm's step function at the query day (inclusive)."""
        hi = np.searchsorted(self._keys, _key(firm, day), side="right")
        lo = np.searchsorted(self._keys, _key(firm, np.full_like(day, _OFFSET)), side="left")
        return self._cum[hi] - self._cum[lo]


class LatestValue:
    """The value of a firm's latest record dated on or before a day (else ``default``)."""

    def __init__(self, firm: np.ndarray, day: np.ndarray, value: np.ndarray) -> None:
        keys = _key(firm, day)
        order = np.argsort(keys, kind="stable")
        self._keys = keys[order]
        self._firm = np.asarray(firm)[order]
        self._value = np.asarray(value)[order]

    def at(self, firm: np.ndarray, day: np.ndarray, default):
        """Latest value per query, ``default`` where the firm has none yet."""
        idx = np.searchsorted(self._keys, _key(firm, day), side="right") - 1
        safe = np.clip(idx, 0, max(len(self._keys) - 1, 0))
        if len(self._keys) == 0:
            return np.full(len(firm), default)
        found = (idx >= 0) & (self._firm[safe] == firm)
        return np.where(found, self._value[safe], default)
