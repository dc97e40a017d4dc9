"""Bank push packages: ``packages/<bank>/`` with xlsx, csv, json, report.html, manifest.

Every text that leaves for a bank goes through the personal-data scrubber; every text cell
of the CSV and the workbook goes through formula neutralisation. Only whitelisted firms
are pushed, with the knock-out checks they passed (rule and source date), never the raw
credit records.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import orjson
import pandas as pd
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup

from screening.run._frames import member
from screening.run.config import BankConfig, grade_number
from screening.run.manifest import SigningKey, write_manifest
from screening.run.safety import neutralise_frame, scrub_pii
from screening.run.xlsx import EXCEL_MAX_DATA_ROWS, Sheet, write_workbook

WHITELIST_HEADERS = {
    "seq": "序号",
    "uscc": "统一社会信用代码",
    "name": "企业名称",
    "region_code": "行政区划代码",
    "region_name": "地区",
    "industry_code": "行业代码",
    "park": "所属园区",
    "score": "评分",
    "grade": "等级",
    "pd": "违约概率",
    "tax_grade": "纳税信用等级",
    "tax_grade_date": "纳税信用评价日期",
    "nominated_by": "推荐来源",
    "programmes_text": "有效资质",
    "pledgeable_count": "可质押专利数",
    "reasons_up": "主要加分因素",
    "reasons_down": "主要减分因素",
    "base_points": "基准分",
    "other_points": "其他因素合计分",
}
PATENT_HEADERS = {
    "uscc": "统一社会信用代码",
    "name": "企业名称",
    "app_no": "申请号",
    "type_zh": "专利类型",
    "title": "专利名称",
    "remaining_years": "剩余保护期（年）",
    "status": "状态",
    "co_owners": "登记权利人（共有或名称与企业不一致时列出）",
}


@dataclass
class PackageInputs:
    """What every bank package is cut from (built once per run by the pipeline).

    Attributes
    ----------
    meta : dict
        ``batch_id``, ``as_of``, ``valid_until``, ``model_id``, ``rules_version``, ``issuer``,
        ``contact``, ``config_sha256``, ``input_files``.
    whitelist : DataFrame
        One row per whitelisted firm in rank order (columns of :data:`WHITELIST_HEADERS`
        except ``seq``, plus ``industry_section``; ``base_points`` + the points of the firm's
        reasons + ``other_points`` is its score, all to 0.1).
    reasons : DataFrame
        Long reasons table (``explain.REASON_COLUMNS``).
    programmes : DataFrame
        Active programme memberships: ``uscc``, ``programme_zh``, ``level_zh``,
        ``valid_from``, ``valid_to``.
    patents : DataFrame
        Pledgeable patents: ``uscc``, ``app_no``, ``type_zh``, ``title``,
        ``remaining_years``, ``status``, ``co_owners``.
    checks : list of dict
        Knock-out checks every pushed firm passed: ``rule_id``, ``name``, ``date`` (the
        newest record of the source the check read).
    chart : callable
        ``chart(uscc) -> svg`` (cached by the caller so banks share charts).
    """

    meta: dict[str, Any]
    whitelist: pd.DataFrame
    reasons: pd.DataFrame
    programmes: pd.DataFrame
    patents: pd.DataFrame
    checks: list[dict[str, str]]
    chart: Callable[[str], str]
    created: dt.datetime = field(default_factory=lambda: dt.datetime(2000, 1, 1))
    firm_checks: pd.DataFrame = field(default_factory=pd.DataFrame)
    """What each check found for the firms a report details (``uscc, rule_id, detail``);
    a firm without rows shows the checks alone."""


def bank_mask(whitelist: pd.DataFrame, bank: BankConfig) -> np.ndarray:
    """Which whitelisted firms go to ``bank`` (regions, industries and minimum grade)."""
    mask = np.ones(len(whitelist), dtype=bool)
    if bank.regions:
        region = whitelist["region_code"].astype("str").fillna("")
        mask &= region.str.startswith(tuple(bank.regions)).to_numpy(dtype=bool)
    if bank.industries:
        # GB/T 4754 codes are written with or without their section letter (C3919 / 3919),
        # and division numbers are unique across sections: prefixes are compared on digits
        digits = whitelist["industry_code"].astype("str").fillna("").str.lstrip(_LETTERS)
        section = whitelist["industry_section"].astype("str").fillna("")
        letters = {i for i in bank.industries if i.isalpha()}
        prefixes = tuple(i.lstrip(_LETTERS) for i in bank.industries if not i.isalpha())
        hit = section.isin(letters)
        if prefixes:
            hit |= digits.str.startswith(prefixes)
        mask &= hit.to_numpy(dtype=bool)
    if bank.min_grade is not None:
        grades = whitelist["grade"].astype("str").str.slice(1).astype("int64").to_numpy()
        mask &= grades <= grade_number(bank.min_grade)
    return mask


_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
SECTION_ZH = {
    "A": "农、林、牧、渔业",
    "B": "采矿业",
    "C": "制造业",
    "D": "电力、热力、燃气及水生产和供应业",
    "E": "建筑业",
    "F": "批发和零售业",
    "G": "交通运输、仓储和邮政业",
    "H": "住宿和餐饮业",
    "I": "信息传输、软件和信息技术服务业",
    "J": "金融业",
    "K": "房地产业",
    "L": "租赁和商务服务业",
    "M": "科学研究和技术服务业",
    "N": "水利、环境和公共设施管理业",
    "O": "居民服务、修理和其他服务业",
    "P": "教育",
    "Q": "卫生和社会工作",
    "R": "文化、体育和娱乐业",
    "S": "公共管理、社会保障和社会组织",
    "T": "国际组织",
}
"""GB/T 4754-2017 sections, named beside a firm's industry code in its report section."""


