"""Programme memberships as a package shows them: one row per membership, lapse flagged."""

from __future__ import annotations

import pandas as pd

from screening.run.pipeline import package_programmes

D = pd.Timestamp


def _active(rows):
    return pd.DataFrame(rows, columns=["uscc", "programme", "level", "valid_from", "valid_to"])


def test_overlapping_certificates_are_one_membership_and_lapses_are_flagged():
    active = _active(
        [
            # a renewal overlapping the certificate it renews: one membership 2023 → 2027
            ("U1", "tech_sme", "provincial", D("2023-05-01"), D("2026-04-30")),
            ("U1", "tech_sme", "provincial", D("2025-05-01"), D("2027-04-30")),
            # ends before the push's last valid day (2027-03-29)
            ("U1", "high_tech", "national", D("2023-10-14"), D("2026-10-13")),
            # the same programme at another level stays its own row
            ("U1", "tech_sme", "city", D("2024-01-01"), pd.NaT),
            ("U2", "ip_standard", None, D("2024-01-01"), D("2027-12-31")),
        ]
    )
    flat = package_programmes(active, D("2027-03-29"))
    assert len(flat) == 4
    out = flat.dropna(subset=["level_zh"]).set_index(["uscc", "programme_zh", "level_zh"])
    sme = out.loc[("U1", "科技型中小企业", "省级")]
    assert (sme["valid_from"], sme["valid_to"]) == (D("2023-05-01"), D("2027-04-30"))
    assert not sme["lapses_in_validity"]
    assert out.loc[("U1", "高新技术企业", "国家级"), "lapses_in_validity"]
    city = out.loc[("U1", "科技型中小企业", "市级")]
    assert pd.isna(city["valid_to"]) and not city["lapses_in_validity"]  # open-ended
    u2 = flat.loc[flat["uscc"] == "U2"]
    assert len(u2) == 1 and u2["level_zh"].isna().all()  # no level stays null in the package
    assert not u2["lapses_in_validity"].any()
    # without a validity date nothing is flagged
    assert not package_programmes(active)["lapses_in_validity"].any()


def test_a_sole_owner_registered_under_another_name_is_shown_and_flagged():
    from screening.run.pipeline import package_patents

    pledgeable = pd.DataFrame(
        {
            "uscc": ["U1", "U1", "U1", "U2"],
            "app_no": ["CN1", "CN2", "CN3", "CN4"],
            "patent_type": ["invention"] * 4,
            "remaining_years": [10.0, 9.0, 8.0, 7.0],
            "pledgeable": [True] * 4,
            "title": ["a", "b", "c", "d"],
            "owners": [
                "郑州甲科技有限公司",  # as registered
                "郑州甲科技有限责任公司",  # another company form: the register must agree
                "郑州甲科技有限公司;郑州乙电子有限公司",  # co-owned: listed as before
                "郑州乙（河南）电子有限公司 ",  # full-width brackets and a space only
            ],
        }
    )
    names = pd.Series({"U1": "郑州甲科技有限公司", "U2": "郑州乙(河南)电子有限公司"})
    out = package_patents(pledgeable, pd.DataFrame(), names=names).set_index("app_no")
    assert out.at["CN1", "status"] == "有效，未质押" and pd.isna(out.at["CN1", "co_owners"])
    assert "名称与企业名称不一致" in out.at["CN2", "status"]
    assert out.at["CN2", "co_owners"] == "郑州甲科技有限责任公司"
    assert out.at["CN3", "status"] == "有效，未质押（共有，需共有人同意）"
    assert out.at["CN4", "status"] == "有效，未质押" and pd.isna(out.at["CN4", "co_owners"])
