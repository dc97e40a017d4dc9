"""Feature catalog: one record per feature, in feature-matrix column order.

Every definition choice the domain brief leaves open is written in the ``description`` so that
reports, the model card and the Chinese explanations all say the same thing. Common terms:

* *held at as_of*: the firm is among the patent's owners at as_of. Owners at as_of are read
  from the transfer history (TR01): before a transfer, the owners are that transfer's
  ``from_party``; after the last transfer, the patent's current ``owners``.
* *known at as_of*: a patent is visible from the earliest of its publication date, grant date,
  PB01/GR01 event date; with none of them given, 18 months after filing (the statutory
  publication deadline: an application is not public on its filing date).
* *valid*: granted (grant_date ≤ as_of), within term (invention 20 y, utility model 10 y,
  design 10 y if filed before 2021-06-01 else 15 y, from the filing date), not ended by
  CX01/IW01/AV01 ≤ as_of and not lapsed by CF01 ≤ as_of unless a later RR01 ≤ as_of restored it.
* *events*: distinct (patent, code, date) events; a correction row (更正) repeating one is the
  same event. Event counts count distinct events.
* *pledged at as_of*: the last PE01 ≤ as_of is not followed by a PC01 ≤ as_of dated after it
  (a same-day release does not count: the order within a day is unknown, and a pledged
  patent must never show as free). *Preserved* likewise with PP01 and PD01.
"""

from __future__ import annotations

from features.registry import FeatureSpec

_P = "patents+patent_events"
_GK = "grant_date/event_date"


def _f(
    name: str,
    label: str,
    group: str,
    description: str,
    source: str,
    known_at: str,
    direction: int,
    lo: float | None,
    hi: float | None,
    unit: str,
    kind: str,
) -> FeatureSpec:
    return FeatureSpec(
        name=name,
        label_zh=label,
        group=group,  # type: ignore[arg-type]
        description=description,
        source=source,
        known_at=known_at,
        direction=direction,
        valid_min=lo,
        valid_max=hi,
        unit=unit,
        kind=kind,
    )


