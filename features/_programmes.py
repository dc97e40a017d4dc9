"""Programme memberships at an as-of date."""

from __future__ import annotations

import numpy as np
import pandas as pd

from data_contracts.contracts import PROGRAMME_CODES
from features._credit import _require, to_timestamp

PROGRAMMES = PROGRAMME_CODES
LEVEL_VALUE = {"city": 1, "provincial": 2, "national": 3}
# Level when the list does not say: 小巨人 and 高新 are national recognitions, 专精特新中小企业
# provincial; anything else counts as the lowest level (city) so nothing is over-credited.
DEFAULT_LEVEL = {"little_giant": 3, "high_tech": 3, "srdi_sme": 2}
STANDARD_2013_VOID_AFTER = pd.Timestamp("2025-12-31")
PROGRAMME_DEFAULT_YEARS = 3


def valid_to_filled(programmes: pd.DataFrame) -> pd.Series:
    """``valid_to``, or the programme default when empty (3 years; tech_sme: 31 Dec of the
    year after valid_from). The contract normally fills it; this guards plain tables."""
    vf = programmes["valid_from"].astype("datetime64[ns]")
    vt = programmes["valid_to"].astype("datetime64[ns]").copy()
    miss = vt.isna() & vf.notna()
    tech = miss & (programmes["programme"] == "tech_sme")
    other = miss & ~tech
    vt[other] = vf[other] + pd.DateOffset(years=PROGRAMME_DEFAULT_YEARS) - pd.Timedelta(days=1)
    vt[tech] = pd.to_datetime((vf[tech].dt.year + 1).astype("str") + "-12-31")
    return vt


def level_value(programmes: pd.DataFrame) -> np.ndarray:
    """Numeric level 1 city / 2 provincial / 3 national (programme default when empty)."""
    lv = programmes["level"].map(LEVEL_VALUE).astype("float64")
    default = programmes["programme"].map(DEFAULT_LEVEL).astype("float64").fillna(1.0)
    return lv.fillna(default).to_numpy()


STANDARD_2023_IN_FORCE = pd.Timestamp("2024-01-01")
"""GB/T 29490-2023 took effect on this day: a 贯标 certificate issued earlier is a 2013 one."""


def is_2013_standard(programmes: pd.DataFrame) -> np.ndarray:
    """贯标 certificates of the 2013 standard: so stated, or with no version and issued
    (valid_from) before the 2023 standard took effect — real lists often have no version
    column, and such a certificate must still be void after 2025-12-31."""
    p = programmes
    version = (
        p["standard_version"].astype("str")
        if "standard_version" in p.columns
        else pd.Series(pd.NA, index=p.index, dtype="str")
    )
    before = p["valid_from"].astype("datetime64[ns]") < STANDARD_2023_IN_FORCE
    old = (version == "2013").fillna(False) | (version.isna() & before.fillna(False))
    return ((p["programme"].astype("str") == "ip_standard").fillna(False) & old).to_numpy(bool)


def status_ok(programmes: pd.DataFrame) -> np.ndarray:
    """Valid or unstated status; 暂停 (suspended) and 撤销 (revoked) never count."""
    st = programmes["status"].astype("str")
    return (st.isna() | (st == "valid")).to_numpy()


def active_programmes(programmes: pd.DataFrame, as_of: object) -> pd.DataFrame:
    """Programme memberships active at ``as_of``.

    Active = status 有效 or empty, ``valid_from ≤ as_of ≤ valid_to`` (valid_to filled with the
    programme default when empty), and not a GB/T 29490-2013 贯标 certificate after
    2025-12-31 (:func:`is_2013_standard`). Suspended/revoked memberships are inactive: the input gives no date for the
    status change, so they are treated as inactive at every as_of.

    Parameters
    ----------
    programmes : pd.DataFrame
        Canonical programmes with ``uscc`` resolved (e.g. ``EntityLinks.programmes``).
    as_of : date-like

    Returns
    -------
    pd.DataFrame
        Active rows plus ``valid_to_effective`` and ``level_value``, sorted by uscc,
        programme, valid_from.
    """
    ts = to_timestamp(as_of)
    _require(programmes, ("uscc", "programme", "valid_from"), "active_programmes")
    p = programmes.copy()
    for c in ("valid_to", "level", "status", "standard_version"):
        if c not in p.columns:
            p[c] = pd.NA
    p["valid_to_effective"] = valid_to_filled(p)
    p["level_value"] = level_value(p)
    vf = p["valid_from"].astype("datetime64[ns]")
    void = is_2013_standard(p) & (ts > STANDARD_2013_VOID_AFTER)
    act = status_ok(p) & (vf <= ts).to_numpy() & (p["valid_to_effective"] >= ts).to_numpy()
    act &= ~void
    out = p[act]
    return out.sort_values(["uscc", "programme", "valid_from"], kind="stable").reset_index(
        drop=True
    )
