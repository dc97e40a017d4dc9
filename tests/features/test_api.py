"""Registry contents, bad input, determinism and the peer percentile helper."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from data_contracts.errors import ContractViolation, DataError
from features import (
    active_credit_records,
    active_programmes,
    build_feature_matrix,
    feature_names,
    monotone_signs,
    peer_percentiles,
    pledgeable_patents,
    registry,
    resolve_entities,
)

DOMAIN = Path("/work/shared/domain.md")
PATENT_32 = [
    "valid_invention_count", "valid_utility_model_count", "total_application_count",
    "recent3y_application_count", "pending_invention_count", "filing_continuity_years",
    "invention_share", "invention_grant_rate", "ipc_subclass_breadth", "core_ipc_concentration",
    "sei_invention_share", "self_filed_share", "avg_claims_per_invention", "avg_patent_scope",
    "forward_citations_per_year", "cited_patent_share", "avg_family_size",
    "overseas_family_invention_count", "high_value_invention_count", "core_inventor_count",
    "avg_invention_age_years", "invention_maintained_10y_count", "avg_remaining_term_years",
    "annuity_lapse_rate", "invalidation_loss_count", "preservation_litigation_count",
    "co_owned_share", "license_record_count", "recent_transfer_out_count",
    "recent_acquired_share", "pledge_release_ratio", "currently_pledged_share",
]  # fmt: skip
AGREED = [
    "credit_dishonest_debtor_active", "credit_consumption_restriction_active",
    "credit_serious_violation_active", "credit_abnormal_operation_active",
    "credit_major_tax_violation_active", "credit_serious_penalty_active",
    "credit_admin_penalty_3y_count", "credit_negative_3y_count", "credit_days_since_negative",
    "credit_tax_grade", "prog_little_giant", "prog_srdi_sme", "prog_innovative_sme",
    "prog_high_tech", "prog_tech_sme", "prog_ip_advantage", "prog_ip_demonstration",
    "prog_ip_standard", "prog_max_level", "prog_years_held", "firm_age_years",
    "firm_log_employees", "firm_log_registered_capital", "firm_rd_intensity", "firm_size_rank",
    "firm_industry_section", "peer_pct_valid_invention_count",
    "peer_pct_total_application_count", "peer_pct_forward_citations_per_year",
    "pledgeable_patent_count", "pledgeable_invention_count", "pledgeable_avg_remaining_years",
]  # fmt: skip


def test_registry_holds_the_agreed_names_once_each():
    names = feature_names()
    assert len(names) == len(set(names))
    assert names[:32] == PATENT_32
    assert set(AGREED) <= set(names)
    for spec in registry():
        assert spec.label_zh and spec.description and spec.source and spec.known_at
        assert spec.direction in (-1, 0, 1)


def test_patent_directions_follow_domain_table():
    text = DOMAIN.read_text(encoding="utf-8")
    rows = re.findall(r"^\| \d+ \| [^|]+ \| (\w+) \| [^|]+ \| ([SRM]) \|$", text, flags=re.M)
    want = {n: {"S": 1, "R": -1, "M": 0}[d] for n, d in rows}
    assert len(want) == 32
    signs = monotone_signs()
    assert {n: signs[n] for n in want} == want
    assert signs["credit_days_since_negative"] == 1
    assert signs["firm_industry_section"] == 0


def test_values_stay_in_registry_ranges(random_data):
    data = random_data(11)
    m = build_feature_matrix(
        pd.DataFrame({"uscc": data["enterprises"]["uscc"], "as_of": "2023-03-31"}), data
    )
    for spec in registry():
        if spec.kind == "category":
            continue
        v = m[spec.name].dropna().to_numpy(dtype=float)
        if spec.valid_min is not None:
            assert (v >= spec.valid_min).all(), spec.name
        if spec.valid_max is not None:
            assert (v <= spec.valid_max).all(), spec.name


def test_rerun_is_identical(random_data):
    data = random_data(3)
    pairs = pd.DataFrame({"uscc": data["enterprises"]["uscc"], "as_of": "2021-12-31"})
    a = build_feature_matrix(pairs, data)
    b = build_feature_matrix(pairs, random_data(3))
    pd.testing.assert_frame_equal(a, b)
    assert a["firm_industry_section"].dtype == "category"
    assert a["valid_invention_count"].dtype == np.int64


def test_links_are_reused_and_a_mapping_or_bundle_like_object_is_accepted(random_data):
    data = random_data(4)

    class Bundle:
        tables = data

    links = resolve_entities(Bundle())
    pairs = pd.DataFrame({"uscc": data["enterprises"]["uscc"], "as_of": "2022-01-01"})
    a = build_feature_matrix(pairs, Bundle(), links=links)
    b = build_feature_matrix(pairs, data, links=links)
    pd.testing.assert_frame_equal(a, b)


def test_unknown_uscc_is_refused_with_examples(random_data, ids):
    data = random_data(1)
    pairs = pd.DataFrame({"uscc": [ids(500), ids(501)], "as_of": "2022-01-01"})
    with pytest.raises(DataError, match=r"2 uscc value\(s\) in pairs are not in the enterprise"):
        build_feature_matrix(pairs, data)
    m = build_feature_matrix(pairs, data, allow_unknown=True)
    assert (m["valid_invention_count"] == 0).all()
    assert m["firm_age_years"].isna().all()


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        (pd.DataFrame({"uscc": ["x"]}), "pairs lacks column"),
        (
            pd.DataFrame({"uscc": ["x"], "as_of": ["not a date"]}),
            r"as_of value\(s\) that are not dates",
        ),
        ([("x", "2020-01-01")], "pairs must be a DataFrame"),
    ],
)
def test_malformed_pairs_are_refused(random_data, pairs, message):
    with pytest.raises(DataError, match=message):
        build_feature_matrix(pairs, random_data(1))


def test_bad_min_remaining_years_and_foreign_links(random_data):
    data = random_data(1)
    pairs = pd.DataFrame({"uscc": data["enterprises"]["uscc"][:1], "as_of": "2022-01-01"})
    with pytest.raises(DataError, match="'min_remaining_years' parameter"):
        build_feature_matrix(pairs, data, min_remaining_years=-1)
    other = resolve_entities(random_data(2, n_patents=10))
    with pytest.raises(DataError, match="links were resolved on 10 patents"):
        build_feature_matrix(pairs, data, links=other)
    with pytest.raises(DataError, match="links must be an EntityLinks"):
        pledgeable_patents(data, "2022-01-01", links={"not": "links"})


def test_missing_required_column_is_a_contract_violation(random_data):
    data = dict(random_data(1))
    data["patents"] = data["patents"].drop(columns=["app_date"])
    with pytest.raises(ContractViolation, match="'patents' lacks required column"):
        resolve_entities(data)


def test_public_helpers_reject_bad_input(random_data):
    data = random_data(1)
    with pytest.raises(DataError, match="cannot be read as a date"):
        active_credit_records(data["credit_records"], "yesterday")
    with pytest.raises(DataError, match="lacks column"):
        active_programmes(data["programmes"].drop(columns=["valid_from"]), "2022-01-01")
    with pytest.raises(DataError, match="reference lacks column"):
        peer_percentiles(pd.DataFrame({"firm_industry_section": ["C"], "x": [1]}),
                         pd.DataFrame({"x": [1]}), features=["x"])  # fmt: skip


def test_peer_percentiles_count_strictly_lower_peers_of_the_section():
    ref = pd.DataFrame({"firm_industry_section": list("CCCCI") + [None], "x": [0, 1, 1, 5, 9, 2]})
    rows = pd.DataFrame({"firm_industry_section": ["C", "C", "I", None, "Z"], "x": [1, 6, 9, 2, 3]})
    got = peer_percentiles(rows, ref, features=["x"])["peer_pct_x"].tolist()
    # C: 1 beats {0}; 6 beats all four; I: 9 beats none; no section / unknown: all six firms
    assert got == [25.0, 100.0, 0.0, pytest.approx(100 * 3 / 6), pytest.approx(100 * 4 / 6)]
    # strictly higher: C: 1 is beaten by {5}; 6 by none; I: 9 by none; all six: 2 by {5, 9}
    higher = peer_percentiles(rows, ref, features=["x"], side="higher")["peer_pct_x"].tolist()
    assert higher == [25.0, 0.0, 0.0, pytest.approx(100 * 2 / 6), pytest.approx(100 * 2 / 6)]
    both = peer_percentiles(rows, ref, features=["x"], side="both")
    assert both["peer_pct_x"].tolist() == got and both["peer_pct_higher_x"].tolist() == higher
    with pytest.raises(ValueError, match="'side' parameter must be 'lower', 'higher' or 'both'"):
        peer_percentiles(rows, ref, features=["x"], side="above")


def test_progress_reports_every_step(random_data):
    data = random_data(1)
    seen = []
    build_feature_matrix(
        pd.DataFrame({"uscc": data["enterprises"]["uscc"], "as_of": "2022-01-01"}),
        data,
        progress=lambda step, done, total: seen.append((step, done, total)),
    )
    assert [d for _, d, _ in seen] == list(range(1, 8))
    assert all(t == 7 for _, _, t in seen)


def test_training_batch_peer_reference_can_be_sampled(random_data, monkeypatch):
    import features._matrix as fm

    data = random_data(5)
    firms = data["enterprises"]["uscc"]
    pairs = pd.DataFrame(
        {"uscc": list(firms) * 2, "as_of": ["2019-05-05"] * 12 + ["2022-08-08"] * 12}
    )
    full = build_feature_matrix(pairs, data)
    monkeypatch.setattr(fm, "PEER_SAMPLE", 6)
    a = build_feature_matrix(pairs, data)
    b = build_feature_matrix(pairs, data)
    pd.testing.assert_frame_equal(a, b)  # the sample is fixed: reruns agree
    peer = [c for c in a.columns if c.startswith("peer_pct_")]
    rest = [c for c in a.columns if c not in peer]
    pd.testing.assert_frame_equal(a[rest], full[rest])
    vals = a[peer].to_numpy(dtype=float)
    assert np.nanmin(vals) >= 0 and np.nanmax(vals) <= 100
    assert not np.allclose(np.nan_to_num(vals), np.nan_to_num(full[peer].to_numpy(dtype=float)))


def test_an_empty_batch_gives_an_empty_matrix_with_every_column(random_data):
    """A training batch with no labelled loan used to raise 'No objects to concatenate'."""
    pairs = pd.DataFrame(
        {"uscc": pd.Series([], dtype="str"), "as_of": pd.Series([], dtype="datetime64[ns]")}
    )
    m = build_feature_matrix(pairs, random_data(3))
    assert len(m) == 0
    assert list(m.columns) == ["uscc", "as_of", *(f.name for f in registry())]


def test_peer_medians_are_the_median_firm_the_percentiles_count():
    from features import ALL_PEERS, peer_medians

    ref = pd.DataFrame(
        {
            "firm_industry_section": list("CCCCII") + [None],
            "x": [0, 1, 1, 5, 9, 2, 7],
            "y": [None, 1, 2, 3, None, 4, 8],
        }
    )
    medians, pooled = peer_medians(ref, "firm_industry_section", ["x", "y"], min_peers=2)
    # C: x 0,1,1,5 → lower median 1; y 1,2,3 → 2. I: y has one firm < 2 peers → all firms
    assert medians.loc["C"].tolist() == [1.0, 2.0]
    assert medians.loc["I", "x"] == 2.0 and medians.loc["I", "y"] == 3.0
    assert medians.loc[ALL_PEERS].tolist() == [2.0, 3.0]
    assert pooled.loc["I"].tolist() == [False, True] and not pooled.loc["C"].any()
    # the same rule for the percentiles: I's lone y is ranked among all six firms with a y
    pct = peer_percentiles(ref.iloc[[5]], ref, features=["y"], min_peers=2)["peer_pct_y"]
    assert pct.tolist() == [pytest.approx(100 * 3 / 5)]


def test_the_median_firm_has_no_value_where_most_firms_have_none():
    """A pledge ratio exists only for firms that pledged: where most of a section never did,
    its typical firm has no ratio, and a firm without one is not told it falls short."""
    from features import ALL_PEERS, peer_medians

    ref = pd.DataFrame(
        {
            "firm_industry_section": list("CCCCCIII"),
            "r": [1.0, 0.5, None, None, None, 0.2, 0.4, None],
        }
    )
    medians, pooled = peer_medians(ref, "firm_industry_section", ["r"], min_peers=2)
    assert np.isnan(medians.loc["C", "r"])  # 2 of 5 with a value
    assert medians.loc["I", "r"] == 0.2  # 2 of 3: the lower median of 0.2, 0.4
    assert medians.loc[ALL_PEERS, "r"] == 0.4  # 4 of 8 (not fewer than half): 0.2 0.4 0.5 1
    assert not pooled.to_numpy().any()
    # a group too small to rank pools to everyone, whose own typical firm decides
    small = pd.DataFrame({"firm_industry_section": list("CCCA"), "r": [None, None, 1.0, 3.0]})
    med, pooled = peer_medians(small, "firm_industry_section", ["r"], min_peers=2)
    assert pooled.loc["A", "r"] and med.loc["A", "r"] == 1.0