# fmt: off
_PATENT = (
    # --- quantity -------------------------------------------------------------------------
    _f("valid_invention_count", "有效发明专利数", "quantity",
       "Valid invention patents held at as_of (co-owned patents count for every owner).",
       _P, _GK, 1, 0, None, "件", "count"),
    _f("valid_utility_model_count", "有效实用新型数", "quantity",
       "Valid utility-model patents held at as_of.", _P, _GK, 1, 0, None, "件", "count"),
    _f("total_application_count", "累计专利申请量", "quantity",
       "All applications (any type) with the firm among the original applicants, filed and "
       "known by as_of.", "patents", "pub_date/grant_date", 1, 0, None, "件", "count"),
    _f("recent3y_application_count", "近3年申请量", "quantity",
       "Applications filed by the firm with app_date in (as_of-3y, as_of] and known by as_of.",
       "patents", "pub_date/grant_date", 1, 0, None, "件", "count"),
    _f("pending_invention_count", "在审发明申请数", "quantity",
       "Invention applications held at as_of that are published (pub_date or PB01 ≤ as_of), "
       "not granted and not rejected (RJ01) or withdrawn (WD01, unless restored by a later or "
       "same-day RR01) by as_of.",
       _P, "pub_date/event_date", 1, 0, None, "件", "count"),
    _f("filing_continuity_years", "申请连续性", "quantity",
       "Distinct calendar years among the last five (as_of year-4 … as_of year) with at least "
       "one known filing by the firm as applicant.", "patents", "pub_date/grant_date",
       1, 0, 5, "年", "count"),
    # --- structure ------------------------------------------------------------------------
    _f("invention_share", "发明占比", "structure",
       "Valid inventions ÷ (valid inventions + valid utility models); NaN when both are 0.",
       _P, _GK, 1, 0, 1, "%", "share"),
    _f("invention_grant_rate", "发明授权率", "structure",
       "Among invention applications the firm filed (as an applicant, whoever holds them now) "
       "and decided by as_of, the share granted; decided = granted, rejected (RJ01) or "
       "withdrawn (WD01, incl. deemed withdrawn, unless restored by a later or same-day RR01) "
       "once published by as_of (a refusal before publication is never public). Patents "
       "acquired by transfer do not count. NaN when none decided.", _P, _GK, 1, 0, 1, "%", "rate"),
    _f("ipc_subclass_breadth", "IPC小类覆盖数", "structure",
       "Distinct 4-character IPC subclasses (from ipc_all, else ipc_main) over valid patents.",
       "patents", "grant_date", 0, 0, None, "个", "count"),
    _f("core_ipc_concentration", "核心领域集中度", "structure",
       "Share of valid patents whose IPC main group (ipc_main up to '/') is the firm's most "
       "frequent main group; patents without ipc_main stay in the denominator. NaN when no "
       "valid patent.", "patents", "grant_date", 0, 0, 1, "%", "share"),
    _f("sei_invention_share", "战新产业发明占比", "structure",
       "Valid inventions with any IPC in the strategic-emerging-industry subclass list of "
       "features/_sei.py (a documented subset of CNIPA's 战略性新兴产业与IPC参照关系表) ÷ valid "
       "inventions; NaN when no valid invention.", "patents", "grant_date", 1, 0, 1, "%",
       "share"),
    _f("self_filed_share", "自主申请占比", "structure",
       "Valid patents on which the firm is also an original applicant ÷ valid patents; NaN "
       "when none.", _P, _GK, 1, 0, 1, "%", "share"),
    # --- technical content ----------------------------------------------------------------
    _f("avg_claims_per_invention", "发明平均权利要求数", "technical",
       "Mean claims of valid inventions with a known claim count; NaN when none.",
       "patents", "grant_date", 1, 0, None, "项", "amount"),
    _f("avg_patent_scope", "专利宽度", "technical",
       "Mean number of distinct IPC subclasses per valid patent (patents without IPC skipped).",
       "patents", "grant_date", 1, 0, None, "个", "amount"),
    _f("forward_citations_per_year", "前向被引率", "technical",
       "Σ forward citations of valid patents ÷ Σ years since publication (pub_date, else "
       "grant_date; each patent at least 0.5 y). Citation counts are an export snapshot (the "
       "input carries no citation dates), so this is not strictly point-in-time: retraining "
       "leaves it out by default (retrain.toml [features]).", "patents", "export snapshot", 1,
       0, None, "次/件年", "rate"),
    _f("cited_patent_share", "被引专利占比", "technical",
       "Valid patents with forward_citations ≥ 1 ÷ valid patents (snapshot citations).",
       "patents", "export snapshot", 1, 0, 1, "%", "share"),
    _f("avg_family_size", "平均同族规模", "technical",
       "Mean family_size (offices) of valid patents with a known family size; NaN when none. "
       "Family sizes are an export snapshot (a family grows after grant and the input has no "
       "dates for it).", "patents", "export snapshot", 1, 0, None, "个", "amount"),
    _f("overseas_family_invention_count", "海外同族发明数", "technical",
       "Valid inventions with PCT or a family country other than CN; when family_countries "
       "is empty, family_size ≥ 2 stands for a foreign family (a CN-only family of two, such "
       "as a same-day invention + utility model filing, is not overseas). PCT and family "
       "members are an export snapshot.", "patents", "export snapshot", 1, 0, None, "件",
       "count"),
    _f("high_value_invention_count", "高价值发明数", "technical",
       "Valid inventions that are SEI, have an overseas family, are more than 10 years from "
       "filing at as_of, or carry a patent award (award text and family: export snapshot).",
       "patents", "export snapshot", 1, 0, None, "件", "count"),
    _f("core_inventor_count", "核心发明人数", "technical",
       "Inventors named on ≥ 2 of the firm's own filings (as applicant) with app_date in "
       "(as_of-5y, as_of] and known by as_of; inventors are identified by their name string.",
       "patents", "pub_date/grant_date", 1, 0, None, "人", "count"),
    # --- legal ----------------------------------------------------------------------------
    _f("avg_invention_age_years", "发明平均维持年限", "legal",
       "Mean years from filing to as_of of valid inventions; NaN when none.",
       "patents", "grant_date", 1, 0, 20, "年", "years"),
    _f("invention_maintained_10y_count", "维持超10年发明数", "legal",
       "Valid inventions more than 10 years from filing at as_of.", "patents", "grant_date",
       1, 0, None, "件", "count"),
    _f("avg_remaining_term_years", "平均剩余保护期", "legal",
       "Mean years from as_of to the statutory expiry of valid patents; NaN when none.",
       "patents", "grant_date", 1, 0, 20, "年", "years"),
    _f("annuity_lapse_rate", "年费失效率", "legal",
       "Patents held at as_of whose latest CF01 lies in (as_of-5y, as_of] and was not restored "
       "(RR01) by as_of ÷ patents held at as_of that were in force at some time in that window; "
       "NaN when none were.", _P, "event_date", -1, 0, 1, "%", "rate"),
    _f("invalidation_loss_count", "无效宣告失利数", "legal",
       "IW01 (full) + IP01 (partial) invalidation decisions dated ≤ as_of on patents held at "
       "as_of (whole history).", _P, "event_date", -1, 0, None, "次", "count"),
    _f("preservation_litigation_count", "保全/涉诉数", "legal",
       "Patents held at as_of under preservation: the last PP01 ≤ as_of not released by a "
       "later PD01 (the state the pledge list reads).", _P, "event_date", -1, 0, None, "件",
       "count"),
    _f("co_owned_share", "共有专利占比", "legal",
       "Valid patents with more than one owner at as_of ÷ valid patents; NaN when none.",
       _P, "event_date", -1, 0, 1, "%", "share"),
    # --- use ------------------------------------------------------------------------------
    _f("license_record_count", "许可备案数", "use",
       "EE01 licence filings dated ≤ as_of on patents held at as_of (whole history).",
       _P, "event_date", 1, 0, None, "次", "count"),
    _f("recent_transfer_out_count", "近期转出数", "use",
       "TR01 transfers dated in (as_of-24 months, as_of] with the firm among the assignors "
       "(from_party).", "patent_events", "event_date", -1, 0, None, "件", "count"),
    _f("recent_acquired_share", "近期受让占比", "use",
       "Valid patents the firm acquired by a TR01 dated in (as_of-12 months, as_of] ÷ valid "
       "patents; NaN when none.", _P, "event_date", -1, 0, 1, "%", "share"),
    _f("pledge_release_ratio", "质押履约比", "use",
       "The firm's pledges: per patent it held on a PE01's date (also one it no longer holds: "
       "a pledged patent transferred to the lender without a release is a default), "
       "min(its PC01 releases ≤ as_of, its PE01 pledges ≤ as_of-1y), summed, ÷ those "
       "pledges, summed. The firm's releases are those after its first pledge of the patent "
       "while it held it (or on the day its holding ended); a previous owner's pledges and "
       "releases, or the lender's release after taking the patent, are not the firm's. NaN "
       "when no pledge of the firm is older than a year.",
       "patent_events", "event_date", 1, 0, 1, "%", "rate"),
    _f("currently_pledged_share", "当前在押占比", "use",
       "Valid patents pledged at as_of (last PE01 not released by a later PC01) ÷ valid "
       "patents; NaN when none.", "patent_events", "event_date", -1, 0, 1, "%", "share"),
)

