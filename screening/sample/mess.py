"""Real-world mess at a given rate: the kinds of damage real exports carry.

``plan`` fixes how each table is written when ``rate > 0`` (which tables get Chinese
headers, GBK/GB18030/UTF-8-with-BOM encodings, programmes as XLSX). ``Messer.apply`` then
damages a ``rate``-proportional share of rows of each chunk:

========================  =====================  ====================================
kind                      share of rows          tables
========================  =====================  ====================================
mixed date formats        3·rate of date cells   all (YYYY/MM/DD, YYYYMMDD, 年月日;
                                                 Excel serials in programmes.xlsx)
``；`` list separators    2·rate of list cells   patents, enterprises, loans
USCC spelling             rate                   lower case, full width, padded
invalid USCC              rate/5                 wrong check character
invalid app_no            rate/5                 patents, patent_events, loans
app_no spelling           rate                   no ``CN``/dot, lower case
exact duplicate rows      rate                   all
conflicting duplicates    rate/4                 all (same key, one field differs)
unknown enum value        rate/10                status, patent_type, event_code...
negative count            rate/5                 employees, claims, dpd
grant before application  rate/5                 patents
name differs from         2·rate                 applicants/owners (USCCs dropped),
registry                                         credit records, programmes,
                                                 nominations (often by name only)
========================  =====================  ====================================
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from screening.sample._vocab import REGIONS
from screening.sample.writer import TABLES, FileSpec

# Programmes go to XLSX only while the file stays far below Excel's 1,048,575-row limit.
XLSX_UP_TO_FIRMS = 200_000

ALIASES: dict[str, dict[str, str]] = {
    "enterprises": {
        "uscc": "统一社会信用代码",
        "name": "企业名称",
        "former_names": "曾用名",
        "status": "登记状态",
        "established": "成立日期",
        "region_code": "行政区划代码",
        "industry_code": "国民经济行业代码",
        "park": "所属园区",
        "size": "企业规模",
        "employees": "从业人数",
        "registered_capital": "注册资本（万元）",
        "revenue": "营业收入（万元）",
        "rd_expense": "研发费用（万元）",
    },
    "patents": {
        "app_no": "申请号",
        "app_date": "申请日",
        "patent_type": "专利类型",
        "title": "专利名称",
        "pub_date": "公开（公告）日",
        "grant_date": "授权公告日",
        "ipc_main": "IPC主分类号",
        "ipc_all": "IPC分类号",
        "claims": "权利要求数量",
        "forward_citations": "被引证次数",
        "family_size": "同族数量",
        "family_countries": "同族国家",
        "pct": "PCT",
        "applicants": "申请人",
        "applicant_usccs": "申请人统一社会信用代码",
        "owners": "当前权利人",
        "inventors": "发明人",
        "legal_status": "法律状态",
        "award": "专利奖",
    },
    "patent_events": {
        "app_no": "申请号",
        "event_code": "法律状态代码",
        "event_date": "事务日期",
        "description": "事务描述",
        "from_party": "变更前",
        "to_party": "变更后",
    },
    "credit_records": {
        "uscc": "统一社会信用代码",
        "name": "企业名称",
        "record_type": "记录类型",
        "start_date": "列入日期",
        "end_date": "移出日期",
        "severity": "严重程度",
        "value": "等级",
        "record_id": "文书号",
        "source": "来源",
    },
    "programmes": {
        "uscc": "统一社会信用代码",
        "name": "企业名称",
        "programme": "资质类型",
        "level": "级别",
        "valid_from": "认定日期",
        "valid_to": "有效期至",
        "certificate_no": "证书编号",
        "standard_version": "标准版本",
        "status": "证书状态",
    },
    "nominations": {
        "uscc": "统一社会信用代码",
        "name": "企业名称",
        "nominated_by": "推荐单位",
        "nominated_on": "推荐日期",
        "note": "备注",
    },
    "loans": {
        "loan_id": "借据号",
        "uscc": "统一社会信用代码",
        "bank": "贷款银行",
        "disbursed_on": "放款日期",
        "maturity": "到期日期",
        "amount": "放款金额（万元）",
        "report_date": "报告日期",
        "balance": "贷款余额（万元）",
        "classification": "五级分类",
        "dpd": "逾期天数",
        "pledged_app_nos": "质押专利申请号",
        "pledge_reg_no": "质押登记号",
        "first_loan": "是否首贷",
    },
}

# Canonical value → the Chinese spelling real exports use.
CHINESE_VALUES: dict[str, dict[str, tuple[str, ...]]] = {
    "status": {
        "active": ("存续", "在业"),
        "revoked": ("吊销",),
        "cancelled": ("注销",),
        "moved": ("迁出",),
        "liquidating": ("清算",),
    },
    "size": {"large": ("大型",), "medium": ("中型",), "small": ("小型",), "micro": ("微型",)},
    "patent_type": {
        "invention": ("发明",),
        "utility_model": ("实用新型",),
        "design": ("外观设计",),
    },
    "record_type": {
        "dishonest_debtor": ("失信被执行人",),
        "consumption_restriction": ("限制高消费",),
        "serious_violation": ("严重违法失信",),
        "abnormal_operation": ("经营异常",),
        "major_tax_violation": ("重大税收违法",),
        "admin_penalty": ("行政处罚",),
        "tax_rating": ("纳税信用等级",),
    },
    "severity": {"general": ("一般",), "serious": ("严重",)},
    "programme": {
        "little_giant": ('专精特新"小巨人"',),
        "srdi_sme": ("专精特新中小企业",),
        "innovative_sme": ("创新型中小企业",),
        "high_tech": ("高新技术企业",),
        "tech_sme": ("科技型中小企业",),
        "ip_advantage": ("知识产权优势企业",),
        "ip_demonstration": ("知识产权示范企业",),
        "ip_standard": ("贯标认证",),
    },
    "level": {"national": ("国家",), "provincial": ("省",), "city": ("市",)},
    "classification": {
        "normal": ("正常",),
        "special_mention": ("关注",),
        "substandard": ("次级",),
        "doubtful": ("可疑",),
        "loss": ("损失",),
    },
}
# Certificate status shares the column name with registry status but not its words.
PROGRAMME_STATUS = {"valid": ("有效",), "suspended": ("暂停",), "revoked": ("撤销",)}
UNKNOWN_VALUE = {
    "enterprises": ("status", "歇业"),
    "patents": ("patent_type", "集成电路布图设计"),
    "patent_events": ("event_code", "ZZ99"),
    "credit_records": ("record_type", "黑名单"),
    "programmes": ("programme", "瞪羚企业"),
    "loans": ("classification", "待定"),
}
NEGATIVE_COUNT = {"enterprises": "employees", "patents": "claims", "loans": "dpd"}
DATE_COLS = {
    "enterprises": ("established",),
    "patents": ("app_date", "pub_date", "grant_date"),
    "patent_events": ("event_date",),
    "credit_records": ("start_date", "end_date"),
    "programmes": ("valid_from", "valid_to"),
    "nominations": ("nominated_on",),
    "loans": ("disbursed_on", "maturity", "report_date"),
}
LIST_COLS = {
    "enterprises": ("former_names",),
    "patents": (
        "ipc_all",
        "applicants",
        "applicant_usccs",
        "owners",
        "inventors",
        "family_countries",
    ),
    "loans": ("pledged_app_nos",),
}
CONFLICT_COL = {
    "enterprises": "employees",
    "patents": "claims",
    "patent_events": "to_party",
    "credit_records": "source",
    "programmes": "certificate_no",
    "nominations": "note",
    "loans": "balance",
}
# How each table is written when rate > 0 (format, encoding, Chinese headers).
_PLAN = {
    "enterprises": ("gbk", True),
    "patents": ("gb18030", True),
    "patent_events": ("gb18030", False),
    "credit_records": ("gbk", True),
    "programmes": ("xlsx", True),
    "nominations": ("gb18030", True),
    "loans": ("utf-8-sig", True),
}
_EXCEL_EPOCH = dt.date(1899, 12, 30)


def plan(rate: float, fmt: str, firms: int = 0) -> dict[str, FileSpec]:
    """How each table is written (see the module docstring)."""
    if rate <= 0:
        return {t: FileSpec(fmt=fmt) for t in TABLES}
    out = {}
    for t in TABLES:
        enc, zh = _PLAN[t]
        if enc == "xlsx":
            xlsx = fmt == "csv" and firms <= XLSX_UP_TO_FIRMS
            out[t] = FileSpec(fmt="xlsx" if xlsx else fmt, chinese_headers=zh)
        else:
            out[t] = FileSpec(
                fmt=fmt, encoding=enc if fmt == "csv" else "utf-8", chinese_headers=zh
            )
    return out


_FULLWIDTH = {c: chr(ord(c) + 0xFEE0) for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"}


def uscc_spelling(code: str, k: int) -> str:
    """One of the ways a valid USCC is mistyped but still the same code."""
    if k == 0:
        return code.lower()
    if k == 1:
        return "".join(_FULLWIDTH.get(c, c) for c in code)
    return f" {code[:6]} {code[6:]} "


def break_uscc(code: str) -> str:
    """A USCC with a wrong check character (rejected by the contract)."""
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    last = code[-1]
    return code[:-1] + alphabet[(alphabet.index(last) + 7) % 31] if last in alphabet else code


def break_app_no(app_no: str) -> str:
    """An application number with a wrong check character."""
    digits = "0123456789X"
    last = app_no[-1]
    return app_no[:-1] + digits[(digits.index(last) + 3) % 11] if last in digits else app_no


def app_no_spelling(app_no: str, k: int) -> str:
    """``CN201710117081.7`` → ``2017101170817`` / ``cn201710117081.7`` / ``ZL…``."""
    body = app_no[2:]
    if k == 0:
        return body.replace(".", "")
    if k == 1:
        return app_no.lower()
    return "ZL" + body


_FORMS = ("股份有限公司", "有限责任公司", "有限公司")
_CITIES = tuple(sorted((r[1] for r in REGIONS), key=len, reverse=True))


def name_variant(name: str, former: str | None, k: int) -> str:
    """The registry name as another source spells it (曾用名, company form, spaces, brackets)."""
    if k == 0 and former:
        return former.split(";")[0]
    form = next((f for f in _FORMS if name.endswith(f)), "")
    stem = name[: len(name) - len(form)] if form else name
    if k <= 1 and form == "有限公司":
        return stem + "有限责任公司"
    if k <= 1 and form == "有限责任公司":
        return stem + "有限公司"
    city = next((c for c in _CITIES if stem.startswith(c)), stem[:2])
    rest = stem[len(city) :]
    if k == 2 and len(rest) > 2:
        return f"{city} {rest}{form}"
    if len(rest) > 2:
        # 字号（城市）行业: the city moves into full-width brackets after the trade name.
        return f"{rest[:2]}（{city}）{rest[2:]}{form}"
    return f" {name} "


def _as_strings(table: pa.Table, chinese: bool) -> dict[str, pa.Array]:
    """Every column as an Arrow string array (dates ISO, booleans Y/N or 是/否).

    A date32 cast to string is ISO already, and ~20x faster than ``strftime``.
    """
    cols: dict[str, pa.Array] = {}
    for name, col in zip(table.column_names, table.columns, strict=True):
        col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        if pa.types.is_boolean(col.type):
            col = pc.if_else(col, "是" if chinese else "Y", "否" if chinese else "N")
        elif not pa.types.is_string(col.type):
            col = col.cast(pa.string())
        cols[name] = col
    return cols


def _patch(arr: pa.Array, rows: np.ndarray, fn) -> pa.Array:
    """Replace the values at ``rows`` by ``fn(value, j)`` (j = position in ``rows``).

    Only the damaged rows go through Python; the rest of the column stays in Arrow.
    """
    if len(rows) == 0:
        return arr
    old = arr.take(pa.array(rows)).to_pylist()
    new = [fn(v, j) for j, v in enumerate(old)]
    mask = np.zeros(len(arr), dtype=bool)
    mask[rows] = True
    return pc.replace_with_mask(arr, pa.array(mask), pa.array(new, pa.string()))


def _map_values(arr: pa.Array, mapping: dict[str, tuple[str, ...]], rng) -> pa.Array:
    """Canonical values → Chinese spellings (two spellings, e.g. 存续/在业, drawn at random)."""
    keys = list(mapping)
    idx = pc.index_in(arr, value_set=pa.array(keys, pa.string()))
    first = pa.array([mapping[k][0] for k in keys], pa.string()).take(idx)
    second = pa.array([mapping[k][-1] for k in keys], pa.string()).take(idx)
    mapped = pc.if_else(pa.array(rng.random(len(arr)) < 0.5), second, first)
    return pc.coalesce(mapped, arr)


class Messer:
    """Damages chunks of tables at ``rate`` (see the module docstring)."""

    def __init__(self, rate: float, rng: np.random.Generator, firms, lo: int, hi: int) -> None:
        self.rate = float(rate)
        self.rng = rng
        self._former = dict(
            zip(
                firms.name.slice(lo, hi - lo).to_pylist(),
                firms.former_name.slice(lo, hi - lo).to_pylist(),
                strict=True,
            )
        )

    def _rows(self, n: int, share: float) -> np.ndarray:
        k = self.rng.binomial(n, min(1.0, share)) if n else 0
        return np.sort(self.rng.choice(n, k, replace=False)) if k else np.zeros(0, dtype=np.int64)

    def _variant(self, value: str | None, k: int) -> str | None:
        if not value:
            return value
        first, *rest = value.replace("；", ";").split(";")
        return ";".join([name_variant(first, self._former.get(first), k), *rest])

    def apply(self, name: str, table: pa.Table, spec: FileSpec) -> pa.Table:
        """The damaged chunk: every column as strings, headers per ``spec``."""
        r, rng = self.rate, self.rng
        xlsx = spec.fmt == "xlsx"
        cols = _as_strings(table, spec.chinese_headers)
        n = table.num_rows

        if spec.chinese_headers:
            for col, mapping in CHINESE_VALUES.items():
                if name == "programmes" and col == "status":
                    mapping = PROGRAMME_STATUS
                if col in cols:
                    cols[col] = _map_values(cols[col], mapping, rng)
        for col in DATE_COLS.get(name, ()):
            rows = self._rows(n, 3 * r)
            ks = rng.integers(4 if xlsx else 3, size=len(rows))
            cols[col] = _patch(cols[col], rows, lambda v, j, ks=ks: _date_spelling(v, int(ks[j])))
        for col in LIST_COLS.get(name, ()):
            rows = self._rows(n, 2 * r)
            cols[col] = _patch(cols[col], rows, lambda v, j: v and v.replace(";", "；"))
        if "uscc" in cols:
            rows = self._rows(n, r)
            ks = rng.integers(3, size=len(rows))
            cols["uscc"] = _patch(
                cols["uscc"], rows, lambda v, j, ks=ks: v and uscc_spelling(v, int(ks[j]))
            )
            rows = self._rows(n, r / 5)
            cols["uscc"] = _patch(
                cols["uscc"], rows, lambda v, j: v and break_uscc(v.strip().upper())
            )
        if "app_no" in cols:
            rows = self._rows(n, r)
            ks = rng.integers(3, size=len(rows))
            cols["app_no"] = _patch(
                cols["app_no"], rows, lambda v, j, ks=ks: app_no_spelling(v, int(ks[j]))
            )
            cols["app_no"] = _patch(
                cols["app_no"], self._rows(n, r / 5), lambda v, j: break_app_no(v)
            )
        if name in UNKNOWN_VALUE:
            col, bad = UNKNOWN_VALUE[name]
            cols[col] = _patch(cols[col], self._rows(n, r / 10), lambda v, j: bad)
        if name in NEGATIVE_COUNT:
            col = NEGATIVE_COUNT[name]
            rows = self._rows(n, r / 5)
            neg = rng.integers(1, 20, size=len(rows))
            cols[col] = _patch(cols[col], rows, lambda v, j: v and str(-int(neg[j])))
        if name == "patents":
            rows = self._rows(n, r / 5)
            apps = cols["app_date"].take(pa.array(rows)).to_pylist()
            back = rng.integers(30, 400, size=len(rows))
            cols["grant_date"] = _patch(
                cols["grant_date"], rows, lambda v, j: _days_before(apps[j], int(back[j])) or v
            )
            rows = self._rows(n, 2 * r)
            ks = rng.integers(4, size=len(rows))
            for col in ("applicants", "owners"):
                cols[col] = _patch(
                    cols[col], rows, lambda v, j, ks=ks: self._variant(v, int(ks[j]))
                )
            cols["applicant_usccs"] = _patch(cols["applicant_usccs"], rows, lambda v, j: None)
        if "name" in cols and name != "enterprises":
            by_name = {"programmes": min(0.9, 20 * r), "nominations": min(0.6, 10 * r)}.get(name, r)
            cols["uscc"] = _patch(cols["uscc"], self._rows(n, by_name), lambda v, j: None)
            rows = self._rows(n, 2 * r)
            ks = rng.integers(4, size=len(rows))
            cols["name"] = _patch(
                cols["name"], rows, lambda v, j, ks=ks: self._variant(v, int(ks[j]))
            )

        # Duplicates sit right after their original; conflicting ones differ in one column.
        dup_exact = self._rows(n, r)
        conf_col = cols[CONFLICT_COL[name]]
        conf = self._rows(n, r / 4)
        conf = (
            conf[pc.is_valid(conf_col.take(pa.array(conf))).to_numpy(zero_copy_only=False)]
            if len(conf)
            else conf
        )
        source = np.concatenate([np.arange(n), dup_exact, conf])
        kind = np.concatenate(
            [np.zeros(n, int), np.ones(len(dup_exact), int), np.full(len(conf), 2)]
        )
        order = np.lexsort((kind, source))
        take = pa.array(source[order])
        conflict_rows = np.flatnonzero(kind[order] == 2)
        out = {}
        for col, arr in cols.items():
            arr = arr.take(take)
            if col == CONFLICT_COL[name]:
                arr = _patch(arr, conflict_rows, lambda v, j: _conflicting(v, rng))
            out[col] = arr
        names = [ALIASES[name][c] if spec.chinese_headers else c for c in table.column_names]
        return pa.table([out[c] for c in table.column_names], names=names)


def _date_spelling(v: str | None, k: int) -> str | None:
    """``YYYY-MM-DD`` → YYYY/MM/DD, YYYYMMDD, YYYY年MM月DD日 or (k=3) an XLSX serial marker."""
    if v is None:
        return None
    y, m, d = v.split("-")
    if k == 3:
        # A leading NUL marks an Excel serial date; the XLSX writer writes it as a number.
        return f"\x00{(dt.date(int(y), int(m), int(d)) - _EXCEL_EPOCH).days}"
    return (f"{y}/{m}/{d}", f"{y}{m}{d}", f"{y}年{m}月{d}日")[k]


def _days_before(iso: str | None, days: int) -> str | None:
    if not iso or len(iso) != 10 or iso[4] != "-":
        return None
    return (dt.date.fromisoformat(iso) - dt.timedelta(days=days)).isoformat()


def _conflicting(value, rng: np.random.Generator):
    """Another value for the same key: a second export that disagrees with the first."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return f"{value}（更正）"
    return str(int(x) + 1) if x == int(x) else str(round(x * 1.1 + 1, 1))
