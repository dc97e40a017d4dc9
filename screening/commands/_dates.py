"""The command line's one date parser: every ``--as-of``, ``--today`` and ``--since``."""

from __future__ import annotations

import datetime as dt

from data_contracts.errors import ConfigError

EARLIEST = dt.date(1985, 4, 1)
"""China's patent law took effect on 1 April 1985: no record the engine reads is older."""
LATEST = dt.date(2200, 12, 31)
"""Well inside pandas' date range (to 2262), which every table's dates go through."""


def parse_date(text: str | None, option: str) -> dt.date | None:
    """``text`` (``YYYY-MM-DD``) as a date; ``None`` stays ``None``.

    Raises
    ------
    ConfigError
        Not a date, or outside [1985-04-01, 2200-12-31] (an out-of-range date would fail
        deep inside the engine instead of here).
    """
    if text is None:
        return None
    try:
        day = dt.date.fromisoformat(str(text).strip())
    except ValueError:
        raise ConfigError(
            f"{option} must be a date written YYYY-MM-DD. Got {text!r} instead.",
            f"Pass e.g. {option} 2026-09-30.",
        ) from None
    if not EARLIEST <= day <= LATEST:
        raise ConfigError(
            f"{option} {day} is outside the dates the engine works with ({EARLIEST} to {LATEST}).",
            f"Pass the date the data is as of, e.g. {option} 2026-09-30.",
        )
    return day