_CR = "credit_records"
_CREDIT = (
    _f("credit_dishonest_debtor_active", "失信被执行人记录数", "credit",
       "失信被执行人 records active at as_of: start_date ≤ as_of < effective end (end_date, "
       "else start_date + 2 years).", _CR, "start_date", -1, 0, None, "条", "count"),
    _f("credit_consumption_restriction_active", "限制高消费记录数", "credit",
       "限制高消费 records active at as_of (default window 2 years when end_date is empty).",
       _CR, "start_date", -1, 0, None, "条", "count"),
    _f("credit_serious_violation_active", "严重违法失信记录数", "credit",
       "严重违法失信名单 records active at as_of (default window 3 years).", _CR, "start_date",
       -1, 0, None, "条", "count"),
    _f("credit_abnormal_operation_active", "经营异常记录数", "credit",
       "经营异常名录 records active at as_of (active until end_date; no end_date = still listed).",
       _CR, "start_date", -1, 0, None, "条", "count"),
    _f("credit_major_tax_violation_active", "重大税收违法记录数", "credit",
       "重大税收违法失信主体 records active at as_of (default window 3 years).", _CR, "start_date",
       -1, 0, None, "条", "count"),
    _f("credit_serious_penalty_active", "严重行政处罚记录数", "credit",
       "行政处罚 with severity 严重 active at as_of (default publication window 3 years).",
       _CR, "start_date", -1, 0, None, "条", "count"),
    _f("credit_admin_penalty_3y_count", "近3年行政处罚数", "credit",
       "行政处罚 records (any severity) with start_date in (as_of-3y, as_of].", _CR, "start_date",
       -1, 0, None, "条", "count"),
    _f("credit_negative_3y_count", "近3年负面信用记录数", "credit",
       "All negative records (every type except tax_rating) with start_date in "
       "(as_of-3y, as_of].", _CR, "start_date", -1, 0, None, "条", "count"),
    _f("credit_days_since_negative", "距最近负面记录天数", "credit",
       "Days from the latest negative record's start_date ≤ as_of to as_of, capped at 3650; "
       "3650 when there is none (so higher is always safer).", _CR, "start_date", 1, 0, 3650,
       "天", "amount"),
    _f("credit_tax_grade", "纳税信用等级", "credit",
       "Latest tax_rating with start_date ≤ as_of as a number: A=4, B=3, M=2, C=1, D=0; NaN when "
       "none.", _CR, "start_date", 1, 0, 4, "级", "amount"),
)

