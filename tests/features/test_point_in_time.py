"""Point-in-time properties: facts dated after as_of are invisible at as_of."""

from __future__ import annotations

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data_contracts.identifiers import make_app_no, make_uscc
from features import build_feature_matrix

SETTINGS = settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
AS_OF = st.dates(
    min_value=pd.Timestamp("2012-01-01").date(), max_value=pd.Timestamp("2026-06-30").date()
)


def _matrix(data, as_of):
    firms = data["enterprises"]["uscc"]
    return build_feature_matrix(pd.DataFrame({"uscc": firms, "as_of": pd.Timestamp(as_of)}), data)


def _later_records(data, as_of: pd.Timestamp, k: int, after: int) -> dict[str, pd.DataFrame]:
    """Copies of data plus records of every kind dated ``after`` days after as_of."""
    later = as_of + pd.Timedelta(days=after)
    ent = data["enterprises"]
    firm = ent.iloc[k % len(ent)]
    pats = data["patents"]
    p = pats.iloc[k % len(pats)]
    out = {name: df.copy() for name, df in data.items()}
    new_pats = pd.DataFrame(
        {
            # filed before as_of but published after it, and filed after it
            "app_no": [make_app_no(2011, 1, 9_000_000 + k), make_app_no(2030, 1, 9_100_000 + k)],
            "app_date": [as_of - pd.Timedelta(days=200), later],
            "patent_type": ["invention", "invention"],
            "pub_date": [later, later],
            "grant_date": [later + pd.Timedelta(days=10), pd.NaT],
            "applicants": [firm["name"], firm["name"]],
            "owners": [firm["name"], firm["name"]],
            "inventors": ["王一;李二", "王一"],
        }
    )
    out["patents"] = pd.concat(
        [pats, new_pats.astype({c: pats[c].dtype for c in new_pats})], ignore_index=True
    )
    ev = data["patent_events"]
    # a consistent later transfer: the current owners hand the patent to the firm
    owners_now = p["owners"]
    new_ev = pd.DataFrame(
        {
            "app_no": [p["app_no"]] * 6,
            "event_code": ["CF01", "PE01", "PP01", "IW01", "EE01", "TR01"],
            "event_date": [later] * 5 + [later + pd.Timedelta(days=400)],
            "from_party": [None] * 5 + [owners_now],
            "to_party": [None] * 5 + [firm["name"]],
        }
    )
    out["patent_events"] = pd.concat(
        [ev, new_ev.astype({c: ev[c].dtype for c in new_ev})], ignore_index=True
    )
    pats2 = out["patents"].copy()
    pats2.loc[pats2["app_no"] == p["app_no"], "owners"] = firm["name"]
    out["patents"] = pats2
    cr = data["credit_records"]
    new_cr = pd.DataFrame(
        {
            "uscc": [firm["uscc"]] * 3,
            "name": [firm["name"]] * 3,
            "record_type": ["dishonest_debtor", "admin_penalty", "tax_rating"],
            "start_date": [later] * 3,
            "value": [None, None, "D"],
        }
    )
    out["credit_records"] = pd.concat(
        [cr, new_cr.astype({c: cr[c].dtype for c in new_cr})], ignore_index=True
    )
    pr = data["programmes"]
    new_pr = pd.DataFrame(
        {
            "uscc": [firm["uscc"]],
            "programme": ["little_giant"],
            "valid_from": [later],
            "valid_to": [later + pd.Timedelta(days=1000)],
        }
    )
    out["programmes"] = pd.concat(
        [pr, new_pr.astype({c: pr[c].dtype for c in new_pr})], ignore_index=True
    )
    return out


@SETTINGS
@given(seed=st.integers(0, 10_000), as_of=AS_OF, k=st.integers(0, 50), after=st.integers(1, 900))
def test_adding_records_dated_after_as_of_changes_no_feature(random_data, seed, as_of, k, after):
    data = random_data(seed, n_firms=8, n_patents=40, n_events=60)
    ts = pd.Timestamp(as_of)
    before = _matrix(data, ts)
    after_m = _matrix(_later_records(data, ts, k, after), ts)
    pd.testing.assert_frame_equal(before, after_m)


def _truncate(data, t: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """Drop every non-transfer fact dated after t (patents not yet public, later events,
    credit records and programme memberships that start later)."""
    out = dict(data)
    p = data["patents"]
    ev = data["patent_events"]
    pub_ev = ev[ev["event_code"].isin(["PB01", "GR01"])].groupby("app_no")["event_date"].min()
    known = pd.concat(
        [p["pub_date"], p["grant_date"], p["app_no"].map(pub_ev).astype("datetime64[ns]")], axis=1
    ).min(axis=1)
    known = known.fillna(p["app_date"] + pd.DateOffset(months=18))  # public by then at the latest
    out["patents"] = p[known <= t].reset_index(drop=True)
    keep = (ev["event_date"] <= t) | (ev["event_code"] == "TR01")
    out["patent_events"] = ev[keep]  # a dated event is public even if its patent is not yet
    cr = data["credit_records"]
    out["credit_records"] = cr[cr["start_date"] <= t]
    pr = data["programmes"]
    out["programmes"] = pr[pr["valid_from"] <= t]
    return out


@SETTINGS
@given(seed=st.integers(0, 10_000), as_of=AS_OF, back=st.integers(1, 3000))
def test_moving_as_of_earlier_drops_later_facts(random_data, seed, as_of, back):
    data = random_data(seed, n_firms=8, n_patents=40, n_events=60)
    t = pd.Timestamp(as_of) - pd.Timedelta(days=back)
    full = _matrix(data, t)
    cut = _matrix(_truncate(data, t), t)
    pd.testing.assert_frame_equal(full, cut)


@SETTINGS
@given(seed=st.integers(0, 10_000), as_of=AS_OF, after=st.integers(1, 900))
def test_a_firm_founded_after_as_of_is_no_peer(random_data, seed, as_of, after):
    """Peer percentiles rank among the firms that existed at as_of: registering a firm
    founded later (with no patents yet) must not move any other firm's percentile."""
    data = random_data(seed, n_firms=8, n_patents=40, n_events=60)
    ts = pd.Timestamp(as_of)
    ent = data["enterprises"]
    new = ent.iloc[[0]].copy()
    new["uscc"] = make_uscc("9", "1", "410100", "N" + f"{seed:07d}")
    new["name"] = f"新设科技有限公司{seed}"
    new["established"] = ts + pd.Timedelta(days=after)
    grown = {**data, "enterprises": pd.concat([ent, new], ignore_index=True)}
    before = _matrix(data, ts)
    with_new = build_feature_matrix(pd.DataFrame({"uscc": ent["uscc"], "as_of": ts}), grown)
    pd.testing.assert_frame_equal(before, with_new)
