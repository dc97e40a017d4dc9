"""Small hand-made canonical inputs for the screening-run tests (shared by tests/run).

The scorer here is a fixed toy linear scorecard implementing ``models.base.Scorer`` so the
golden files pin this layer's logic (order, grades, explanation texts) and do not move when
the expert weights are tuned.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from data_contracts.errors import FeatureMismatchError
from data_contracts.identifiers import org_code_check_char, uscc_check_char
from features.registry import FeatureSpec
from models.base import ScoreResult
from screening.run.config import load_run_config, parse_run_config
from screening.run.output import write_outputs
from screening.run.pipeline import ScreenInputs, Timer, screen

ROOT = Path(__file__).resolve().parents[2]
AS_OF = pd.Timestamp("2026-09-30")


def make_uscc(region: str, serial: int) -> str:
    org8 = f"{serial:08d}"
    first17 = "91" + region + org8 + org_code_check_char(org8)
    return first17 + uscc_check_char(first17)


SPECS = {
    s.name: s
    for s in (
        FeatureSpec(
            "valid_invention_count",
            "有效发明专利数",
            "quantity",
            "",
            "patents",
            "grant_date",
            1,
            0,
            None,
            "件",
            "count",
        ),
        FeatureSpec(
            "valid_utility_model_count",
            "有效实用新型数",
            "quantity",
            "",
            "patents",
            "grant_date",
            1,
            0,
            None,
            "件",
            "count",
        ),
        FeatureSpec(
            "peer_pct_valid_invention_count",
            "有效发明专利同行业百分位",
            "quantity",
            "",
            "patents",
            "grant_date",
            1,
            0,
            100,
            "%",
            "rate",
        ),
        FeatureSpec(
            "forward_citations_per_year",
            "前向被引率",
            "technical",
            "",
            "patents",
            "pub_date",
            1,
            0,
            None,
            "次/年",
            "rate",
        ),
        FeatureSpec(
            "credit_negative_3y_count",
            "近3年负面信用记录数",
            "credit",
            "",
            "credit_records",
            "start_date",
            -1,
            0,
            None,
            "条",
            "count",
        ),
        FeatureSpec(
            "prog_high_tech",
            "高新技术企业",
            "programme",
            "",
            "programmes",
            "valid_from",
            1,
            0,
            1,
            "",
            "flag",
        ),
        FeatureSpec(
            "firm_age_years",
            "企业成立年限",
            "firm",
            "",
            "enterprises",
            "established",
            1,
            0,
            None,
            "年",
            "years",
        ),
        FeatureSpec(
            "firm_industry_section",
            "行业门类",
            "firm",
            "",
            "enterprises",
            "established",
            0,
            None,
            None,
            "",
            "category",
        ),
    )
}


class ToyScorer:
    """Linear points around a reference firm; 600 points at odds 50:1, 20 points double them."""

    model_id = "toy-linear-v1"
    weights = {
        "valid_invention_count": (3.0, 5.0),
        "valid_utility_model_count": (1.0, 5.0),
        "peer_pct_valid_invention_count": (0.2, 50.0),
        "forward_citations_per_year": (10.0, 0.5),
        "credit_negative_3y_count": (-15.0, 0.0),
        "prog_high_tech": (12.0, 0.0),
        "firm_age_years": (1.0, 8.0),
    }

    def __init__(self) -> None:
        self.feature_names_in_ = list(self.weights)

    def score(self, X: pd.DataFrame, *, explain: bool = True) -> ScoreResult:
        missing = [f for f in self.feature_names_in_ if f not in X.columns]
        if missing:
            raise FeatureMismatchError(f"missing features: {missing}", "rebuild features")
        pts = pd.DataFrame(
            {
                f: (X[f].astype("float64").fillna(ref) - ref) * w
                for f, (w, ref) in self.weights.items()
            },
            index=X.index,
        )
        score = 600.0 + pts.sum(axis=1).to_numpy()
        pd_ = 1.0 / (1.0 + 50.0 * np.power(2.0, (score - 600.0) / 20.0))
        grade_idx = np.clip(np.floor((700.0 - score) / 20.0) + 1, 1, 10).astype(int)
        grade = np.array([f"T{i}" for i in grade_idx])
        contributions = pts if explain else pd.DataFrame(index=X.index)
        return ScoreResult(
            pd=pd_, score=score, grade=grade, contributions=contributions, base_points=600.0
        )


def toy_percentiles(matrix: pd.DataFrame):
    def percentiles(
        rows: pd.DataFrame, feats: list[str], side: str = "lower", min_peers: int = 1
    ) -> pd.DataFrame:
        if side == "both":
            lower = percentiles(rows, feats, "lower", min_peers)
            higher = percentiles(rows, feats, "higher", min_peers).add_prefix("higher_")
            return pd.concat([lower, higher], axis=1)
        out = {}
        for f in feats:
            ref = matrix[[f, "firm_industry_section"]]
            vals = []
            for v, sec in zip(rows[f], rows["firm_industry_section"], strict=True):
                peers = ref.loc[ref["firm_industry_section"] == sec, f].dropna()
                if len(peers) < min_peers:
                    peers = ref[f].dropna()
                beaten = (peers < v) if side == "lower" else (peers > v)
                vals.append(np.nan if pd.isna(v) or len(peers) < 2 else 100.0 * beaten.mean())
            out[f] = vals
        return pd.DataFrame(out, index=rows.index)

    return percentiles


FIRMS = [
    # key, region, serial, name, status, industry, park, inv, um, cites, neg3y, hightech, age
    (
        "A",
        "410100",
        1,
        "郑州华科智能装备有限公司",
        "active",
        "C3491",
        "郑州高新技术产业开发区",
        14,
        9,
        1.8,
        0,
        1,
        12.0,
    ),
    (
        "B",
        "410100",
        2,
        "郑州失信测试有限公司",
        "active",
        "C3911",
        "郑州高新技术产业开发区",
        10,
        4,
        1.0,
        1,
        1,
        9.0,
    ),
    ("C", "410300", 3, "洛阳吊销测试有限公司", "revoked", "C3311", None, 8, 2, 0.6, 0, 0, 15.0),
    ("D", "410300", 4, "洛阳税务C级有限公司", "active", "C3311", None, 9, 5, 0.7, 0, 0, 10.0),
    ("E", "410200", 5, "开封处罚异常有限公司", "active", "I6511", None, 7, 3, 0.9, 2, 0, 6.0),
    ("F", "410100", 6, "郑州薄弱科技有限公司", "active", "I6513", None, 1, 1, 0.0, 0, 0, 2.0),
    ("G", "410300", 7, "洛阳无专利商贸有限公司", "active", "M7320", None, 0, 0, 0.0, 0, 0, 5.0),
    (
        "H",
        "410200",
        8,
        "开封推荐企业有限公司",
        "active",
        "C3911",
        "开封新区 联系人 13912345678",
        3,
        2,
        0.2,
        0,
        0,
        4.0,
    ),
    (
        "I",
        "410300",
        9,
        '=HYPERLINK("http://x")洛阳公式测试有限公司',
        "active",
        "I6511",
        None,
        12,
        6,
        1.2,
        0,
        1,
        8.0,
    ),
    ("J", "410300", 10, "洛阳软件信息有限公司", "active", "I6513", None, 11, 3, 2.5, 0, 1, 7.0),
    (
        "K",
        "410100",
        11,
        "郑州新材料有限公司",
        "active",
        "C2651",
        "郑州高新技术产业开发区",
        9,
        8,
        1.1,
        0,
        1,
        10.0,
    ),
]


def _firm(key: str) -> str:
    row = next(f for f in FIRMS if f[0] == key)
    return make_uscc(row[1], row[2])


USCC = {f[0]: make_uscc(f[1], f[2]) for f in FIRMS}


def build_inputs() -> ScreenInputs:
    ent = pd.DataFrame(
        {
            "uscc": [USCC[f[0]] for f in FIRMS],
            "name": [f[3] for f in FIRMS],
            "status": [f[4] for f in FIRMS],
            "region_code": [f[1] for f in FIRMS],
            "industry_code": [f[5] for f in FIRMS],
            "park": [f[6] for f in FIRMS],
            "established": pd.to_datetime(["2014-01-01"] * len(FIRMS)),
        }
    ).astype(
        {
            "uscc": "str",
            "name": "str",
            "status": "str",
            "region_code": "str",
            "industry_code": "str",
            "park": "str",
        }
    )
    matrix = pd.DataFrame(
        {
            "uscc": ent["uscc"],
            "as_of": AS_OF,
            "valid_invention_count": [float(f[7]) for f in FIRMS],
            "valid_utility_model_count": [float(f[8]) for f in FIRMS],
            "forward_citations_per_year": [f[9] for f in FIRMS],
            "credit_negative_3y_count": [float(f[10]) for f in FIRMS],
            "prog_high_tech": [float(f[11]) for f in FIRMS],
            "firm_age_years": [f[12] for f in FIRMS],
            "firm_industry_section": [f[5][0] for f in FIRMS],
        }
    )
    sec = matrix.groupby("firm_industry_section")["valid_invention_count"]
    matrix["peer_pct_valid_invention_count"] = (
        (sec.rank(method="min") - 1) / sec.transform("count") * 100
    ).to_numpy()
    credit = pd.DataFrame(
        {
            "uscc": [USCC["B"], USCC["D"], USCC["D"], USCC["E"], USCC["E"], USCC["A"], USCC["A"]],
            "name": pd.NA,
            "record_type": [
                "dishonest_debtor",
                "tax_rating",
                "tax_rating",
                "admin_penalty",
                "abnormal_operation",
                "tax_rating",
                "admin_penalty",
            ],
            "start_date": pd.to_datetime(
                [
                    "2026-03-01",
                    "2024-04-01",
                    "2026-04-15",
                    "2026-01-10",
                    "2025-11-02",
                    "2026-04-15",
                    "2026-05-01",
                ]
            ),
            "end_date": pd.to_datetime([None, None, None, "2029-01-10", None, None, "2026-08-01"]),
            "severity": [pd.NA, pd.NA, pd.NA, "serious", pd.NA, pd.NA, "general"],
            "value": [pd.NA, "B", "C", pd.NA, pd.NA, "A", pd.NA],
            "record_id": [
                "(2026)豫01执123号",
                "TAX-2023",
                "TAX-2025",
                "郑开市监罚〔2026〕7号",
                "ABN-2025-88",
                "TAX-2025-A",
                "罚-一般-1",
            ],
            "source": "信用中国",
        }
    ).astype(
        {
            "uscc": "str",
            "record_type": "str",
            "severity": "str",
            "value": "str",
            "record_id": "str",
            "source": "str",
            "name": "str",
        }
    )
    active = (
        credit.iloc[[0, 3, 4]]
        .assign(effective_end=pd.to_datetime([None, "2029-01-10", None]))
        .reset_index(drop=True)
    )
    programmes = pd.DataFrame(
        {
            "uscc": [USCC["A"], USCC["I"], USCC["J"], USCC["K"]],
            "programme": ["high_tech", "high_tech", "high_tech", "srdi_sme"],
            "level": ["national", "national", "national", "provincial"],
            "valid_from": pd.to_datetime(["2024-11-01", "2025-12-01", "2024-10-20", "2025-06-01"]),
            "valid_to": pd.to_datetime(["2027-10-31", "2028-11-30", "2027-10-19", "2028-05-31"]),
            "valid_to_effective": pd.to_datetime(
                ["2027-10-31", "2028-11-30", "2027-10-19", "2028-05-31"]
            ),
        }
    )
    pledge_rows = []
    for f in FIRMS:
        for j in range(min(f[7], 3)):
            pledge_rows.append(
                (USCC[f[0]], f"CN20201{f[2]:02d}{j:05d}.X", "invention", 14.0 - j, f[3], True, "")
            )
    pledge_rows.append(
        (
            USCC["A"],
            "CN201910000001.X",
            "invention",
            13.0,
            "郑州华科智能装备有限公司;张三",
            True,
            "",
        )
    )
    pledge_rows.append(
        (
            USCC["A"],
            "CN201910000002.X",
            "invention",
            12.0,
            "郑州华科智能装备有限公司",
            False,
            "already_pledged",
        )
    )
    pledgeable = pd.DataFrame(
        pledge_rows,
        columns=[
            "uscc",
            "app_no",
            "patent_type",
            "remaining_years",
            "owners",
            "pledgeable",
            "reason",
        ],
    )
    patents = pd.DataFrame(
        {
            "app_no": pledgeable["app_no"],
            "title": [
                "一种智能装备控制方法 联系 13800138000" if i == 0 else f"专利{i}"
                for i in range(len(pledgeable))
            ],
            "grant_date": pd.to_datetime(["2026-06-30"] * len(pledgeable)),
        }
    )
    nominations = pd.DataFrame(
        {
            "uscc": [USCC["H"], USCC["B"], pd.NA],
            "nominated_by": ["开封市知识产权局", "郑州高新区管委会", "某园区"],
            "nominated_on": pd.to_datetime(["2026-08-01"] * 3),
            "match_method": ["uscc", "uscc", "unmatched"],
        }
    )
    rejects = pd.DataFrame(
        {
            "table": ["enterprises", "enterprises", "patents"],
            "file": ["enterprises.csv", "enterprises.csv", "patents.csv"],
            "source_row": pd.array([12, 12, 3], dtype="Int64"),
            "column": ["uscc", "name", "app_no"],
            "value": ["91410100MA0000000X", "", "CN123"],
            "rule": ["uscc_check", "required", "app_no_format"],
            "message": ["统一社会信用代码校验位错误", "企业名称为空", "申请号格式错误"],
        }
    ).astype(
        {
            "table": "str",
            "file": "str",
            "column": "str",
            "value": "str",
            "rule": "str",
            "message": "str",
        }
    )
    return ScreenInputs(
        tables={
            "enterprises": ent,
            "credit_records": credit,
            "patents": patents,
            "programmes": programmes,
            "patent_events": pd.DataFrame({"event_date": pd.to_datetime(["2026-09-01"])}),
        },
        rejects=rejects,
        matrix=matrix,
        pledgeable=pledgeable,
        active_records=active,
        programmes=programmes,
        nominations=nominations,
        percentiles=toy_percentiles(matrix),
        specs=SPECS,
        match_report={
            "fuzzy_threshold": 95,
            "sources": {"credit_records": {"by_method": {"uscc": 7}, "mentions": 7}},
        },
        stats={
            "enterprises": {
                "rows": 13,
                "accepted": 11,
                "rejected": 1,
                "duplicates": 1,
                "warnings": 0,
                "status": "ok",
            }
        },
        files={"enterprises": {"file": "enterprises.csv", "sha256": "ab" * 32}},
        notes=["optional table loans missing: treated as empty"],
    )


def shipped_rules():
    return load_run_config().knockouts


def make_config(**selection):
    data = {
        "config_version": "test",
        "selection": {"min_grade": "T5", **selection},
        "report": {
            "issuer": "测试知识产权局",
            "contact": "测试处 0371-65950000",
            "detail_limit": 5,
            "min_peers": 3,  # the toy registry has 3–6 firms per section
        },
        "banks": [
            {"id": "bank-a", "name": "甲银行"},
            {"id": "bank-b", "name": "乙银行", "regions": ["4103"]},
            {"id": "bank-c", "name": "丙银行", "industries": ["I"], "min_grade": "T3"},
        ],
        "regions": {"410100": "郑州市", "410300": "洛阳市", "410200": "开封市"},
        # Packages written in this process: a test that monkeypatches the package writers
        # (block and chunk sizes, faults) reaches them only here, since writer processes are
        # fresh interpreters. Tests of the writer processes ask for workers > 1 themselves.
        "resources": {"workers": 1},
    }
    return parse_run_config(data, rules=shipped_rules())


ID_CARD = re.compile(
    r"[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[0-9Xx]"
)
MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def run_into(folder: Path, inputs, scorer, config, as_of, **kwargs):
    timer = Timer()
    s = screen(inputs, scorer=scorer, config=config, as_of=as_of, timer=timer)
    report = write_outputs(s, folder, config=config, batch="2026Q3-0000test", timer=timer, **kwargs)
    return s, report


def all_text(path: Path) -> str:
    """Every text a file carries (xlsx: every XML part of the zip)."""
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as z:
            return "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
    if path.suffix == ".parquet":
        return ""
    return path.read_text(encoding="utf-8-sig")