_PR = "programmes"
_PROG_DESC = (
    "1 when the firm has a membership with status 有效 (or empty) and valid_from ≤ as_of ≤ "
    "valid_to; 暂停/撤销 count as inactive because the input gives no status date."
)
_PROGRAMME = (
    _f("prog_little_giant", "专精特新小巨人", "programme", _PROG_DESC, _PR, "valid_from", 1, 0, 1,
       "", "flag"),
    _f("prog_srdi_sme", "专精特新中小企业", "programme", _PROG_DESC, _PR, "valid_from", 1, 0, 1,
       "", "flag"),
    _f("prog_innovative_sme", "创新型中小企业", "programme", _PROG_DESC, _PR, "valid_from", 1, 0,
       1, "", "flag"),
    _f("prog_high_tech", "高新技术企业", "programme", _PROG_DESC, _PR, "valid_from", 1, 0, 1, "",
       "flag"),
    _f("prog_tech_sme", "科技型中小企业", "programme", _PROG_DESC, _PR, "valid_from", 1, 0, 1, "",
       "flag"),
    _f("prog_ip_advantage", "知识产权优势企业", "programme", _PROG_DESC, _PR, "valid_from", 1, 0,
       1, "", "flag"),
    _f("prog_ip_demonstration", "知识产权示范企业", "programme", _PROG_DESC, _PR, "valid_from", 1,
       0, 1, "", "flag"),
    _f("prog_ip_standard", "知识产权贯标认证", "programme",
       _PROG_DESC + " GB/T 29490-2013 certificates are void after 2025-12-31.", _PR,
       "valid_from", 1, 0, 1, "", "flag"),
    _f("prog_max_level", "最高资质级别", "programme",
       "Highest level among active memberships: 0 none, 1 city, 2 provincial, 3 national "
       "(empty level counts as city).", _PR, "valid_from", 1, 0, 3, "级", "amount"),
    _f("prog_years_held", "资质持有年限", "programme",
       "Years the firm has held programme memberships without a break, up to as_of: from the "
       "start of its unbroken run of certificates (any programme, renewals included; a gap of "
       "up to 180 days between one certificate's end and the next start is no break; a "
       "2013-version 贯标 certificate ends 2025-12-31 at the latest) to as_of; 0 when none is "
       "active at as_of.", _PR, "valid_from", 1, 0, None, "年", "years"),
)

