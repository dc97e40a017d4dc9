"""--mess: every kind of real-world damage appears, and the reader accounts for every row."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from data_contracts.identifiers import check_app_no, check_uscc
from screening.sample.mess import ALIASES, name_variant

ENCODED = {
    "enterprises": "gbk",
    "credit_records": "gbk",
    "patent_events": "gb18030",
    "nominations": "gb18030",
    "patents": "gb18030",
    "loans": "utf-8-sig",
}


def read(folder: Path, table: str) -> pd.DataFrame:
    if table == "programmes":
        return pd.read_excel(folder / "programmes.xlsx", dtype=object)
    return pd.read_csv(
        folder / f"{table}.csv", dtype=str, keep_default_na=False, encoding=ENCODED[table]
    )


def test_files_encodings_and_chinese_headers(messy_sample: Path):
    assert (messy_sample / "programmes.xlsx").exists()
    for table, enc in ENCODED.items():
        raw = (messy_sample / f"{table}.csv").read_bytes()
        if enc == "utf-8-sig":
            assert raw.startswith(b"\xef\xbb\xbf")
        else:
            with pytest.raises(UnicodeDecodeError):
                raw.decode("utf-8")
            raw.decode(enc)
    ent = read(messy_sample, "enterprises")
    assert list(ent.columns) == list(ALIASES["enterprises"].values())
    assert "注册资本（万元）" in ent.columns  # full-width brackets
    assert set(ent["登记状态"]) >= {"存续", "在业"}


def test_each_kind_of_mess_present(messy_sample: Path):
    pat = read(messy_sample, "patents")
    dates = pd.concat([pat["申请日"], pat["授权公告日"]])
    assert dates.str.match(r"^\d{4}/\d{2}/\d{2}$").any()
    assert dates.str.match(r"^\d{8}$").any()
    assert dates.str.match(r"^\d{4}年\d{2}月\d{2}日$").any()
    assert pat["IPC分类号"].str.contains("；").any()
    assert pat["专利类型"].eq("集成电路布图设计").any()
    assert pd.to_numeric(pat["权利要求数量"], errors="coerce").lt(0).any()
    iso = pat["申请日"].str.match(r"^\d{4}-\d{2}-\d{2}$") & pat["授权公告日"].str.match(
        r"^\d{4}-\d{2}-\d{2}$"
    )
    assert (pat["授权公告日"][iso] < pat["申请日"][iso]).any()
    assert any(
        not check_app_no(a).ok and check_app_no(a).rule == "app_no_check" for a in pat["申请号"]
    )
    assert pat["申请号"].str.match(r"^\d{13}$").any()
    assert pat.duplicated().any()

    ent = read(messy_sample, "enterprises")
    codes = ent["统一社会信用代码"]
    assert codes.str.contains(r"[a-z]").any()
    assert codes.str.contains(r"[０-９Ａ-Ｚ]").any()
    assert codes.str.startswith(" ").any()
    assert any(check_uscc(c).rule == "uscc_check" for c in codes)
    assert pd.to_numeric(ent["从业人数"], errors="coerce").lt(0).any()
    assert ent["登记状态"].eq("歇业").any()
    key_dups = ent.duplicated("统一社会信用代码", keep=False) & ~ent.duplicated(keep=False)
    assert key_dups.any()  # conflicting duplicates: same code, another value


def test_names_differ_from_registry(messy_sample: Path, clean_sample: Path):
    registry = set(pd.read_csv(clean_sample / "enterprises.csv", dtype=str).name)
    pat = read(messy_sample, "patents")
    first = pat["申请人"].str.split(r"[;；]").str[0]
    odd = first[~first.isin(registry) & (pat["申请人统一社会信用代码"] == "")]
    assert len(odd) > 0
    progs = read(messy_sample, "programmes")
    assert progs["统一社会信用代码"].isna().mean() > 0.5  # lists are mostly by name only
    assert (~progs["企业名称"].isin(registry)).any()
    serials = progs["认定日期"].map(lambda v: isinstance(v, (int, float)))
    assert serials.any()  # Excel serial dates


@pytest.mark.parametrize(
    ("name", "former", "k", "expected"),
    [
        ("郑州华锐新材料科技有限公司", "郑州华锐化工科技有限公司", 0, "郑州华锐化工科技有限公司"),
        ("郑州华锐新材料科技有限公司", None, 1, "郑州华锐新材料科技有限责任公司"),
        ("郑州华锐新材料科技有限责任公司", None, 1, "郑州华锐新材料科技有限公司"),
        ("郑州华锐新材料科技有限公司", None, 2, "郑州 华锐新材料科技有限公司"),
        ("郑州华锐新材料科技有限公司", None, 3, "华锐（郑州）新材料科技有限公司"),
        ("平顶山华锐新材料科技有限公司", None, 3, "华锐（平顶山）新材料科技有限公司"),
        ("平顶山华锐新材料科技有限公司", None, 2, "平顶山 华锐新材料科技有限公司"),
    ],
)
def test_name_variants(name, former, k, expected):
    assert name_variant(name, former, k) == expected


def test_reader_accounts_for_every_row(messy_sample: Path):
    from data_contracts.reader import read_data_dir

    bundle = read_data_dir(messy_sample, errors="collect")
    for table, s in bundle.stats.items():
        assert s.rows == s.accepted + s.rejected + s.duplicates, table
    by_rule = {r for s in bundle.stats.values() for r in s.by_rule}
    assert {"uscc_check", "app_no_check", "enum_unknown", "negative_count"} <= by_rule
    assert {"grant_before_application", "duplicate_conflict"} <= by_rule
    # Damage stays a minority: most rows survive.
    for table, s in bundle.stats.items():
        assert s.accepted >= 0.6 * s.rows, table
    assert re.match(r"gb", bundle.files["enterprises"].encoding)
