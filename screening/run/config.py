"""Run configuration: frozen dataclasses parsed once at the command-line edge.

Library code never reads files or environment variables itself; the CLI calls
:func:`load_run_config` and passes the result down.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from data_contracts.errors import ConfigError

GRADES = tuple(f"T{i}" for i in range(1, 11))
_SORT_KEYS = {"score", "pd", "uscc", "name", "region_code"}


def grade_number(grade: str) -> int:
    """``'T3'`` → 3 (T1 is the best grade)."""
    return int(str(grade)[1:])


@dataclass(frozen=True)
class KnockoutRule:
    """One knock-out rule (一票否决) of the versioned rules file.

    Attributes
    ----------
    id : str
        Stable identifier written to ``rules_fired`` (e.g. ``credit_dishonest_debtor``).
    name_zh : str
        Chinese name shown to people.
    kind : str
        Evaluator: ``registry_status``, ``credit_active``, ``tax_grade``,
        ``no_valid_patent`` or ``no_pledgeable_patent``.
    params : tuple of (str, object)
        Rule parameters (record types, severities, grades, statuses…), sorted by key.
    enabled : bool
        Disabled rules are listed in the report but never fire.
    """

    id: str
    name_zh: str
    kind: str
    params: tuple[tuple[str, Any], ...] = ()
    enabled: bool = True

    def param(self, key: str, default: Any = None) -> Any:
        """The value of parameter ``key`` (``default`` when absent)."""
        return dict(self.params).get(key, default)


@dataclass(frozen=True)
class KnockoutRules:
    """The rules file: a version string and the rules in evaluation order."""

    version: str
    rules: tuple[KnockoutRule, ...]


@dataclass(frozen=True)
class SelectionConfig:
    """How the whitelist is drawn from the scored, non-knocked-out firms.

    Attributes
    ----------
    min_grade : str or None
        Worst grade admitted (``T5`` admits T1…T5).
    max_pd : float or None
        Highest PD admitted. Both thresholds must hold when both are given.
    region_caps : tuple of (str, int)
        Maximum whitelisted firms per city (``region_code``).
    park_caps : tuple of (str, int)
        Maximum whitelisted firms per park.
    nominations_bypass_threshold : bool
        Nominated firms that pass the knock-outs are whitelisted even below the threshold
        and beyond the caps.
    tie_break : tuple of (str, bool)
        Ordering keys and whether each is ascending; ``uscc`` is always appended last so the
        order is total.
    """

    min_grade: str | None = "T5"
    max_pd: float | None = None
    region_caps: tuple[tuple[str, int], ...] = ()
    park_caps: tuple[tuple[str, int], ...] = ()
    nominations_bypass_threshold: bool = False
    tie_break: tuple[tuple[str, bool], ...] = (("score", False), ("pd", True), ("uscc", True))


@dataclass(frozen=True)
class BankConfig:
    """One bank receiving a package.

    ``regions`` are GB/T 2260 prefixes (``41`` province, ``4101`` city, ``410102`` county);
    ``industries`` are GB/T 4754 section letters or code prefixes. Empty = no restriction.
    """

    id: str
    name: str
    regions: tuple[str, ...] = ()
    industries: tuple[str, ...] = ()
    min_grade: str | None = None


@dataclass(frozen=True)
class ReportConfig:
    """What packages and reports say about themselves."""

    issuer: str = "知识产权局"
    contact: str = ""
    validity_months: int = 6
    explain_top_k: int = 3
    detail_limit: int = 300
    patents_per_firm: int = 10
    merge_correlation: float = 0.95
    min_peers: int = 30
    region_names: tuple[tuple[str, str], ...] = ()

    def valid_until(self, as_of: Any) -> Any:
        """Last day a push made at ``as_of`` is valid: ``validity_months`` later, less a day."""
        import pandas as pd

        return (
            pd.Timestamp(as_of) + pd.DateOffset(months=self.validity_months) - pd.Timedelta(days=1)
        )


@dataclass(frozen=True)
class ResourceConfig:
    """How much of the machine a run may use. Changes speed and memory, never an output.

    Attributes
    ----------
    workers : int
        Processes writing bank packages side by side (never more than there are banks);
        0 = one per CPU core, the default. On 2 cores two workers cut export from 59 s to
        34 s at 100k firms and from 643 s to ~340 s at 1M. Each is a fresh interpreter
        holding its bank's rows: ≤ 2.3 GB at 1M firms.
    duckdb_memory_limit : str
        DuckDB's ``memory_limit`` for the feature engine (e.g. ``"3GB"``): above it DuckDB
        spills to a temporary folder instead of growing. ``""`` = DuckDB's default (80% of
        the machine's memory).
    """

    workers: int = 0
    duckdb_memory_limit: str = ""

    @property
    def memory_limit(self) -> str | None:
        """``duckdb_memory_limit`` as the feature API takes it (``None`` = DuckDB's default)."""
        return self.duckdb_memory_limit or None

    def worker_count(self) -> int:
        """``workers``, with 0 resolved to the CPU cores this process may use."""
        if self.workers:
            return self.workers
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # not Linux
            return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class RunConfig:
    """Everything a screening run needs besides the data and the model."""

    selection: SelectionConfig
    banks: tuple[BankConfig, ...]
    knockouts: KnockoutRules
    report: ReportConfig = field(default_factory=ReportConfig)
    version: str = ""
    resources: ResourceConfig = field(default_factory=ResourceConfig)

    def digest(self) -> str:
        """SHA-256 of the canonical JSON of this configuration (part of the batch id).

        ``resources`` is left out: the same inputs give the same batch on any machine.
        """
        payload = asdict(self)
        payload.pop("resources")
        text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def default_config_path() -> Path:
    """The ``run.toml`` shipped with the project."""
    return Path(__file__).resolve().parents[1] / "config" / "run.toml"


_RULE_KINDS = {
    "registry_status",
    "credit_active",
    "tax_grade",
    "unreadable_credit_record",
    "no_valid_patent",
    "no_pledgeable_patent",
}


_BANK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
BANK_ID_MAX = 64
_WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL"} | {
    f"{port}{n}" for port in ("COM", "LPT") for n in range(1, 10)
}