_EN = "enterprises"
_FIRM = (
    _f("firm_age_years", "企业成立年限", "firm",
       "Years from established to as_of (NaN when unknown or after as_of).", _EN, "established",
       1, 0, None, "年", "years"),
    _f("firm_log_employees", "从业人数(对数)", "firm",
       "ln(1 + employees); registry snapshot (the input has no date for it).", _EN,
       "registry snapshot",
       1, 0, None, "", "amount"),
    _f("firm_log_registered_capital", "注册资本(对数)", "firm",
       "ln(1 + registered_capital in 10k CNY); registry snapshot.", _EN, "registry snapshot", 1, 0,
       None,
       "", "amount"),
    _f("firm_rd_intensity", "研发投入强度", "firm",
       "rd_expense ÷ revenue (latest year, snapshot); NaN when revenue is missing or 0.", _EN,
       "registry snapshot", 0, 0, None, "%", "share"),
    _f("firm_size_rank", "企业规模", "firm",
       "micro 1, small 2, medium 3, large 4; NaN when unknown (snapshot).", _EN,
       "registry snapshot", 1,
       1, 4, "级", "amount"),
    _f("firm_industry_section", "国民经济行业门类", "firm",
       "GB/T 4754 section letter: the first character of industry_code when it is a letter, "
       "else derived from the 2-digit division; NA when unknown. An undated registry field "
       "too, but a classification that rarely changes: learned models keep it.", _EN,
       "registry classification", 0, None,
       None, "", "category"),
)

_PEER_DESC = (
    "Percentile (0-100) of the firm's {base} within its GB/T 4754 industry section: the share "
    "of reference firms in the section with a strictly lower value (so 85 reads 高于同行业 85% "
    "企业). Reference = the registry firms established by the same as_of; when a batch has several as_of "
    "dates, each is referenced at the latest quarter end ≤ as_of (never later, so no leak), "
    "among a fixed random sample of 5,000 registry firms when the registry is larger. "
    "Firms without a section are ranked among all firms. NaN when the base value is NaN."
)
_PEER = (
    _f("peer_pct_valid_invention_count", "有效发明专利数同行业百分位", "quantity",
       _PEER_DESC.format(base="valid_invention_count"), _P, _GK, 1, 0, 100, "%", "rate"),
    _f("peer_pct_total_application_count", "累计申请量同行业百分位", "quantity",
       _PEER_DESC.format(base="total_application_count"), "patents", "pub_date/grant_date", 1,
       0, 100, "%", "rate"),
    _f("peer_pct_forward_citations_per_year", "前向被引率同行业百分位", "technical",
       _PEER_DESC.format(base="forward_citations_per_year"), "patents", "export snapshot", 1, 0,
       100, "%", "rate"),
)

_PLEDGE = (
    _f("pledgeable_patent_count", "可质押专利数", "pledge",
       "Valid patents held at as_of that are not pledged (last PE01 not released by a later "
       "PC01), not preserved (likewise PP01/PD01), not named by a rejected legal event that "
       "may change their state (dated ≤ as_of or undated) and have more than 1 year of "
       "remaining term (domain.md §7).", _P,
       _GK, 1, 0, None, "件", "count"),
    _f("pledgeable_invention_count", "可质押发明专利数", "pledge",
       "Pledgeable patents (as above) that are inventions.", _P, _GK, 1, 0, None, "件", "count"),
    _f("pledgeable_avg_remaining_years", "可质押专利平均剩余保护期", "pledge",
       "Mean remaining term (years) of pledgeable patents; NaN when none.", _P, _GK, 1, 0, 20,
       "年", "years"),
)

# fmt: on

CATALOG: tuple[FeatureSpec, ...] = _PATENT + _CREDIT + _PROGRAMME + _FIRM + _PEER + _PLEDGE
