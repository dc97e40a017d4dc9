"""One contract per input table (shared/input_format.md, docs/data_model.md).

Each table is declared once here: canonical column names, Chinese header aliases, kind of
value, whether it is required, the enum mapping and cross-column date rules. The reader,
the pandera value checks, the ``validate`` report and the docs all read these records.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from data_contracts._text import enum_lookup_key, normalize_header, strip_parenthetical

Kind = Literal[
    "uscc",
    "app_no",
    "code",
    "ipc",
    "text",
    "list",
    "code_list",
    "app_no_list",
    "ipc_list",
    "date",
    "int",
    "float",
    "bool",
    "enum",
]

# dtype of each kind in the canonical tables (docs/data_model.md).
DTYPE_OF_KIND: Mapping[str, str] = MappingProxyType(
    {
        "uscc": "str",
        "app_no": "str",
        "code": "str",
        "ipc": "str",
        "text": "str",
        "list": "str",
        "code_list": "str",
        "app_no_list": "str",
        "ipc_list": "str",
        "enum": "str",
        "date": "datetime64[ns]",
        "int": "Int64",
        "float": "float64",
        "bool": "boolean",
    }
)


UNIT_SUFFIXES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"万元": ("万元", "万"), "人": ("人",), "天": ("天",)}
)
"""Per column unit, the suffixes that say that unit again (longest first)."""


def _enum(pairs: Mapping[str, tuple[str, ...]]) -> Mapping[str, str]:
    """Build a lookup ``normalised input -> canonical`` from ``canonical -> accepted inputs``."""
    table: dict[str, str] = {}
    for canonical, inputs in pairs.items():
        for text in (canonical, *inputs):
            table[enum_lookup_key(text)] = canonical
    return MappingProxyType(table)


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a table contract.

    Attributes
    ----------
    name : str
        Canonical English name.
    aliases : tuple of str
        Accepted Chinese (and other) headers. Matching ignores case, spaces, full-width
        forms; an alias with a unit in brackets, e.g. ``注册资本(万元)``, also matches without.
    kind : str
        How the value is parsed and checked (see ``DTYPE_OF_KIND``).
    required : bool
        The column must be present and every row must have a value.
    enum : Mapping or None
        For ``kind="enum"``: normalised input -> canonical value.
    nonneg : bool
        Numbers must be >= 0 (``negative_count`` for counts, ``negative_amount`` otherwise).
    pattern : str or None
        Regular expression a code must match (checked with pandera).
    future_ok : bool
        A date that may lie after today (an expiry: ``valid_to``, ``maturity``,
        ``end_date``); other dates record something that happened and cannot be in the
        future (``date_in_future``).
    unit : str
        Unit of a number column (``万元``, ``人``, ``天``; see ``UNIT_SUFFIXES``): a cell
        that repeats it (``1048.6万``) is read without it, with a warning; any other unit
        (``1.2亿元``) is not converted and the cell is unparseable.
    """

    name: str
    aliases: tuple[str, ...] = ()
    kind: Kind = "text"
    required: bool = False
    enum: Mapping[str, str] | None = None
    nonneg: bool = False
    pattern: str | None = None
    future_ok: bool = False
    unit: str = ""
    description: str = ""

    @property
    def dtype(self) -> str:
        return DTYPE_OF_KIND[self.kind]

    @property
    def enum_values(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.enum.values()))) if self.enum else ()