@dataclass(frozen=True)
class DrawnCharts:
    """Charts already drawn, by firm: what a package written in another process gets in
    place of the run's chart function, which reads the whole screening."""

    svgs: Mapping[str, str]

    def __call__(self, uscc: str) -> str:
        return self.svgs[uscc]


def bank_inputs(inputs: PackageInputs, bank: BankConfig, detail_limit: int) -> PackageInputs:
    """The part of ``inputs`` that ``bank``'s package is cut from: its firms' rows (same
    order) and the charts of the ``detail_limit`` firms its report details, drawn now.

    Writing the package from it gives the same bytes as from ``inputs``; it is what a
    writer in its own process receives (a fraction of the run's frames, and picklable).
    """
    wl = inputs.whitelist.loc[bank_mask(inputs.whitelist, bank)]
    firms = pd.Index(wl["uscc"].to_numpy())

    def mine(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.loc[member(frame["uscc"], firms)]

    detailed = wl["uscc"].iloc[:detail_limit].tolist()
    checks = inputs.firm_checks
    return replace(
        inputs,
        whitelist=wl,
        reasons=mine(inputs.reasons),
        programmes=mine(inputs.programmes),
        patents=mine(inputs.patents),
        chart=DrawnCharts({u: inputs.chart(u) for u in detailed}),
        firm_checks=checks.loc[member(checks["uscc"], pd.Index(detailed))]
        if len(checks)
        else checks,
    )


def _fmt_date(value: Any) -> str:
    return "" if value is None or pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d")


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready records: NaN/NA → None, dates → ISO strings, numpy scalars → Python."""
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].dt.strftime("%Y-%m-%d")
    return orjson.loads(out.to_json(orient="records", force_ascii=False, double_precision=10))


_REASON_SHEET_ONLY = ("reasons_up", "reasons_down", "base_points", "other_points")
"""Columns of the list that the workbook shows on its 评分理由 sheet, not on 白名单."""


def _reasons_sheet(
    wl: pd.DataFrame, reasons: pd.DataFrame
) -> tuple[pd.DataFrame, list[str], list[int]]:
    """评分理由 as one row per firm (reasons side by side): a sixth of the cells of a long
    sheet, which matters because writing cells is the cost of a large workbook."""
    k = int(reasons["slot"].max()) if len(reasons) else 3
    wide = reasons.pivot(index="uscc", columns=["direction", "slot"], values="text")
    frame = pd.DataFrame(
        {
            "uscc": wl["uscc"],
            "name": wl["name"],
            "score": wl["score"].round(1),
            "base_points": wl["base_points"].round(1),
        }
    )
    headers = ["统一社会信用代码", "企业名称", "评分", WHITELIST_HEADERS["base_points"]]
    for direction, label in (("up", "加分因素"), ("down", "减分因素")):
        for slot in range(1, k + 1):
            col = (direction, slot)
            values = wide[col].reindex(wl["uscc"]).to_numpy() if col in wide.columns else None
            frame[f"{direction}{slot}"] = pd.array(
                values if values is not None else [pd.NA] * len(wl), dtype="str"
            )
            headers.append(f"{label}{slot}")
    # what the listed reasons leave: base + reasons + this = score, as shown
    frame["other_points"] = wl["other_points"].round(1)
    headers.append(WHITELIST_HEADERS["other_points"])
    return frame, headers, [21, 36, 8, 12] + [48] * (2 * k) + [14]


def _bank_scope(bank: BankConfig) -> str:
    """The part of the whitelist ``bank`` receives, in Chinese."""
    parts = [f"行政区划代码以 {'、'.join(bank.regions)} 开头" if bank.regions else "全部地区"]
    if bank.industries:
        parts.append(f"行业 {'、'.join(bank.industries)}")
    parts.append(
        f"等级 {bank.min_grade} 及以上（T1 至 {bank.min_grade}）"
        if bank.min_grade
        else "白名单全部等级"
    )
    return "；".join(parts) + "。等级按违约概率分档，T1 违约概率最低。"


def _notes(inputs: PackageInputs, bank: BankConfig, n: int) -> list[tuple[str, str]]:
    m = inputs.meta
    # the date is the newest record of the source the check read (how fresh the data is),
    # not a date the source was queried: said as such
    checks = "；".join(f"{c['name']}（数据源最新记录 {c['date']}）" for c in inputs.checks)
    checks += (
        "。括号内日期为该规则所读的一类记录在数据源中最新一条的日期（数据新鲜度），"
        "各企业相同；"
        "report.html 逐企业列出本企业情况（如最近一次纳税信用评价及日期）"
    )
    return [
        ("批次号", m["batch_id"]),
        ("数据截至（核查日）", m["as_of"]),
        ("有效期至", m["valid_until"]),
        ("评分模型", m["model_id"]),
        ("模型依据", m["model_basis"]),
        ("否决规则版本", m["rules_version"]),
        ("推送单位", m["issuer"]),
        ("联系方式", m["contact"]),
        ("接收银行", f"{bank.name}（{bank.id}）"),
        ("白名单企业数", str(n)),
        (
            "口径",
            "评分越高风险越低；等级 T1 最优、T10 最差；违约概率指放款后 12 个月内违约的概率，"
            "其依据见“模型依据”。",
        ),
        ("本行名单范围", _bank_scope(bank)),
        (
            "评分理由",
            "理由以分值计，相对基准分（同行业中位企业的得分）：同行业指国民经济行业门类"
            "（GB/T 4754，如“制造业”），不是 4 位行业代码；行业内可比企业过少时与全部参评企业"
            "比较（“参评企业”，基准分即参评企业中位企业的得分）。“高于同行业 X% 企业”只在"
            "该指标有数据的企业中比较；"
            "“多数企业无此项数据”指同行业过半企业无此项数据，基准按无数据计分，相对基准的"
            "加减分较小。“含同类指标 N 项”指理由合并了 N 项高度相关的指标（如不同口径的发明"
            "专利数），分值为其合计。基准分 + 列出的加减分 + 其他因素合计分 = 评分"
            "（均保留一位小数）；图中“其他·某类”为未列出的该类因素合计，“其余”为其他各类合计。",
        ),
        ("否决项核查", f"名单内企业均已通过：{checks}"),
        (
            "资质到期",
            "“有效资质”中注明“白名单有效期内到期”的资质将在本批白名单有效期内到期；"
            "评分已计入该资质，到期后请核实是否续期。",
        ),
        (
            "文件说明",
            "whitelist.xlsx 供查阅（违约概率以百分比显示）；whitelist.csv 与 whitelist.json "
            "供系统导入，违约概率为小数（0.0059 即 0.59%）。在 Excel 中直接打开 CSV 时，"
            "全为数字的统一社会信用代码会被转为数字并丢失末位，查阅请用 whitelist.xlsx。",
        ),
        ("个人信息", "本包不含身份证号、个人手机号等个人信息，不含信用记录原文。"),
    ]


PARTS = ("workbook", "lists")
"""The files of a package in two parts written separately when asked: the workbook (most of
the time: every cell is a Python call) and the lists (CSV, JSON, report.html)."""


def package_meta(inputs: PackageInputs, bank: BankConfig) -> dict[str, Any]:
    """The batch metadata of ``bank``'s package (its JSON head and its manifest)."""
    return {**inputs.meta, "bank": {"id": bank.id, "name": bank.name}}


def write_bank_package(
    folder: Path,
    bank: BankConfig,
    inputs: PackageInputs,
    *,
    env: jinja2.Environment,
    detail_limit: int = 300,
    patents_per_firm: int = 10,
    max_rows: int = EXCEL_MAX_DATA_ROWS,
    key: SigningKey | None = None,
    parts: tuple[str, ...] = PARTS,
) -> int:
    """Write one bank's package into ``folder`` (created) and return its firm count.

    ``inputs`` must already be scrubbed of personal identifiers (the caller does it once for
    all banks). Every view lists each firm's first ``patents_per_firm`` pledgeable patents
    (best first); ``pledgeable_count`` is the full count.

    ``parts`` other than all of :data:`PARTS` writes only those files into ``folder`` (which
    may exist: the other part may be written beside it by another process) and no manifest:
    the caller writes it (:func:`screening.run.manifest.write_manifest` with
    :func:`package_meta`) once both parts are there. The files are the same either way.
    """
    whole = set(parts) == set(PARTS)
    if not set(parts) <= set(PARTS):
        raise ValueError(f"The 'parts' parameter must name parts of {PARTS}. Got {parts!r}.")
    folder.mkdir(parents=True, exist_ok=not whole)
    wl = inputs.whitelist.loc[bank_mask(inputs.whitelist, bank)].reset_index(drop=True)
    wl.insert(0, "seq", pd.array(np.arange(1, len(wl) + 1), dtype="Int64"))
    firms = pd.Index(wl["uscc"].to_numpy())
    names = wl.set_index("uscc")["name"]

    # Frames are dropped as soon as their file is written: a national package is
    # hundreds of thousands of firms, and every writer process holds its own.
    reasons = inputs.reasons.loc[member(inputs.reasons["uscc"], firms)].copy()
    reasons["points"] = reasons["points"].round(1)
    reasons["percentile"] = reasons["percentile"].round(0)
    reasons["percentile_higher"] = reasons["percentile_higher"].round(0)
    patents = inputs.patents.loc[member(inputs.patents["uscc"], firms)].copy()
    patents["remaining_years"] = patents["remaining_years"].round(1)
    programmes = inputs.programmes.loc[member(inputs.programmes["uscc"], firms)]
    listed = (patents["rank_in_firm"] <= patents_per_firm).to_numpy()
    # the firm's name only in the workbook's patent sheet (the JSON nests patents by firm)
    top_patents = (patents if listed.all() else patents.loc[listed]).assign(
        name=lambda d: d["uscc"].map(names)
    )[list(PATENT_HEADERS)]
    # firms in the order of the 白名单 sheet (rank), each firm's patents best first
    in_list_order = np.argsort(firms.get_indexer(top_patents["uscc"]), kind="stable")
    top_patents = top_patents.iloc[in_list_order]

    table = wl[list(WHITELIST_HEADERS)].copy()
    table["score"] = table["score"].round(1)
    table["pd"] = table["pd"].round(6)

    if "lists" in parts:
        # CSV: UTF-8 with BOM so Excel opens it; text cells neutralised against formulas.
        csv_frame = neutralise_frame(table).rename(columns=WHITELIST_HEADERS)
        csv_frame.to_csv(
            folder / "whitelist.csv", index=False, encoding="utf-8-sig", lineterminator="\n"
        )
        del csv_frame
    if "workbook" in parts:
        _write_workbook(
            folder, bank, inputs, wl, reasons, top_patents, table, patents_per_firm, max_rows
        )
    del top_patents
    if "lists" in parts:
        firm_columns = [
            c for c in table.columns if c not in ("reasons_up", "reasons_down", "programmes_text")
        ]
        details = _FirmDetails(reasons, patents, programmes)
        head = {
            "meta": package_meta(inputs, bank),
            "knockout_checks_passed": inputs.checks,
            "pledgeable_patents_listed_per_firm": patents_per_firm,
        }
        _write_json(
            folder / "whitelist.json",
            head,
            (
                details.records(table.iloc[i : i + _CHUNK_FIRMS][firm_columns])
                for i in _starts(table)
            ),
        )
        _write_report(
            folder / "report.html",
            bank,
            inputs,
            table[firm_columns],
            details.records(table.iloc[:detail_limit][firm_columns]),
            env=env,
            patents_per_firm=patents_per_firm,
            sections=wl["industry_section"].iloc[:detail_limit].tolist()
            if "industry_section" in wl
            else None,
        )
    if whole:
        write_manifest(folder, package_meta(inputs, bank), key)
    return len(wl)


def _write_workbook(
    folder: Path,
    bank: BankConfig,
    inputs: PackageInputs,
    wl: pd.DataFrame,
    reasons: pd.DataFrame,
    top_patents: pd.DataFrame,
    table: pd.DataFrame,
    patents_per_firm: int,
    max_rows: int,
) -> None:
    write_workbook(
        folder / "whitelist.xlsx",
        [
            Sheet(
                "白名单",
                table.drop(columns=list(_REASON_SHEET_ONLY)),
                [v for k, v in WHITELIST_HEADERS.items() if k not in _REASON_SHEET_ONLY],
                (6, 21, 36, 12, 10, 10, 24, 8, 6, 10, 8, 12, 18, 30, 12),
                {"pd": "0.00%"},  # the number stays a fraction; the reader sees 0.59%
            ),
            Sheet("评分理由", *_reasons_sheet(wl, reasons)),
            Sheet(
                "可质押专利",
                top_patents,
                list(PATENT_HEADERS.values()),
                (21, 36, 20, 10, 40, 14, 10, 30),
            ),
        ],
        [
            *_notes(inputs, bank, len(wl)),
            (
                "可质押专利",
                "可质押指核查日：企业为登记权利人（共有的需其他权利人同意）、已授权且有效、"
                "未质押、未被保全、剩余保护期超过 1 年（请按贷款期限另行核对）；"
                f"每家企业列出最优的 {patents_per_firm} 件（发明优先、剩余保护期长者优先）；"
                "白名单表“可质押专利数”为全部件数，完整清单可向推送单位索取。",
            ),
        ],
        created=inputs.created,
        title=f"{bank.name} 授信白名单 {inputs.meta['batch_id']}",
        max_rows=max_rows,
    )


def _text(value: Any) -> str:
    return "" if value is None else str(value)


_CHUNK_FIRMS = 20_000
"""Firms turned into Python records at a time: a national bank list (hundreds of thousands
of firms, millions of reasons and patents) never exists as one list of dicts or one JSON
string."""


def _starts(frame: pd.DataFrame) -> range:
    return range(0, len(frame), _CHUNK_FIRMS)


class _FirmDetails:
    """Builds JSON-ready firm records with their reasons, programmes and pledgeable patents,
    for any slice of the package's firms."""

    _COLUMNS = {
        "reasons": [
            "direction",
            "slot",
            "label_zh",
            "points",
            "value",
            "percentile",
            "percentile_higher",
            "text",
        ],
        "patents": ["app_no", "type_zh", "title", "remaining_years", "status", "co_owners"],
        "programmes": ["programme_zh", "level_zh", "valid_from", "valid_to", "lapses_in_validity"],
    }
    _LISTS = {
        "reasons_up": ("reasons", "up"),
        "reasons_down": ("reasons", "down"),
        "programmes": ("programmes", None),
        "pledgeable_patents": ("patents", None),
    }
    """Each firm record's list field: (frame, direction of the reasons kept or None)."""

    def __init__(
        self, reasons: pd.DataFrame, patents: pd.DataFrame, programmes: pd.DataFrame
    ) -> None:
        self._frames = {"reasons": reasons, "patents": patents, "programmes": programmes}

    def records(self, firms: pd.DataFrame) -> list[dict[str, Any]]:
        ids = pd.Index(firms["uscc"].to_numpy())
        out = _records(firms)
        for field_name, (key, direction) in self._LISTS.items():
            frame = self._frames[key]
            keep = member(frame["uscc"], ids)
            if direction is not None:
                keep &= (frame["direction"] == direction).to_numpy(dtype=bool)
            sub = frame.loc[keep]
            # rows grouped by firm in the chunk's order, each firm's rows in frame order;
            # bounds[i]:bounds[i + 1] are firm i's
            pos = ids.get_indexer(sub["uscc"])
            order = np.argsort(pos, kind="stable")
            rows = _records(sub[self._COLUMNS[key]].iloc[order])
            bounds = np.searchsorted(pos[order], np.arange(len(ids) + 1)).tolist()
            for i, rec in enumerate(out):
                rec[field_name] = rows[bounds[i] : bounds[i + 1]]
        return out


def _write_json(
    path: Path, head: dict[str, Any], firm_chunks: Iterable[list[dict[str, Any]]]
) -> None:
    """Write ``{**head, "firms": [...]}`` as one compact, key-sorted UTF-8 JSON document,
    firm chunk by firm chunk.

    The bytes equal ``orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)``: ``firms`` sorts
    before every other top-level key, and a nested value dumps to the same text alone as
    inside its document. orjson rather than the json module: a national package is a
    gigabyte of JSON, and orjson encodes it ~5× faster (same text except that it spells
    small floats without an exponent, ``0.00001`` for ``1e-05``).
    """
    if any(k <= "firms" for k in head):
        raise ValueError(f"top-level keys must sort after 'firms', got {sorted(head)}")
    tail = _dump(head)  # b'{...}'
    with path.open("wb") as fh:
        fh.write(b'{"firms":[')
        sep = b""
        for chunk in firm_chunks:
            if chunk:
                fh.write(sep + _dump(chunk)[1:-1])
                sep = b","
        fh.write(b"]" + (b"," + tail[1:] if head else b"}") + b"\n")


def _dump(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _list_rows(table: pd.DataFrame, detail_limit: int) -> Iterator[dict[str, Any]]:
    """One row of the report's firm list per firm, produced chunk by chunk."""
    for start in _starts(table):
        for i, f in enumerate(_records(table.iloc[start : start + _CHUNK_FIRMS]), start):
            yield {
                "seq": f["seq"],
                "uscc": f["uscc"],
                "name": _text(f["name"]),
                "region": _text(f["region_name"] or f["region_code"]),
                "industry": _text(f["industry_code"]),
                "score": f"{f['score']:.1f}",
                "grade": f["grade"],
                "pd": f"{f['pd']:.2%}",
                "nominated_by": _text(f["nominated_by"]),
                "pledgeable_count": f["pledgeable_count"],
                "detail": i < detail_limit,
            }


_PAGE_ROWS = 200
"""Rows of the report's firm list shown at a time. A national list is hundreds of thousands
of firms: as table rows, Chromium needed ~2 s per 20k rows for every layout (each sort), and
a 138k-firm list did not finish loading, searching and sorting in 15 minutes. The list is
data (JSON) the page's script sorts, searches and pages; the first page is also plain
HTML, for readers without scripts."""
_LIST_FIELDS = (
    "seq",
    "name",
    "uscc",
    "region",
    "industry",
    "score",
    "grade",
    "pd",
    "nominated_by",
    "pledgeable_count",
    "detail",
)
"""One list row's cells in the page's JSON, in the order of the table's columns, then
whether the firm has a detail section."""


def _list_data(table: pd.DataFrame, detail_limit: int) -> Iterator[Markup]:
    """The firm list as JSON rows (arrays in :data:`_LIST_FIELDS` order), one comma-joined
    piece per chunk of firms, safe inside a ``<script>`` element (``<``, ``>``, ``&`` and
    ``'`` escaped)."""
    rows: list[list[Any]] = []
    for row in _list_rows(table, detail_limit):
        rows.append([row[k] for k in _LIST_FIELDS[:-1]] + [int(row["detail"])])
        if len(rows) == _CHUNK_FIRMS:
            yield _json_rows(rows)
            rows = []
    if rows:
        yield _json_rows(rows)


def _json_rows(rows: list[list[Any]]) -> Markup:
    text = htmlsafe_json_dumps(rows, dumps=json.dumps, ensure_ascii=False, separators=(",", ":"))
    return Markup(str(text)[1:-1])


def _write_report(
    path: Path,
    bank: BankConfig,
    inputs: PackageInputs,
    table: pd.DataFrame,
    detailed: list[dict[str, Any]],
    *,
    env: jinja2.Environment,
    patents_per_firm: int = 10,
    sections: list[Any] | None = None,
) -> None:
    """Render report.html: the list of every firm in ``table`` (streamed into the file) and
    a section for each firm of ``detailed`` (full records, the first firms of the list;
    ``sections``: their GB/T 4754 section letters, named beside the industry code)."""
    details = []
    head = table.iloc[: len(detailed)]  # the detailed firms are the first of the list
    found: dict[str, dict[str, str]] = {}
    if len(inputs.firm_checks):
        for u, rule_id, text in inputs.firm_checks[["uscc", "rule_id", "detail"]].itertuples(
            index=False
        ):
            found.setdefault(u, {})[rule_id] = text
    sections = sections if sections is not None else [None] * len(detailed)
    for row, f, section in zip(_list_rows(head, len(detailed)), detailed, sections, strict=True):
        patents = f["pledgeable_patents"]
        name = SECTION_ZH.get(str(section)) if section is not None else None
        details.append(
            {
                **row,
                "industry": f"{row['industry']}（{name}）"
                if name and row["industry"]
                else row["industry"],
                "park": _text(f["park"]),
                "chart": inputs.chart(f["uscc"]),
                "checks": [
                    {**c, "detail": found.get(f["uscc"], {}).get(c["rule_id"], "")}
                    for c in inputs.checks
                ],
                "up": [r["text"] for r in f["reasons_up"]],
                "down": [r["text"] for r in f["reasons_down"]],
                "programmes": [
                    {
                        "programme": p["programme_zh"],
                        "level": _text(p["level_zh"]),
                        "valid_from": _text(p["valid_from"]),
                        "valid_to": _text(p["valid_to"]),
                        "lapses": bool(p.get("lapses_in_validity")),
                    }
                    for p in f["programmes"]
                ],
                "patents": [
                    {
                        "app_no": p["app_no"],
                        "type": p["type_zh"],
                        "title": _text(p["title"]),
                        "remaining": ""
                        if p["remaining_years"] is None
                        else f"{p['remaining_years']:.1f}",
                        "status": _text(p["status"]),
                        "co_owners": _text(p["co_owners"]),
                    }
                    for p in patents[:patents_per_firm]
                ],
                # the list holds the best ones only; the firm's count is of all of them
                "patents_total": max(
                    int(f["pledgeable_count"] or 0), min(len(patents), patents_per_firm)
                ),
            }
        )
    stream = env.get_template("bank_report.html.j2").stream(
        bank=bank,
        meta={k: scrub_pii(v) if isinstance(v, str) else v for k, v in inputs.meta.items()},
        n_firms=len(table),
        page_size=_PAGE_ROWS,
        first_page=list(_list_rows(table.iloc[:_PAGE_ROWS], len(detailed))),
        firm_data=_list_data(table, len(detailed)),
        details=details,
        omitted=max(0, len(table) - len(details)),
        checks=inputs.checks,
    )
    stream.enable_buffering(256)  # a national list is millions of small template pieces
    stream.dump(str(path), encoding="utf-8")


def template_env(extra: Mapping[str, Any] | None = None) -> jinja2.Environment:
    """The Jinja2 environment for the shipped templates (autoescaped, strict undefined)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("screening", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.globals.update(extra or {})
    return env