def _bank_id(value: Any, key: str, source: str) -> str:
    """A bank id: it names the bank's package folder on any disk the package travels to.

    ASCII letters, digits, ``-`` and ``_``, starting with a letter or digit (``-rf`` reads as
    an option to a shell command), at most :data:`BANK_ID_MAX` characters, and not a Windows
    device name (``CON``, ``nul``, ``COM1``… name no folder there; ``nul.x`` neither, but a
    dot is refused anyway). Unique ids are checked by the caller, ignoring letter case.
    """
    if not isinstance(value, str) or not value:
        raise _fail(key, f'is required: a folder name such as "icbc-henan", got {value!r}', source)
    if not _BANK_ID.fullmatch(value):
        raise _fail(
            key,
            "must be ASCII letters, digits, '-' and '_', starting with a letter or digit "
            f"(it names the package folder), got {value!r}",
            source,
        )
    if len(value) > BANK_ID_MAX:
        raise _fail(
            key,
            f"is {len(value)} characters long; at most {BANK_ID_MAX} (it names the package folder)",
            source,
        )
    if value.upper() in _WINDOWS_DEVICES:  # a dot is refused above: no "nul.txt"
        raise _fail(
            key,
            f"{value!r} is a reserved device name on Windows (CON, PRN, AUX, NUL, COM1-9, "
            "LPT1-9) and cannot name the package folder; choose another id",
            source,
        )
    return value


def _fail(key: str, problem: str, source: str) -> ConfigError:
    return ConfigError(
        f"Invalid configuration key '{key}' in {source}: {problem}",
        "Fix that key (see docs/screening.md for every key and its default) and rerun.",
    )