@dataclass(frozen=True)
class TableContract:
    """The contract of one input table.

    Attributes
    ----------
    name : str
        Table name, also the file stem (``patents.csv``).
    columns : tuple of ColumnSpec
        In canonical order.
    required : bool
        The run cannot proceed without this table.
    key : tuple of str
        Columns identifying a record: two accepted rows with the same key but different
        values are a conflict (both rejected). Empty = exact duplicates only.
    on_conflict : {"reject", "keep_last"}
        What conflicting copies of a key become: ``reject`` (default) rejects every copy;
        ``keep_last`` uses the last copy in the file known at the as-of date (taken as the
        correction of the others, which are rejected as ``duplicate_superseded``). For records whose loss would
        let a firm through (negative credit records), a conflict must not drop them all.
    uscc_or_name : bool
        Rows identify the firm by ``uscc`` or, failing that, ``name`` (official lists are
        often by name only); at least one of them is required.
    date_order : tuple of (earlier, later, rule)
        A row whose ``later`` date is before its ``earlier`` date cannot be true.
    match_on : tuple of str
        Columns two exact duplicates necessarily share (a cheap pre-filter before the
        full-row comparison); defaults to ``key``. Tables without either compare full rows.
    """

    name: str
    columns: tuple[ColumnSpec, ...]
    required: bool = False
    key: tuple[str, ...] = ()
    on_conflict: str = "reject"
    uscc_or_name: bool = False
    date_order: tuple[tuple[str, str, str], ...] = ()
    match_on: tuple[str, ...] = ()
    description: str = ""
    _lookup: Mapping[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.on_conflict not in ("reject", "keep_last"):
            raise ValueError(
                f"The 'on_conflict' parameter of TableContract must be 'reject' or "
                f"'keep_last'. Got {self.on_conflict!r} instead."
            )
        lookup: dict[str, str] = {}
        for col in self.columns:
            if col.unit and (col.unit not in UNIT_SUFFIXES or col.kind not in ("int", "float")):
                raise ValueError(
                    f"The 'unit' of column {col.name!r} of table {self.name!r} must be one of "
                    f"{list(UNIT_SUFFIXES)} on an int or float column. Got {col.unit!r} "
                    f"on a {col.kind} column instead."
                )
            for text in (col.name, *col.aliases):
                for key in {normalize_header(text), strip_parenthetical(normalize_header(text))}:
                    if key in lookup and lookup[key] != col.name:
                        raise ValueError(
                            f"Header {text!r} of table {self.name!r} matches both "
                            f"{lookup[key]!r} and {col.name!r}."
                        )
                    lookup[key] = col.name
        object.__setattr__(self, "_lookup", MappingProxyType(lookup))

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def dtypes(self) -> dict[str, str]:
        return {c.name: c.dtype for c in self.columns}

    def column(self, name: str) -> ColumnSpec:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def match_header(self, header: object) -> str | None:
        """Canonical column name for an input header, or None when it is not part of the table."""
        return self._lookup.get(normalize_header(header))

    def accepted_headers(self, name: str) -> str:
        """``app_no, 申请号`` — for error messages."""
        col = self.column(name)
        return ", ".join((col.name, *col.aliases))


_USCC = ("统一社会信用代码", "社会信用代码", "信用代码", "统一代码")
_NAME = ("企业名称", "单位名称", "公司名称")

STATUS = _enum(
    {
        "active": (
            "存续",
            "在业",
            "在营",
            "开业",
            "存续(在营、开业、在册)",
            "在册",
            "在营(开业)企业",
            "在营(开业)",
            "开业企业",
        ),
        "suspended": ("歇业", "停业"),
        "revoked": ("吊销", "吊销,未注销", "吊销未注销", "撤销", "撤销登记"),
        "cancelled": ("注销", "canceled"),
        "moved": ("迁出",),
        "liquidating": ("清算", "停业清算"),
    }
)
SIZE = _enum(
    {
        "large": ("大型", "大型企业"),
        "medium": ("中型", "中型企业"),
        "small": ("小型", "小型企业"),
        "micro": ("微型", "微型企业"),
    }
)
PATENT_TYPE = _enum(
    {
        "invention": ("发明", "发明专利", "发明申请", "发明授权"),
        "utility_model": ("实用新型", "实用新型专利", "utility model"),
        "design": ("外观设计", "外观设计专利", "外观"),
    }
)
EVENT_CODES = (
    "GR01",
    "CF01",
    "CX01",
    "AV01",
    "RR01",
    "IW01",
    "IP01",
    "TR01",
    "EE01",
    "EM01",
    "EC01",
    "PE01",
    "PM01",
    "PC01",
    "PP01",
    "PD01",
    "PB01",
    "SE01",
    "RJ01",
    "WD01",
)
EVENT_CODE = _enum({code: () for code in EVENT_CODES})
RECORD_TYPE = _enum(
    {
        "dishonest_debtor": ("失信被执行人", "失信被执行人名单"),
        "consumption_restriction": ("限制高消费", "限制消费", "限高"),
        "serious_violation": ("严重违法失信", "严重违法失信名单", "严重违法失信企业名单"),
        "abnormal_operation": ("经营异常", "经营异常名录"),
        "major_tax_violation": ("重大税收违法", "重大税收违法失信主体", "重大税收违法案件"),
        "admin_penalty": ("行政处罚",),
        "tax_rating": ("纳税信用等级", "纳税信用", "纳税信用评价"),
    }
)
SEVERITY = _enum({"general": ("一般",), "serious": ("严重",)})
TAX_RATING = ("A", "B", "M", "C", "D")
PROGRAMME = _enum(
    {
        "little_giant": ('专精特新"小巨人"', "专精特新小巨人", "小巨人", "专精特新小巨人企业"),
        "srdi_sme": ("专精特新中小企业", "专精特新企业", "专精特新"),
        "innovative_sme": ("创新型中小企业", "科技和创新型中小企业"),
        "high_tech": ("高新技术企业", "国家高新技术企业", "高企"),
        "tech_sme": ("科技型中小企业",),
        "ip_advantage": ("知识产权优势企业", "国家知识产权优势企业", "省知识产权优势企业"),
        "ip_demonstration": ("知识产权示范企业", "国家知识产权示范企业", "省知识产权示范企业"),
        "ip_standard": ("贯标认证", "贯标", "知识产权管理体系认证", "GB/T 29490", "GB/T29490"),
    }
)
# Canonical codes in declaration order: the one list other layers (features, the sample
# generator) use instead of spelling the vocabularies again.
RECORD_TYPES: tuple[str, ...] = tuple(dict.fromkeys(RECORD_TYPE.values()))
NEGATIVE_RECORD_TYPES: tuple[str, ...] = tuple(t for t in RECORD_TYPES if t != "tax_rating")
PROGRAMME_CODES: tuple[str, ...] = tuple(dict.fromkeys(PROGRAMME.values()))
LEVEL = _enum(
    {
        "national": ("国家", "国家级", "国家级别"),
        "provincial": ("省", "省级", "省部级"),
        "city": ("市", "市级", "地市级"),
    }
)
CERT_STATUS = _enum({"valid": ("有效",), "suspended": ("暂停",), "revoked": ("撤销",)})
STANDARD_VERSION = _enum(
    {"2013": ("GB/T 29490-2013", "2013版"), "2023": ("GB/T 29490-2023", "2023版")}
)
CLASSIFICATION = _enum(
    {
        "normal": ("正常", "正常类"),
        "special_mention": ("关注", "关注类"),
        "substandard": ("次级", "次级类"),
        "doubtful": ("可疑", "可疑类"),
        "loss": ("损失", "损失类"),
    }
)

_REGION = r"^\d{6}$"


def _c(name: str, *aliases: str, **kw: object) -> ColumnSpec:
    return ColumnSpec(name, tuple(aliases), **kw)  # type: ignore[arg-type]


ENTERPRISES = TableContract(
    "enterprises",
    (
        _c("uscc", *_USCC, kind="uscc", required=True),
        _c("name", *_NAME, kind="text", required=True),
        _c("former_names", "曾用名", "历史名称", kind="list"),
        _c("status", "登记状态", "经营状态", "企业状态", kind="enum", required=True, enum=STATUS),
        _c("established", "成立日期", "注册日期", kind="date"),
        _c(
            "region_code",
            "行政区划代码",
            "区划代码",
            "行政区划",
            kind="code",
            required=True,
            pattern=_REGION,
        ),
        _c("industry_code", "国民经济行业代码", "国民经济行业", "行业代码", kind="code"),
        _c("park", "所属园区", "园区", kind="text"),
        _c("size", "企业规模", "规模", kind="enum", enum=SIZE),
        _c("employees", "从业人数", "员工人数", "职工人数", kind="int", nonneg=True, unit="人"),
        _c("registered_capital", "注册资本(万元)", kind="float", nonneg=True, unit="万元"),
        _c("revenue", "营业收入(万元)", kind="float", nonneg=True, unit="万元"),
        _c(
            "rd_expense", "研发费用(万元)", "研发投入(万元)", kind="float", nonneg=True, unit="万元"
        ),
    ),
    required=True,
    key=("uscc",),
    description="the registry: one row per firm",
)

PATENTS = TableContract(
    "patents",
    (
        _c("app_no", "申请号", "专利申请号", kind="app_no", required=True),
        _c("app_date", "申请日", "申请日期", kind="date", required=True),
        _c("patent_type", "专利类型", kind="enum", required=True, enum=PATENT_TYPE),
        _c("title", "名称", "专利名称", "发明名称", "标题", kind="text"),
        _c("pub_date", "公开(公告)日", "公开日", "公告日", "公开日期", kind="date"),
        _c("grant_date", "授权公告日", "授权日", "授权日期", kind="date"),
        _c("ipc_main", "IPC主分类号", "主分类号", "主分类", kind="ipc"),
        _c("ipc_all", "IPC分类号", "分类号", "IPC", kind="ipc_list"),
        _c("claims", "权利要求数量", "权利要求数", "权利要求项数", kind="int", nonneg=True),
        _c("forward_citations", "被引证次数", "被引次数", "被引用次数", kind="int", nonneg=True),
        _c("family_size", "同族数量", "同族数", "简单同族数量", kind="int", nonneg=True),
        _c("family_countries", "同族国家", "同族国家/地区", kind="code_list"),
        _c("pct", "PCT", "是否PCT", kind="bool"),
        _c("applicants", "申请人", "原始申请人", kind="list", required=True),
        _c("applicant_usccs", "申请人统一社会信用代码", kind="code_list"),
        _c("owners", "当前权利人", "专利权人", "权利人", kind="list"),
        _c("inventors", "发明人", "设计人", kind="list"),
        _c("legal_status", "法律状态", "当前法律状态", kind="text"),
        _c("award", "专利奖", "获奖", kind="text"),
    ),
    required=True,
    key=("app_no",),
    date_order=(
        ("app_date", "grant_date", "grant_before_application"),
        ("app_date", "pub_date", "publication_before_application"),
    ),
    description="one row per patent application",
)

PATENT_EVENTS = TableContract(
    "patent_events",
    (
        _c("app_no", "申请号", "专利申请号", kind="app_no", required=True),
        _c("event_code", "事务代码", "法律状态代码", kind="enum", required=True, enum=EVENT_CODE),
        _c(
            "event_date",
            "事务日期",
            "生效日",
            "公告日",
            "法律状态公告日",
            kind="date",
            required=True,
        ),
        _c("description", "事务描述", "法律状态", kind="text"),
        _c("from_party", "变更前", "出质人", "让与人", "许可人", kind="text"),
        _c("to_party", "变更后", "质权人", "受让人", "被许可人", kind="text"),
    ),
    match_on=("app_no", "event_code", "event_date", "from_party", "to_party"),
    description="legal-status events (事务数据)",
)

CREDIT_RECORDS = TableContract(
    "credit_records",
    (
        _c("uscc", *_USCC, kind="uscc"),
        _c("name", *_NAME, kind="text"),
        _c("record_type", "记录类型", "信用记录类型", kind="enum", required=True, enum=RECORD_TYPE),
        _c(
            "start_date", "列入日期", "决定日期", "评价日期", "认定日期", kind="date", required=True
        ),
        _c("end_date", "移出日期", "公示截止日期", kind="date", future_ok=True),
        _c("severity", "严重程度", kind="enum", enum=SEVERITY),
        _c("value", "值", "等级", "信用等级", kind="code"),
        _c("record_id", "文书号", "案号", "决定书文号", kind="text"),
        _c("source", "来源", "数据来源", kind="text"),
    ),
    uscc_or_name=True,
    # a case number (案号) can name several firms (co-defendants): one record per firm; a
    # corrected copy (更正) of a firm's record replaces it instead of voiding both copies,
    # which would let an active 失信 record vanish
    key=("uscc|name", "record_id", "record_type"),
    on_conflict="keep_last",
    match_on=("uscc|name", "record_type", "start_date"),
    date_order=(("start_date", "end_date", "end_before_start"),),
    description="信用中国 and other credit records",
)

PROGRAMMES = TableContract(
    "programmes",
    (
        _c("uscc", *_USCC, kind="uscc"),
        _c("name", *_NAME, kind="text"),
        _c(
            "programme",
            "资质类型",
            "资质名称",
            "认定类型",
            kind="enum",
            required=True,
            enum=PROGRAMME,
        ),
        _c("level", "级别", "认定级别", kind="enum", enum=LEVEL),
        _c("valid_from", "认定日期", "发证日期", "认定时间", kind="date", required=True),
        _c("valid_to", "有效期至", "有效期截止", "到期日期", kind="date", future_ok=True),
        _c("certificate_no", "证书编号", "证书号", kind="code", description="certificate"),
        _c("standard_version", "标准版本", kind="enum", enum=STANDARD_VERSION),
        _c("status", "证书状态", "状态", kind="enum", enum=CERT_STATUS),
    ),
    key=("uscc|name", "programme", "valid_from"),
    uscc_or_name=True,
    date_order=(("valid_from", "valid_to", "valid_to_before_valid_from"),),
    description="programme memberships (资质)",
)

NOMINATIONS = TableContract(
    "nominations",
    (
        _c("uscc", *_USCC, kind="uscc"),
        _c("name", *_NAME, kind="text"),
        _c("nominated_by", "推荐单位", kind="text", required=True),
        _c("nominated_on", "推荐日期", kind="date"),
        _c("note", "备注", kind="text"),
    ),
    key=("uscc|name", "nominated_by"),
    uscc_or_name=True,
    description="bottom-up recommendations (上下联动)",
)

LOANS = TableContract(
    "loans",
    (
        _c("loan_id", "贷款编号", "借据号", "借据编号", kind="code", required=True),
        _c("uscc", *_USCC, kind="uscc", required=True),
        _c("bank", "贷款银行", "银行", "放款银行", kind="text", required=True),
        _c("disbursed_on", "放款日期", "发放日期", kind="date", required=True),
        _c("maturity", "到期日期", "到期日", kind="date", required=True, future_ok=True),
        _c(
            "amount",
            "放款金额(万元)",
            "贷款金额(万元)",
            kind="float",
            required=True,
            nonneg=True,
            unit="万元",
        ),
        _c("report_date", "报告日期", "报送日期", kind="date", required=True),
        _c("balance", "贷款余额(万元)", kind="float", nonneg=True, unit="万元"),
        _c("classification", "五级分类", kind="enum", required=True, enum=CLASSIFICATION),
        _c("dpd", "逾期天数", kind="int", nonneg=True, unit="天"),
        _c("pledged_app_nos", "质押专利申请号", "质押专利", kind="app_no_list"),
        _c("pledge_reg_no", "质押登记号", kind="code"),
        _c("first_loan", "是否首贷", "首贷", kind="bool"),
    ),
    # a 借据号 is unique within its bank only: two banks' loans may share one
    key=("bank", "loan_id", "report_date"),
    date_order=(
        ("disbursed_on", "maturity", "maturity_before_disbursement"),
        ("disbursed_on", "report_date", "report_before_disbursement"),
    ),
    description="the banks' loan ledger (台账), one row per loan and reporting date",
)

CONTRACTS: Mapping[str, TableContract] = MappingProxyType(
    {
        t.name: t
        for t in (
            ENTERPRISES,
            PATENTS,
            PATENT_EVENTS,
            CREDIT_RECORDS,
            PROGRAMMES,
            NOMINATIONS,
            LOANS,
        )
    }
)
TABLES: tuple[str, ...] = tuple(CONTRACTS)
REQUIRED_TABLES: tuple[str, ...] = tuple(n for n, t in CONTRACTS.items() if t.required)

# Programme certificates without an end date: 3 years, tech_sme until 31 Dec of next year.
PROGRAMME_DEFAULT_YEARS = 3


def reference_markdown() -> str:
    """The column reference of every table as Markdown (docs/data_contracts.md ends with it)."""
    out: list[str] = []
    for t in CONTRACTS.values():
        out.append(f"### {t.name} ({'required table' if t.required else 'optional'})\n")
        key = f" Key: {' + '.join(t.key)}." if t.key else " Exact duplicates only."
        if t.key and t.on_conflict == "keep_last":
            key += " Of conflicting copies of a key, the last in the file known at the as-of date is used."
        out.append(f"{t.description[0].upper()}{t.description[1:]}.{key}\n")
        out.append("| column | accepted headers | kind | required |")
        out.append("|---|---|---|---|")
        for c in t.columns:
            kind = c.kind
            if c.enum:
                values = c.enum_values
                shown = (
                    ", ".join(values)
                    if len(values) < 10
                    else f"{values[0]} … ({len(values)} codes)"
                )
                kind = f"{kind}: {shown}"
            if c.unit:
                kind = f"{kind} ({c.unit})"
            if c.required:
                req = "yes"
            elif t.uscc_or_name and c.name in ("uscc", "name"):
                req = "uscc or name"
            else:
                req = ""
            out.append(f"| `{c.name}` | {', '.join(c.aliases)} | {kind} | {req} |")
        out.append("")
    return "\n".join(out)