def _text(value: Any, key: str, source: str) -> str:
    """A text setting printed into the packages (a bank's name, the issuer): a list or a
    number there is a typo that would be printed as ``['郑州银行']`` or ``5``."""
    if not isinstance(value, str):
        raise _fail(key, f"must be text in quotes, got {value!r}", source)
    return value


def _grade(value: Any, key: str, source: str) -> str | None:
    if value is None or value == "":
        return None
    if str(value).upper() not in GRADES:
        raise _fail(key, f"must be one of T1…T10, got {value!r}", source)
    return str(value).upper()


def _str_list(value: Any, key: str, source: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise _fail(key, f"must be a list of strings, got {value!r}", source)
    return tuple(str(v).strip() for v in value)


_REGION_PREFIX = (re.compile(r"^\d{2}(?:\d{2}){0,2}$"), "GB/T 2260 prefixes like '41', '4101'")
_REGION_CODE = (re.compile(r"^\d{6}$"), "6-digit region codes like '410100'")
_INDUSTRY_PREFIX = (
    re.compile(r"^(?:[A-T]|[A-T]?\d{2,4})$"),
    "GB/T 4754 section letters or code prefixes like 'C', 'C39', '3919'",
)


def _codes(
    value: Any, key: str, source: str, pattern: tuple[re.Pattern[str], str]
) -> tuple[str, ...]:
    """A list of codes of one kind; absent = no restriction, an empty list is refused (it
    reads as "none" but would mean "all")."""
    if value is None:
        return ()
    codes = _str_list(value, key, source)
    if not codes:
        raise _fail(key, "is empty: leave the key out for no restriction", source)
    bad = [c for c in codes if not pattern[0].match(c.upper())]
    if bad:
        raise _fail(key, f"{bad} are not {pattern[1]}", source)
    return tuple(c.upper() for c in codes)


def _caps(
    value: Any, key: str, source: str, pattern: tuple[re.Pattern[str], str] | None = None
) -> tuple[tuple[str, int], ...]:
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise _fail(key, f"must be a table of name = count, got {value!r}", source)
    out = []
    for k, v in value.items():
        if pattern is not None and not pattern[0].match(str(k)):
            raise _fail(f"{key}.{k}", f"is not one of the {pattern[1]}", source)
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise _fail(f"{key}.{k}", f"must be a non-negative integer, got {v!r}", source)
        out.append((str(k), int(v)))
    return tuple(sorted(out))


def _check_keys(section: Mapping[str, Any], allowed: set[str], prefix: str, source: str) -> None:
    for k in section:
        if k not in allowed:
            raise _fail(
                f"{prefix}{k}", f"unknown key (allowed: {', '.join(sorted(allowed))})", source
            )


def _rule_params() -> dict[str, dict[str, tuple[str, ...]]]:
    """Per rule kind, its parameters and the values each may list (a misspelt key or value
    would silently disable a rule that must never let a firm through)."""
    from data_contracts.contracts import RECORD_TYPES, SEVERITY, STATUS, TAX_RATING
    from features.registry import by_name

    def values(enum: Mapping[str, str]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(enum.values()))

    return {
        "registry_status": {"allowed": values(STATUS)},
        "credit_active": {"record_types": RECORD_TYPES, "severities": values(SEVERITY)},
        "tax_grade": {"grades": TAX_RATING},
        "unreadable_credit_record": {},
        "no_valid_patent": {"features": tuple(by_name())},
        "no_pledgeable_patent": {},
    }


_REQUIRED_PARAMS = {"credit_active": ("record_types",)}


def _check_params(kind: str, params: Mapping[str, Any], key: str, source: str) -> None:
    allowed = _rule_params()[kind]
    for name, value in params.items():
        if name not in allowed:
            known = ", ".join(sorted(allowed)) or "none"
            raise _fail(f"{key}.{name}", f"unknown parameter of a {kind} rule (allowed: {known})",
                        source)  # fmt: skip
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise _fail(f"{key}.{name}", f"must be a non-empty list of names, got {value!r}",
                        source)  # fmt: skip
        bad = [v for v in value if v not in allowed[name]]
        if bad:
            shown = ", ".join(allowed[name][:12]) + (" …" if len(allowed[name]) > 12 else "")
            raise _fail(f"{key}.{name}", f"unknown value(s) {bad} (allowed: {shown})", source)
    for name in _REQUIRED_PARAMS.get(kind, ()):
        if name not in params:
            raise _fail(f"{key}.{name}", f"is required for a {kind} rule", source)


def parse_knockout_rules(data: Mapping[str, Any], source: str = "knockouts.yaml") -> KnockoutRules:
    """Parse the knock-out rules mapping (the YAML document) into :class:`KnockoutRules`."""
    if not isinstance(data, Mapping):
        raise _fail("<root>", "must be a mapping with 'version' and 'rules'", source)
    _check_keys(data, {"version", "rules"}, "", source)
    version = data.get("version")
    if not version:
        raise _fail("version", "is required (rules files are versioned)", source)
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise _fail("rules", "must be a non-empty list", source)
    rules, seen = [], set()
    for i, raw in enumerate(raw_rules):
        key = f"rules[{i}]"
        if not isinstance(raw, Mapping):
            raise _fail(key, "must be a mapping", source)
        _check_keys(raw, {"id", "name_zh", "kind", "params", "enabled"}, f"{key}.", source)
        rid = raw.get("id")
        if not rid or not isinstance(rid, str):
            raise _fail(f"{key}.id", "is required", source)
        if rid in seen:
            raise _fail(f"{key}.id", f"duplicate rule id {rid!r}", source)
        seen.add(rid)
        kind = raw.get("kind")
        if kind not in _RULE_KINDS:
            raise _fail(
                f"{key}.kind", f"must be one of {sorted(_RULE_KINDS)}, got {kind!r}", source
            )
        params = raw.get("params") or {}
        if not isinstance(params, Mapping):
            raise _fail(f"{key}.params", "must be a mapping", source)
        _check_params(kind, params, f"{key}.params", source)
        enabled = raw.get("enabled", True)
        if not isinstance(enabled, bool):
            raise _fail(f"{key}.enabled", f"must be true or false, got {enabled!r}", source)
        frozen = tuple(
            sorted((str(k), tuple(v) if isinstance(v, list) else v) for k, v in params.items())
        )
        rules.append(
            KnockoutRule(
                id=rid,
                name_zh=str(raw.get("name_zh") or rid),
                kind=kind,
                params=frozen,
                enabled=enabled,
            )
        )
    return KnockoutRules(version=str(version), rules=tuple(rules))


def _parse_tie_break(value: Any, source: str) -> tuple[tuple[str, bool], ...]:
    if value is None:
        return SelectionConfig().tie_break
    if not isinstance(value, list) or not value:
        raise _fail("selection.tie_break", "must be a non-empty list like ['score desc']", source)
    out = []
    for item in value:
        parts = str(item).split()
        if len(parts) not in (1, 2) or parts[0] not in _SORT_KEYS:
            raise _fail(
                "selection.tie_break",
                f"entry {item!r} must be '<{'|'.join(sorted(_SORT_KEYS))}> [asc|desc]'",
                source,
            )
        direction = parts[1].lower() if len(parts) == 2 else "asc"
        if direction not in ("asc", "desc"):
            raise _fail("selection.tie_break", f"direction in {item!r} must be asc or desc", source)
        out.append((parts[0], direction == "asc"))
    if "uscc" not in [k for k, _ in out]:
        out.append(("uscc", True))
    return tuple(out)


def parse_run_config(
    data: Mapping[str, Any], *, rules: KnockoutRules, source: str = "run.toml"
) -> RunConfig:
    """Parse a ``run.toml`` mapping (already loaded) into a :class:`RunConfig`.

    Raises
    ------
    ConfigError
        Naming the offending key, for any unknown key, wrong type or out-of-range value.
    """
    _check_keys(
        data,
        {"config_version", "selection", "banks", "report", "knockouts", "regions", "resources"},
        "",
        source,
    )
    sel = data.get("selection", {})
    if not isinstance(sel, Mapping):
        raise _fail("selection", "must be a table", source)
    _check_keys(
        sel,
        {
            "min_grade",
            "max_pd",
            "region_caps",
            "park_caps",
            "nominations_bypass_threshold",
            "tie_break",
        },
        "selection.",
        source,
    )
    max_pd = sel.get("max_pd")
    if max_pd is not None and (
        isinstance(max_pd, bool) or not isinstance(max_pd, int | float) or not 0 < max_pd <= 1
    ):
        raise _fail("selection.max_pd", f"must be a number in (0, 1], got {max_pd!r}", source)
    min_grade = _grade(sel.get("min_grade"), "selection.min_grade", source)
    if min_grade is None and max_pd is None:
        raise _fail("selection", "needs min_grade or max_pd (or both)", source)
    bypass = sel.get("nominations_bypass_threshold", False)
    if not isinstance(bypass, bool):
        raise _fail(
            "selection.nominations_bypass_threshold",
            f"must be true or false, got {bypass!r}",
            source,
        )
    selection = SelectionConfig(
        min_grade=min_grade,
        max_pd=None if max_pd is None else float(max_pd),
        region_caps=_caps(sel.get("region_caps"), "selection.region_caps", source, _REGION_CODE),
        park_caps=_caps(sel.get("park_caps"), "selection.park_caps", source),
        nominations_bypass_threshold=bypass,
        tie_break=_parse_tie_break(sel.get("tie_break"), source),
    )

    raw_banks = data.get("banks", [])
    if not isinstance(raw_banks, list) or not raw_banks:
        raise _fail("banks", "must list at least one [[banks]] entry", source)
    banks: list[BankConfig] = []
    ids: dict[str, str] = {}  # lower-cased id -> id as written
    for i, raw in enumerate(raw_banks):
        key = f"banks[{i}]"
        if not isinstance(raw, Mapping):
            raise _fail(key, "must be a table", source)
        _check_keys(raw, {"id", "name", "regions", "industries", "min_grade"}, f"{key}.", source)
        bid = _bank_id(raw.get("id"), f"{key}.id", source)
        if bid.lower() in ids:
            first = ids[bid.lower()]
            raise _fail(
                f"{key}.id",
                f"duplicate bank id {bid!r} (same as {first!r} but for letter case; the "
                "package folders of ids differing only in case are one folder on Windows "
                "and macOS)"
                if first != bid
                else f"duplicate bank id {bid!r}",
                source,
            )
        ids[bid.lower()] = bid
        if not raw.get("name"):
            raise _fail(f"{key}.name", "is required", source)
        banks.append(
            BankConfig(
                id=bid,
                name=_text(raw["name"], f"{key}.name", source),
                regions=_codes(raw.get("regions"), f"{key}.regions", source, _REGION_PREFIX),
                industries=_codes(
                    raw.get("industries"), f"{key}.industries", source, _INDUSTRY_PREFIX
                ),
                min_grade=_grade(raw.get("min_grade"), f"{key}.min_grade", source),
            )
        )

    rep = data.get("report", {})
    if not isinstance(rep, Mapping):
        raise _fail("report", "must be a table", source)
    _check_keys(
        rep,
        {
            "issuer",
            "contact",
            "validity_months",
            "explain_top_k",
            "detail_limit",
            "patents_per_firm",
            "merge_correlation",
            "min_peers",
        },
        "report.",
        source,
    )
    defaults = ReportConfig()
    ints = {}
    for key, lo, hi in (
        ("validity_months", 1, 60),
        ("explain_top_k", 1, 10),
        ("detail_limit", 0, 100_000),
        ("patents_per_firm", 1, 10_000),
        ("min_peers", 1, 1_000_000),
    ):
        v = rep.get(key, getattr(defaults, key))
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise _fail(f"report.{key}", f"must be an integer in [{lo}, {hi}], got {v!r}", source)
        ints[key] = v
    corr = rep.get("merge_correlation", defaults.merge_correlation)
    if isinstance(corr, bool) or not isinstance(corr, int | float) or not 0 < corr <= 1:
        raise _fail("report.merge_correlation", f"must be a number in (0, 1], got {corr!r}", source)
    regions = data.get("regions", {})
    if not isinstance(regions, Mapping):
        raise _fail("regions", "must be a table of region_code = name", source)
    report = ReportConfig(
        issuer=_text(rep.get("issuer", defaults.issuer), "report.issuer", source),
        contact=_text(rep.get("contact", defaults.contact), "report.contact", source),
        merge_correlation=float(corr),
        region_names=tuple(
            sorted((str(k), _text(v, f"regions.{k}", source)) for k, v in regions.items())
        ),
        **ints,
    )
    return RunConfig(
        selection=selection,
        banks=tuple(banks),
        knockouts=rules,
        report=report,
        version=_text(data.get("config_version", ""), "config_version", source),
        resources=_parse_resources(data.get("resources", {}), source),
    )


def _parse_resources(res: Any, source: str) -> ResourceConfig:
    if not isinstance(res, Mapping):
        raise _fail("resources", "must be a table", source)
    _check_keys(res, {"workers", "duckdb_memory_limit"}, "resources.", source)
    workers = res.get("workers", ResourceConfig.workers)
    if isinstance(workers, bool) or not isinstance(workers, int) or not 0 <= workers <= 256:
        raise _fail("resources.workers", f"must be an integer in [0, 256], got {workers!r}", source)
    limit = res.get("duckdb_memory_limit", ResourceConfig.duckdb_memory_limit)
    if not isinstance(limit, str) or (
        limit and re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", limit) is None
    ):
        raise _fail(
            "resources.duckdb_memory_limit",
            f'must be a size such as "3GB" or "500MB" (or "" for DuckDB\'s default), got {limit!r}',
            source,
        )
    return ResourceConfig(workers=workers, duckdb_memory_limit=limit)


def load_run_config(path: str | Path | None = None) -> RunConfig:
    """Read ``run.toml`` and the knock-out rules file it names (CLI edge only).

    Parameters
    ----------
    path : path, optional
        The TOML file; the shipped default when omitted.
    """
    path = Path(path) if path is not None else default_config_path()
    if path.is_dir():
        raise ConfigError(
            f"--config {path} is a folder, not a configuration file.",
            f"Pass the run.toml inside it (--config {path / 'run.toml'}).",
        )
    if not path.is_file():
        raise ConfigError(
            f"Configuration file {path} does not exist.",
            "Pass --config with an existing run.toml, or omit it to use the shipped default.",
        )
    try:
        text = path.read_text(encoding="utf-8-sig")  # Notepad writes a BOM
    except UnicodeDecodeError:
        raise ConfigError(
            f"Configuration file {path} is not UTF-8 text (saved as GBK/ANSI?).",
            "Save it as UTF-8 (in Notepad: Save as, Encoding UTF-8) and rerun.",
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"Configuration file {path} is not valid TOML: {exc}",
            "Fix the syntax (strings in quotes, one key per line) and rerun.",
        ) from None
    ko = data.get("knockouts", {})
    if not isinstance(ko, Mapping):
        raise _fail("knockouts", "must be a table with rules_file", str(path))
    _check_keys(ko, {"rules_file"}, "knockouts.", str(path))
    rules_path = path.parent / str(ko.get("rules_file", "knockouts.yaml"))
    if not rules_path.is_file():
        raise _fail("knockouts.rules_file", f"file {rules_path} does not exist", str(path))
    try:
        rules_data = yaml.safe_load(rules_path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError:
        raise ConfigError(
            f"Knock-out rules file {rules_path} is not UTF-8 text.",
            "Save it as UTF-8 (in most editors: Save As → Encoding UTF-8) and rerun.",
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"Knock-out rules file {rules_path} is not valid YAML: {exc}",
            "Fix the syntax and rerun.",
        ) from None
    rules = parse_knockout_rules(rules_data, str(rules_path))
    return parse_run_config(data, rules=rules, source=str(path))
