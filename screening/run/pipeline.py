"""The screening run: validate → features → knock-outs → score → select → explain → export.

Each stage is a pure function of its inputs; this module wires them, times them (wall
seconds and rows, written to ``timings.json`` — the only output that differs between
reruns) and reports progress through a callback so the library never prints.

Outputs are built in ``OUT.tmp-<pid>`` and renamed into place at the end, so a run that
is killed or fails never leaves a partial ``OUT``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import hashlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from data_contracts.contracts import TABLES
from data_contracts.errors import DataError, ModelError
from data_contracts.identifiers import USCC_ALPHABET, normalize_uscc
from screening.run._frames import join_by, member
from screening.run.config import RunConfig
from screening.run.explain import explain, factor_groups, reasons_wide
from screening.run.knockouts import (
    ambiguous_records_held,
    evaluate_knockouts,
    held_back_records,
    passed_check_details,
    source_dates,
    summarise_fired,
    unknown_severity_records,
)
from screening.run.manifest import canonical_json
from screening.run.packages import bank_mask
from screening.run.selection import STATUSES, nomination_sources, select, unmatched_caps

STAGES = ("validate", "features", "knockouts", "score", "select", "explain", "export")
Progress = Callable[[str, str, int | None], None]
"""``progress(stage, event, rows)`` with event ``start``, ``step`` (within a long stage:
``rows`` = units done so far, e.g. bank packages written by ``export``) or ``end``."""

SCREENED_COLUMNS = [
    "uscc",
    "name",
    "region_code",
    "status",
    "rules_fired",
    "score",
    "grade",
    "pd",
    "rank",
    "nominated",
    "nominated_by",
    "reason",
]
PROGRAMME_ZH = {
    "little_giant": "专精特新“小巨人”企业",
    "srdi_sme": "专精特新中小企业",
    "innovative_sme": "创新型中小企业",
    "high_tech": "高新技术企业",
    "tech_sme": "科技型中小企业",
    "ip_advantage": "知识产权优势企业",
    "ip_demonstration": "知识产权示范企业",
    "ip_standard": "知识产权管理体系认证（贯标）",
}
LEVEL_ZH = {"national": "国家级", "provincial": "省级", "city": "市级"}
PATENT_TYPE_ZH = {"invention": "发明", "utility_model": "实用新型", "design": "外观设计"}


@dataclass
class StageTiming:
    """Wall time and rows of one stage."""

    stage: str
    seconds: float
    rows: int


@dataclass
class Timer:
    """Times stages and forwards start/end events to ``progress``."""

    progress: Progress | None = None
    stages: list[StageTiming] = field(default_factory=list)

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[dict[str, int]]:
        box = {"rows": 0}
        if self.progress:
            self.progress(name, "start", None)
        t0 = time.perf_counter()
        yield box
        self.stages.append(StageTiming(name, time.perf_counter() - t0, int(box["rows"])))
        if self.progress:
            self.progress(name, "end", int(box["rows"]))

    def step(self, name: str, done: int) -> None:
        """Report ``done`` units of the running stage ``name`` finished."""
        if self.progress:
            self.progress(name, "step", done)


@dataclass
class ScreenInputs:
    """Everything the knock-out → explain stages need (built by :func:`prepare_inputs`).

    Attributes
    ----------
    tables : dict of DataFrame
        Canonical tables (``enterprises``, ``credit_records``, ``patents``…).
    rejects : DataFrame
        Rejected input rows (``table, file, source_row, column, value, rule, message``).
    matrix : DataFrame
        Feature matrix: ``uscc``, ``as_of`` and registry features, one row per firm.
    pledgeable : DataFrame
        The pledgeable patents of ``features.pledgeable_patents`` (rows whose
        ``pledgeable`` is true), columns :data:`PLEDGEABLE_COLUMNS`.
    active_records : DataFrame
        ``features.active_credit_records`` output (names resolved to USCC).
    programmes : DataFrame
        ``features.active_programmes`` output (names resolved to USCC).
    nominations : DataFrame
        Nominations with resolved ``uscc``.
    percentiles : callable
        ``percentiles(rows, features, side="lower", min_peers=1) -> DataFrame`` peer
        percentiles (0–100) of ``rows`` of the matrix, columns = features (``side="higher"``:
        the share of peers strictly higher; ``"both"``: the lower ones, then the higher ones
        as ``higher_<feature>``; a section with fewer than ``min_peers`` firms with a value
        ranks among all firms).
    specs : dict
        Feature registry records by name.
    match_report : dict
        Entity-match statistics.
    stats, files, notes
        Row accounting, input files and notes of the reader.
    warnings : list of str
        What the analyst must look at (the run report's 需要注意): negative credit records
        active at as_of and nominations that no firm could be linked to.
    rejected_ids : DataFrame
        ``file, source_row, uscc, name, region_code`` of the rejected registry rows, read
        again from the file (a reject carries only its failing cell); empty when none or
        unknown.
    rejected_records : DataFrame
        Rejected credit rows that may hide a knock-out, linked to a firm
        (``features.EntityLinks.rejected_credit_records``, linked rows only; a row whose
        name is ambiguous once per candidate firm, ``candidates`` naming them all).
    ambiguous_records : DataFrame
        Negative credit records active at as_of (an unknown severity read as serious) whose
        normalised name is that of several firms (:func:`_fits_several`): one row per
        candidate firm (``uscc``), ``candidates`` the
        ``;``-joined codes of all of them (:func:`_on_candidates`).
    """

    tables: dict[str, pd.DataFrame]
    rejects: pd.DataFrame
    matrix: pd.DataFrame
    pledgeable: pd.DataFrame
    active_records: pd.DataFrame
    programmes: pd.DataFrame
    nominations: pd.DataFrame
    percentiles: Callable[..., pd.DataFrame]
    specs: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    unlinked: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame({c: pd.Series(dtype="str") for c in UNLINKED_COLUMNS})
    )
    match_report: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    rejected_ids: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=_REJECTED_ID_COLUMNS)
    )
    rejected_records: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(
            columns=["source_row", "uscc", "record_type", "record_id", "start_date", "reason"]
        )
    )
    ambiguous_records: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(
            columns=["uscc", "name", "record_type", "record_id", "start_date", "severity"]
            + ["candidates"]
        )
    )


@dataclass
class Screening:
    """The decisions of one run, before anything is written."""

    as_of: pd.Timestamp
    screened: pd.DataFrame
    whitelist: pd.DataFrame
    reasons: pd.DataFrame
    rest: pd.DataFrame
    fired: pd.DataFrame
    base_points: pd.Series
    base_labels: pd.Series
    model_id: str
    model_basis: str
    checks: list[dict[str, str]]
    inputs: ScreenInputs
    warnings: list[str] = field(default_factory=list)
    firm_checks: pd.DataFrame = field(default_factory=pd.DataFrame)
    """What each check found for the firms the banks' reports detail (``uscc, rule_id,
    detail``: ``knockouts.passed_check_details``)."""


@functools.cache
def engine_digest() -> str:
    """SHA-256 (12 hex) of the engine: the code, templates and shipped rules of the four
    packages (``data_contracts``, ``features``, ``models``, ``screening``), by relative path
    and content (line endings normalised; editor backups and caches ignored), and the
    versions of the libraries that shape the output bytes.

    Two runs on the same inputs give the same bytes only with the same engine; the batch
    id names the engine too, so a code change never reuses a batch id for other bytes.
    """
    from importlib.metadata import PackageNotFoundError, version

    import data_contracts
    import features
    import models
    import screening

    h = hashlib.sha256()
    for package in (data_contracts, features, models, screening):
        for path, root in _engine_files(package):
            h.update(f"{package.__name__}/{path.relative_to(root).as_posix()}\0".encode())
            # line endings normalised: a Windows checkout is the same engine
            h.update(hashlib.sha256(path.read_bytes().replace(b"\r\n", b"\n")).digest())
    for lib in _ENGINE_LIBRARIES:  # the writers and engines whose versions shape the bytes
        try:
            h.update(f"{lib}=={version(lib)}\0".encode())
        except PackageNotFoundError:
            h.update(f"{lib}==none\0".encode())
    return h.hexdigest()[:12]


ENGINE_DATA = {
    "data_contracts": ("*.yaml",),
    "features": ("*.yaml",),
    "models": ("*.yaml", "templates/*.j2"),
    "screening": ("config/*.toml", "config/*.yaml", "templates/*.j2"),
}
"""The engine's files other than its Python modules: the package data it ships (as in
``pyproject.toml``'s ``[tool.setuptools.package-data]``, which a test keeps equal). Only
these count, not whatever else lies in the package folders: a model trained with
``--out models/2026Q3`` in a checkout is data, and must not change the engine digest."""


def _engine_files(package: Any) -> list[tuple[Path, Path]]:
    """``(path, package root)`` of the engine files of ``package``, sorted by path."""
    root = Path(package.__file__).resolve().parent
    found = {p for p in root.rglob("*.py") if "__pycache__" not in p.parts}
    for pattern in ENGINE_DATA[package.__name__]:
        found.update(root.glob(pattern))
    return [(p, root) for p in sorted(found) if p.is_file()]


_ENGINE_LIBRARIES = (
    "pandas", "numpy", "pyarrow", "duckdb", "lightgbm", "scikit-learn", "xlsxwriter", "orjson",
    "jinja2", "rapidfuzz",
)  # fmt: skip


def batch_id(
    as_of: pd.Timestamp,
    input_hashes: dict[str, str],
    model_id: str,
    config_digest: str,
    *,
    input_files: Mapping[str, str] | None = None,
    previous: str = "",
) -> str:
    """``<year>Q<q>-<8 hex>`` from the as-of date, input hashes, model id, config hash and
    the engine (:func:`engine_digest`), and whatever else shows in the outputs: the input
    file names (``input_files``, table → name; rejects and reasons cite them) and the
    SHA-256 of the ``--previous`` run's ``screened.parquet`` (the changes since that push)."""
    payload = {
        "as_of": as_of.strftime("%Y-%m-%d"),
        "inputs": input_hashes,
        "files": dict(sorted((input_files or {}).items())),
        "previous": previous,
        "model": model_id,
        "config": config_digest,
        "engine": engine_digest(),
    }
    digest = hashlib.sha256(canonical_json(payload)).hexdigest()[:8]
    return f"{as_of.year}Q{(as_of.month - 1) // 3 + 1}-{digest}"


def prepare_inputs(
    data_dir: Path,
    as_of: pd.Timestamp,
    timer: Timer,
    *,
    memory_limit: str | None = None,
    needs: Mapping[str, Sequence[str]] | None = None,
) -> ScreenInputs:
    """Validate the data folder and build features (the ``validate`` and ``features`` stages).

    ``memory_limit`` caps the feature engine's DuckDB memory (it spills to disk above it);
    ``None`` leaves DuckDB's default. ``needs``: optional tables the run cannot do without,
    with the checks that read them (:func:`tables_needed`): a missing one is an error, not
    an empty table whose checks every firm then "passes".
    """
    import features
    from data_contracts import read_data_dir, release_memory
    from features.registry import by_name

    with timer.stage("validate") as box:
        # every column is validated; the frames keep what the features layer reads
        # repeated text (names in patent lists, codes) as categoricals: at 1M firms the
        # input tables take about half the memory, and every later result is the same
        bundle = read_data_dir(
            data_dir,
            as_of=as_of.date(),
            tables=RUN_TABLES,
            columns=features.INPUT_COLUMNS,
            categorical=features.CATEGORICAL_COLUMNS,
        )
        bundle.notes.append(
            "loans: not read by screening run (the loan ledger is the input of "
            "screening train, monitor and report-ledger)"
        )
        for table, checks in (needs or {}).items():
            stats = bundle.stats.get(table)
            if stats is not None and (stats.status == "missing" or stats.rows == 0):
                what = (
                    f"no {table} table"
                    if stats.status == "missing"
                    else (f"a {table} table without a single record (a header-only export)")
                )
                raise DataError(
                    f"{data_dir} has {what}, so the knock-out checks "
                    f"{'、'.join(checks)} cannot be made (every firm would pass them).",
                    f"Add the {table} records (csv, xlsx or parquet) to the data folder, or set "
                    "enabled: false on those rules in knockouts.yaml to push without them.",
                )
        box["rows"] = sum(s.rows for s in bundle.stats.values())
    with timer.stage("features") as box:
        # the codes as the input wrote them, for the facts that reach no firm (linking
        # replaces the column with the resolved codes; the old column stays alive only here)
        written = {
            name: bundle.tables[name]["uscc"]
            for name in ("credit_records", "nominations")
            if name in bundle.tables and "uscc" in bundle.tables[name]
        }
        links = features.resolve_entities(bundle, memory_limit=memory_limit)
        # the linked copies replace the source tables (nothing reads the unlinked rows again):
        # one copy of each in memory, not two
        for name in ("credit_records", "programmes", "nominations"):
            bundle.tables[name] = getattr(links, name)
        # the later stages' date columns stay
        build_store_and_release(bundle, links, memory_limit=memory_limit, keep=_LATER_COLUMNS)
        ent = bundle.tables["enterprises"]
        pairs = pd.DataFrame({"uscc": ent["uscc"].to_numpy(), "as_of": as_of})
        matrix = features.build_feature_matrix(
            pairs, bundle, links=links, memory_limit=memory_limit, keep_patent_state=True
        )
        pledgeable = features.pledgeable_patents(
            bundle, as_of, links=links, memory_limit=memory_limit
        )
        links.close()  # the feature store is most of this stage's memory; nothing later reads it
        # later stages read only the pledgeable patents (the knock-out, the counts and the
        # package lists), and of them the columns below: at 1M firms 10.6M valid patents
        # and 16 columns were 2.3 GB held to the end of the run
        keep = pledgeable["pledgeable"].fillna(False).astype(bool).to_numpy()
        pledgeable = pledgeable.loc[keep, list(PLEDGEABLE_COLUMNS)].reset_index(drop=True)
        linked = links.credit_records["uscc"].notna()
        # a record whose severity is not given keeps it empty (a rule counting only serious
        # ones holds its firm back: knockouts.unknown_severity_records) and stays listed as
        # long as a serious one (3 years for a penalty, not a minor one's 1): a serious
        # penalty of 2024 with an empty 严重程度 cell must not pass in 2026
        active = features.active_credit_records(
            links.credit_records.loc[linked], as_of, unknown_severity="serious"
        )
        unlinked = unlinked_records(
            # a penalty of unknown severity is listed as long as a serious one, as for the
            # linked records: an ambiguous one it holds back must be listed here too
            features.active_credit_records(
                _as_written(links.credit_records, written.get("credit_records")).loc[~linked],
                as_of,
                unknown_severity="serious",
            ),
            _as_written(links.nominations, written.get("nominations")),
        )
        # a record whose name fits several firms is linked to none; each of them is held
        # back while it is active (an ambiguous 失信 listing is not a clean record)
        ambiguous = _on_candidates(
            features.active_credit_records(
                links.credit_records.loc[~linked & _fits_several(links.credit_records)],
                as_of,
                unknown_severity="serious",
            )
        )
        rejected_records = _on_candidates(links.rejected_credit_records)
        rejected_records = rejected_records.loc[rejected_records["uscc"].notna()].assign(
            file=Path(bundle.files["credit_records"].path).name
            if "credit_records" in bundle.files
            else ""
        )
        progs = links.programmes.loc[links.programmes["uscc"].notna()]
        programmes = features.active_programmes(progs, as_of)
        box["rows"] = len(matrix)

    def percentiles(
        rows: pd.DataFrame, feats: list[str], side: str = "lower", min_peers: int = 1
    ) -> pd.DataFrame:
        pct = features.peer_percentiles(
            rows, matrix, by=_SECTION, features=feats, side=side, min_peers=min_peers
        )
        return pct.rename(columns=lambda c: c.removeprefix("peer_pct_"))

    # Keep only what the later stages read: at national scale the patent and event tables
    # are most of the memory, and the stages after features need one date column of each
    # (the freshness shown beside each passed knock-out check); of the credit records they
    # need the tax ratings (1.4 GB → ~0.5 GB at 1M, estimated from 100k).
    tables = {
        name: frame[[c for c in _LATER_COLUMNS[name] if c in frame]]
        if name in _LATER_COLUMNS
        else frame
        for name, frame in bundle.tables.items()
        if name not in _DROP_AFTER_FEATURES
    }
    inputs = ScreenInputs(
        rejected_ids=_rejected_identities(bundle),
        rejected_records=rejected_records,
        ambiguous_records=ambiguous,
        tables=tables,
        rejects=bundle.rejects,
        matrix=matrix,
        pledgeable=pledgeable,
        active_records=active,
        programmes=programmes,
        nominations=links.nominations,
        percentiles=percentiles,
        warnings=unlinked_warnings(unlinked),
        unlinked=unlinked,
        specs=by_name(),
        match_report=dict(links.match_report),
        stats={k: v.to_dict() for k, v in bundle.stats.items()},
        files={k: v.to_dict() for k, v in bundle.files.items()},
        notes=list(bundle.notes),
    )
    # The full tables and the links go out of scope here; give their memory back to the
    # system now. Freed buffers otherwise stay in the C heap and the Arrow pool: at 1M firms
    # the process kept ~16 GB resident after this stage while holding ~7 GB.
    del bundle, links, tables, written
    gc.collect()
    release_memory()
    return inputs


def tables_needed(rules: Any) -> dict[str, list[str]]:
    """Optional input tables the enabled knock-out rules read, with the rules' names."""
    needs: dict[str, list[str]] = {}
    for r in rules.rules:
        if r.enabled and r.kind in ("credit_active", "tax_grade", "unreadable_credit_record"):
            needs.setdefault("credit_records", []).append(r.name_zh)
    return needs


def _fits_several(records: pd.DataFrame) -> pd.Series:
    """Rows whose name, normalised, is that of several registry firms (match score 100):
    the record is about one of them. A fuzzy near-match to several firms is not: the record
    may name a firm outside the registry, and holding back two firms for it would be a
    guess (it stays in unlinked.csv for a person to check)."""
    if "match_candidates" not in records or "match_score" not in records:
        return pd.Series(False, index=records.index)
    exact = np.isclose(records["match_score"].to_numpy(dtype="float64", na_value=np.nan), 100.0)
    return records["match_candidates"].notna() & exact


def _on_candidates(records: pd.DataFrame) -> pd.DataFrame:
    """``records`` with each unlinked row whose name is that of several firms
    (:func:`_fits_several`) repeated once per candidate firm, that firm as its ``uscc`` and
    all of them, ``;``-joined, as ``candidates`` (NA on the other rows)."""
    if "match_candidates" not in records:
        return records.assign(candidates=pd.Series(pd.NA, index=records.index, dtype="str"))
    several = _fits_several(records).to_numpy(dtype=bool)
    out = records.rename(columns={"match_candidates": "candidates"})
    open_ = out["uscc"].isna().to_numpy(dtype=bool) & several
    if not open_.any():
        return out.reset_index(drop=True)
    each = out.loc[open_].assign(uscc=out.loc[open_, "candidates"].str.split(";")).explode("uscc")
    each["uscc"] = each["uscc"].astype(out["uscc"].dtype)
    return pd.concat([out.loc[~open_], each], ignore_index=True)


def _column_absent(stats: Mapping[str, Mapping[str, Any]], table: str, column: str) -> bool:
    """Whether ``table``'s file lacks ``column`` (``TableStats.absent_columns``, as dicts)."""
    return column in stats.get(table, {}).get("absent_columns", ())


def _unknown_severity_warnings(
    unknown: pd.DataFrame, column_given: bool, firms: pd.Series
) -> list[str]:
    """The 需要注意 line for active records whose severity is not given, counting the
    screened firms they hold back (``firms``: the registry's codes)."""
    unknown = unknown.loc[member(unknown["uscc"], pd.Index(firms.to_numpy()))]
    if unknown.empty:
        return []
    why = "信用记录表没有“严重程度”列" if not column_given else "其“严重程度”为空"
    return [
        f"{len(unknown)} 条在有效期内的信用记录（行政处罚等）无法判断严重程度（{why}），"
        f"无法排除严重处罚：涉及的 {unknown['uscc'].nunique()} 家参评企业按“信用记录无法读取”"
        "暂不推送。请补全严重程度（严重/一般）后重跑。"
    ]


def _ambiguous_warnings(held: pd.DataFrame, firms: pd.Series) -> list[str]:
    """The 需要注意 line for active records whose name fits several firms, counting the
    records and the screened firms they hold back (``firms``: the registry's codes)."""
    held = held.loc[member(held["uscc"].astype("str"), pd.Index(firms.to_numpy()))]
    if held.empty:
        return []
    records = held.drop_duplicates(["name", "record_type", "record_id", "start_date"])
    return [
        f"{len(records)} 条在有效期内的负面信用记录只有企业名称，且该名称对应多家企业，"
        f"无法确定是哪一家：涉及的 {held['uscc'].nunique()} 家参评企业按“信用记录无法读取”"
        "暂不推送。请在这些记录中补上统一社会信用代码后重跑（名称与候选企业见 unlinked.csv）。"
    ]


def _unreadable_warnings(known: pd.DataFrame) -> list[str]:
    """The 需要注意 line for the rejected credit rows that hold firms back
    (``knockouts.held_back_records``)."""
    if known.empty:
        return []
    return [
        f"{known['source_row'].nunique() if 'source_row' in known else len(known)} "
        f"条被拒收的信用记录（失信、处罚、税务等）指向 {known['uscc'].nunique()} "
        "家参评企业，无法确认其是否应被否决：这些企业按“信用记录无法读取”暂不推送。"
        "请按 rejects.csv 修正这些行后重跑。"
    ]


def build_store_and_release(
    bundle: Any,
    links: Any,
    *,
    memory_limit: str | None = None,
    keep: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """Build the feature store for ``bundle`` and drop from ``bundle.tables`` (in place, the
    mapping the store was built for) the patent and event columns nothing reads any more.

    What only entity resolution reads (transfer parties, applicants' codes) goes before the
    store is built; once it is built, the feature matrix and the pledge list read only the
    patents' required columns (``features.build_feature_store``), so every other patent and
    event column goes too, except those ``keep`` names per table. At 1M firms this frees
    ~1.4 GB before the store build and gigabytes before the indicators and the pledge list.
    """
    import features
    from data_contracts import release_memory

    tables = bundle.tables
    for name, cols in features.ENTITY_ONLY_COLUMNS.items():
        if name in tables:
            tables[name] = tables[name].drop(columns=list(cols), errors="ignore")
    release_memory()  # entity resolution's temporaries, before the store is built
    features.build_feature_store(bundle, links=links, memory_limit=memory_limit)
    keep = keep or {}
    required = {"patents": features.REQUIRED_COLUMNS["patents"], "patent_events": ()}
    for name, cols in required.items():
        if name in tables:
            tables[name] = tables[name][list(dict.fromkeys((*cols, *keep.get(name, ()))))]
    release_memory()


PLEDGEABLE_COLUMNS = (
    "uscc",
    "app_no",
    "patent_type",
    "title",
    "remaining_years",
    "owners",
    "pledgeable",
)
"""What the stages after features read of ``features.pledgeable_patents``."""
RUN_TABLES = tuple(t for t in TABLES if t != "loans")
"""The tables a screening run reads: every table but the loan ledger, which only retraining
and monitoring use (at national scale it is millions of rows to validate for nothing)."""
_LATER_COLUMNS = {
    "patents": ("grant_date",),
    "patent_events": ("event_date",),
    "credit_records": (
        "uscc", "record_type", "severity", "start_date", "end_date", "value", "record_id",
    ),
}  # fmt: skip
"""What the stages after features read of these tables: the source dates shown beside each
passed knock-out check, the tax ratings of the tax-grade rule (every other credit rule
reads the active records), and the past records a detailed firm's passed checks name."""
_DROP_AFTER_FEATURES = {"programmes", "nominations"}  # kept resolved in ScreenInputs


_USCC_CHAR = f"[{USCC_ALPHABET}]"
_USCC_SHAPE = rf"(?<![0-9A-Z]){_USCC_CHAR}{{2}}\d{{6}}{_USCC_CHAR}{{10}}(?![0-9A-Z])"
"""An 18-character code of the USCC alphabet (GB 32100: no I, O, S, V, Z) inside a line."""

_REJECTED_ID_COLUMNS = ["file", "source_row", "uscc", "name", "region_code"]
"""What :func:`_rejected_identities` gives for each rejected registry row."""


def _rejected_identities(bundle: Any) -> pd.DataFrame:
    """:data:`_REJECTED_ID_COLUMNS` of the bundle's rejected registry rows."""
    from data_contracts import row_identities

    rej = bundle.rejects.loc[bundle.rejects["table"] == "enterprises", "source_row"]
    info = bundle.files.get("enterprises")
    if rej.empty or info is None:
        return pd.DataFrame(columns=_REJECTED_ID_COLUMNS)
    ids = row_identities(info.path, "enterprises", rej.dropna().astype("int64"))
    return ids.assign(file=Path(info.path).name)


def _rejected_rows(rejects: pd.DataFrame, accepted: pd.Index, ids: pd.DataFrame) -> pd.DataFrame:
    """One line per firm of the rejected enterprises rows that is not otherwise in the output.

    A reject carries only its failing cell, so each rejected row's code and name are read
    again from the registry file (``row_identities``): a row rejected for, say, a negative
    headcount is still listed under its code. Rows of one code (conflicting copies of a
    firm) make one line; rows without a readable code one line each.
    """
    rej = rejects.loc[rejects["table"] == "enterprises"]
    if rej.empty:
        return pd.DataFrame(columns=["uscc", "name", "region_code", "reason", "rules_fired"])
    rej = rej.sort_values(["file", "source_row", "column", "rule"], kind="mergesort")
    # the failing cell, when it is the code (cleaned as the contract cleans codes); for a
    # ragged CSV line (column_count: the line is the value) the one code-shaped field in it
    code = rej["value"].where(rej["column"] == "uscc").map(normalize_uscc, na_action="ignore")
    code = code.astype("str")
    line = rej["value"].where(rej["rule"] == "column_count").str.normalize("NFKC").str.upper()
    found = line.str.findall(_USCC_SHAPE)
    one = found.map(lambda f: f[0] if isinstance(f, list) and len(set(f)) == 1 else pd.NA)
    rej = rej.assign(_uscc=code.fillna(one.astype("str")))
    by_row = rej.groupby(["file", "source_row"], sort=True)
    rows = pd.DataFrame(
        {
            "_uscc": by_row["_uscc"].first(),
            "rules_fired": by_row["rule"].agg(lambda s: ";".join(dict.fromkeys(s))),
            "reason": by_row["message"].agg(lambda s: "；".join(dict.fromkeys(s.astype(str)))),
        }
    ).reset_index()
    rows["reason"] = (
        "输入拒收（"
        + rows["file"].astype("str")
        + " 第 "
        + rows["source_row"].astype("str")
        + " 行）："
        + rows["reason"]
    )
    ids = ids.reindex(columns=_REJECTED_ID_COLUMNS)
    ids = ids.astype({"source_row": "int64"})
    rows = rows.astype({"source_row": "int64"}).merge(ids, on=["file", "source_row"], how="left")
    rows["uscc"] = rows["uscc"].astype("str").fillna(rows["_uscc"].astype("str"))
    rows["name"] = rows["name"].astype("str")
    rows["region_code"] = rows["region_code"].astype("str")
    rows = rows.loc[~member(rows["uscc"], accepted)].reset_index(drop=True)
    # one line per code: its rows' rules and reasons joined, in row order
    key = rows["uscc"].where(rows["uscc"].notna(), "\0row" + rows.index.astype("str"))
    grouped = rows.groupby(key.to_numpy(), sort=False)
    out = pd.DataFrame(
        {
            "uscc": grouped["uscc"].first(),
            "name": grouped["name"].first(),
            "region_code": grouped["region_code"].first(),
            "rules_fired": grouped["rules_fired"].agg(
                lambda s: ";".join(dict.fromkeys(";".join(s).split(";")))
            ),
            "reason": grouped["reason"].agg("；".join),
        }
    ).reset_index(drop=True)
    return out[["uscc", "rules_fired", "reason", "name", "region_code"]]


def _check_scorer(scorer: Any, matrix: pd.DataFrame) -> list[str]:
    feats = list(getattr(scorer, "feature_names_in_", []))
    missing = [f for f in feats if f not in matrix.columns]
    if not feats or missing:
        raise ModelError(
            f"The model {getattr(scorer, 'model_id', '?')} needs features the matrix lacks: "
            f"{', '.join(missing[:10]) or '(no feature list)'}.",
            "Use a model trained on this version of the feature registry, or rebuild features.",
        )
    return feats


def screen(
    inputs: ScreenInputs,
    *,
    scorer: Any,
    config: RunConfig,
    as_of: pd.Timestamp,
    timer: Timer | None = None,
) -> Screening:
    """Knock-outs, scoring, selection and explanations for one as-of date (pure: no I/O)."""
    timer = timer or Timer()
    as_of = pd.Timestamp(as_of)
    ent = inputs.tables["enterprises"]
    matrix = (
        inputs.matrix.drop_duplicates("uscc").set_index("uscc").reindex(ent["uscc"]).reset_index()
    )

    with timer.stage("knockouts") as box:
        fired = evaluate_knockouts(
            config.knockouts,
            enterprises=ent,
            active_records=inputs.active_records,
            credit_records=inputs.tables["credit_records"],
            matrix=matrix,
            pledgeable=inputs.pledgeable,
            as_of=as_of,
            rejected_records=inputs.rejected_records,
            ambiguous_records=inputs.ambiguous_records,
        )
        ko = summarise_fired(fired)
        box["rows"] = len(fired)

    with timer.stage("score") as box:
        feats = _check_scorer(scorer, matrix)
        result = scorer.score(matrix[feats], explain=False)
        scored = pd.DataFrame(
            {
                "uscc": ent["uscc"].to_numpy(),
                "name": ent["name"].to_numpy(),
                "region_code": ent["region_code"].to_numpy(),
                "park": ent["park"].to_numpy() if "park" in ent else pd.NA,
                "industry_code": ent["industry_code"].to_numpy()
                if "industry_code" in ent
                else pd.NA,
                "score": np.asarray(result.score, dtype="float64"),
                "pd": np.asarray(result.pd, dtype="float64"),
                "grade": pd.array(np.asarray(result.grade).astype(str), dtype="str"),
            }
        )
        box["rows"] = len(scored)

    with timer.stage("select") as box:
        noms = nomination_sources(inputs.nominations, as_of)
        selected = select(scored, pd.Index(ko["uscc"]), noms, config.selection)
        box["rows"] = int((selected["status"] == "whitelisted").sum())

    with timer.stage("explain") as box:
        # Explain whom a person will read (whitelisted and nominated firms): explanation,
        # not scoring, is the cost at national scale (perf_facts.md).
        who = selected.loc[
            (selected["status"] == "whitelisted")
            | (selected["nominated"] & (selected["status"] != "knocked_out")),
            "uscc",
        ]
        rows = matrix.set_index("uscc").loc[who.to_numpy()].reset_index()
        res = scorer.score(rows[feats], explain=True) if len(rows) else None
        contributions = res.contributions if res is not None else pd.DataFrame(columns=feats)
        base = float(res.base_points) if res is not None else float("nan")
        # Points are told against the median firm of the firm's own industry, the peers its
        # percentiles rank it among: "+" reads "better than the industry's typical firm".
        # A scorer's own reference (the expert's middle of each range, the learned model's
        # training mean) made "发明占比 41%（高于同行业 79% 企业），-0.7 分".
        offsets, pooled, no_typical = (
            industry_offsets(scorer, matrix, feats, rows, config.report.min_peers)
            if len(rows)
            else (pd.DataFrame(columns=contributions.columns), pd.DataFrame(), pd.DataFrame())
        )
        contributions = contributions - offsets.to_numpy()
        base_points = pd.Series(
            base + offsets.sum(axis=1).to_numpy(), index=rows["uscc"].to_numpy(), dtype="float64"
        )
        # a firm compared with all screened firms on every factor starts from their median
        everyone = (
            pooled.all(axis=1).to_numpy(dtype=bool)
            if len(pooled.columns)
            else np.zeros(len(rows), dtype=bool)
        )
        base_labels = pd.Series(
            np.where(everyone, "参评企业基准", "同行业基准"), index=rows["uscc"].to_numpy()
        )
        stride = max(1, len(matrix) // 5000)
        lead_of = factor_groups(
            list(contributions.columns),
            specs=inputs.specs,
            sample=matrix.iloc[::stride][list(contributions.columns)],
            threshold=config.report.merge_correlation,
        )
        leads = sorted(set(lead_of.values()), key=list(contributions.columns).index)
        numeric_leads = [
            f
            for f in leads
            if getattr(inputs.specs.get(f), "kind", "count")
            in ("count", "share", "rate", "years", "amount")
        ]
        both = (
            inputs.percentiles(rows, numeric_leads, side="both", min_peers=config.report.min_peers)
            if len(rows) and numeric_leads
            else pd.DataFrame(index=rows.index)
        )
        higher = both[[c for c in both.columns if c.startswith("higher_")]]
        pct = both.drop(columns=higher.columns)
        higher = higher.rename(columns=lambda c: c.removeprefix("higher_"))
        reasons, rest = explain(
            contributions.reset_index(drop=True),
            rows,
            pct.reset_index(drop=True),
            rows["uscc"].to_numpy(),
            specs=inputs.specs,
            lead_of=lead_of,
            top_k=config.report.explain_top_k,
            with_rest=True,
            higher=higher.reset_index(drop=True),
            pooled=pooled,
            no_typical=no_typical,
        )
        box["rows"] = len(rows)

    wide = reasons_wide(reasons)
    screened = selected.merge(ko, on="uscc", how="left").merge(wide, on="uscc", how="left")
    min_grade = config.selection.min_grade
    below = (
        "未达门槛（等级 "
        + screened["grade"].astype("str")
        + "，违约概率 "
        + (screened["pd"] * 100).map(lambda v: f"{v:.3f}").astype("str")
        + "%"
        + (f"；门槛 {min_grade}" if min_grade else "")
        + (f"，违约概率不高于 {config.selection.max_pd:.2%}" if config.selection.max_pd else "")
        + "）"
    )
    below = below.where(screened["meets_threshold"], below)
    below = below.where(~screened["meets_threshold"], screened["selection_note"])
    explained = (
        "加分："
        + screened["reasons_up"].fillna("无")
        + " | 减分："
        + screened["reasons_down"].fillna("无")
    )
    # nominated firms below the threshold are explained too: the nominating office reads why
    has_reasons = (screened["reasons_up"].notna() | screened["reasons_down"].notna()).to_numpy()
    below = below.where(~has_reasons, below + " " + explained)
    screened["reason"] = np.select(
        [screened["status"] == "knocked_out", screened["status"] == "whitelisted"],
        [screened["ko_reasons"].astype(object), explained.astype(object)],
        default=below.astype(object),
    )
    rejected = _rejected_rows(inputs.rejects, pd.Index(ent["uscc"]), inputs.rejected_ids)
    rejected = rejected.assign(status="rejected_input", nominated=False)
    screened = pd.concat([screened, rejected], ignore_index=True)
    order = {s: i for i, s in enumerate(STATUSES)}
    screened["_s"] = screened["status"].map(order)
    screened = screened.sort_values(["_s", "rank", "uscc"], kind="mergesort", na_position="last")
    screened = screened.drop(columns="_s").reset_index(drop=True)
    for col in (
        "uscc",
        "name",
        "region_code",
        "status",
        "rules_fired",
        "grade",
        "nominated_by",
        "reason",
    ):
        screened[col] = screened[col].astype("str")
    screened["nominated"] = screened["nominated"].fillna(False).astype(bool)
    screened["rank"] = screened["rank"].astype("Int64")

    rules = [r for r in config.knockouts.rules if r.enabled]
    sources = source_dates(inputs.tables, as_of, rules)
    checks = [
        {
            "rule_id": r.id,
            "name": r.name_zh,
            # no date: the registry extract (undated), or a source without any record
            "date": sources[r.id].strftime("%Y-%m-%d") if sources[r.id] is not None else "未注明",
        }
        for r in rules
    ]
    whitelist = _whitelist_frame(selected, wide, inputs, config, matrix, as_of)
    whitelist = _with_points_breakdown(whitelist, reasons, base_points)
    whitelist = _with_tax_grade(whitelist, inputs.tables.get("credit_records"), as_of)
    # the firms a bank's report.html details (its first detail_limit): what each check
    # found for them, with their own facts
    detailed = sorted(
        {
            u
            for bank in config.banks
            for u in whitelist.loc[bank_mask(whitelist, bank), "uscc"]
            .iloc[: config.report.detail_limit]
            .tolist()
        }
    )
    firm_checks = passed_check_details(
        config.knockouts,
        detailed,
        enterprises=inputs.tables["enterprises"],
        credit_records=inputs.tables.get("credit_records"),
        matrix=matrix,
        listed=whitelist[["uscc", "pledgeable_count", "tax_grade", "tax_grade_date"]].set_index(
            "uscc"
        ),
        as_of=as_of,
        labels={name: spec.label_zh for name, spec in inputs.specs.items()},
    )
    return Screening(
        as_of=as_of,
        screened=screened,
        whitelist=whitelist,
        reasons=reasons,
        rest=rest,
        fired=fired,
        base_points=base_points,
        base_labels=base_labels,
        model_id=str(scorer.model_id),
        model_basis=model_basis(scorer),
        warnings=[
            *inputs.warnings,
            *(
                [
                    *_unreadable_warnings(
                        held_back_records(
                            inputs.rejected_records,
                            as_of,
                            config.knockouts,
                            inputs.tables["credit_records"],
                        )
                    ),
                    *_unknown_severity_warnings(
                        unknown_severity_records(inputs.active_records, config.knockouts),
                        not _column_absent(inputs.stats, "credit_records", "severity"),
                        inputs.tables["enterprises"]["uscc"],
                    ),
                    *_ambiguous_warnings(
                        ambiguous_records_held(inputs.ambiguous_records, config.knockouts),
                        inputs.tables["enterprises"]["uscc"],
                    ),
                ]
                if any(
                    r.enabled and r.kind == "unreadable_credit_record"
                    for r in config.knockouts.rules
                )
                else []
            ),
            *unmatched_caps(scored, config.selection),
        ],
        checks=checks,
        firm_checks=firm_checks,
        inputs=inputs,
    )


UNLINKED_COLUMNS = [
    "kind",
    "cause",
    "name",
    "uscc_as_written",
    "record_type",
    "start_date",
    "record_id",
    "candidates",
    "nominated_by",
]
"""``unlinked.csv``: one row per fact that reaches no firm. ``kind`` is ``credit_record``
(negative, active at as_of) or ``nomination``; ``cause`` is ``ambiguous`` (the name fits
several firms) or ``unmatched``."""


def _as_written(linked: pd.DataFrame, written: pd.Series | None) -> pd.DataFrame:
    """``linked`` (rows in input order) with the code as the input wrote it (``written``,
    the source table's ``uscc`` column taken before linking replaced it)."""
    if written is not None and len(written) == len(linked):
        return linked.assign(uscc_as_written=written.to_numpy())
    return linked


def unlinked_records(active: pd.DataFrame, nominations: pd.DataFrame) -> pd.DataFrame:
    """The facts that reach no firm, ambiguous ones first: negative credit records active at
    as_of whose name matched no firm or more than one (a knock-out may be missing: such a
    record is never guessed onto a firm), and nominations naming no registry firm.

    ``active`` and ``nominations`` are the unlinked rows with ``match_method`` and the
    code as the input wrote it (``uscc_as_written``, when known)."""

    def column(frame: pd.DataFrame, name: str) -> np.ndarray:
        return frame[name].to_numpy(dtype=object) if name in frame else np.full(len(frame), None)

    parts = []
    if len(active):
        parts.append(
            pd.DataFrame(
                {
                    "kind": "credit_record",
                    "cause": column(active, "match_method"),
                    "name": column(active, "name"),
                    "uscc_as_written": column(active, "uscc_as_written"),
                    "record_type": column(active, "record_type"),
                    "start_date": pd.to_datetime(active["start_date"]).dt.strftime("%Y-%m-%d"),
                    "record_id": column(active, "record_id"),
                    # the firms an ambiguous name fits (held back while the record is active)
                    "candidates": column(active, "match_candidates"),
                    "nominated_by": None,
                }
            )
        )
    if nominations is not None and len(nominations) and "uscc" in nominations:
        lost = nominations.loc[nominations["uscc"].isna()]
        if len(lost):
            parts.append(
                pd.DataFrame(
                    {
                        "kind": "nomination",
                        "cause": column(lost, "match_method"),
                        "name": column(lost, "name"),
                        "uscc_as_written": column(lost, "uscc_as_written"),
                        "record_type": None,
                        "start_date": None,
                        "record_id": None,
                        "candidates": column(lost, "match_candidates"),
                        "nominated_by": column(lost, "nominated_by"),
                    }
                )
            )
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="str") for c in UNLINKED_COLUMNS})
    out = pd.concat(parts, ignore_index=True)
    out["cause"] = out["cause"].where(out["cause"].notna(), "unmatched")
    for c in UNLINKED_COLUMNS:
        out[c] = out[c].astype("str")
    rank = out["kind"].ne("credit_record") * 2 + out["cause"].ne("ambiguous")
    return out.assign(_r=rank).sort_values(["_r"], kind="mergesort").drop(columns="_r")


def _present(value: Any) -> bool:
    return value is not None and not pd.isna(value) and bool(str(value).strip())


def _label(row: pd.Series) -> str:
    """What an analyst can search the input for: the name, else the code as written, else
    the document number — never "nan"."""
    for column, prefix in (("name", ""), ("uscc_as_written", ""), ("record_id", "文书号 ")):
        if _present(value := row.get(column)):
            return f"{prefix}{value}"
    return "（无名称、无代码、无文书号）"


def unlinked_warnings(unlinked: pd.DataFrame) -> list[str]:
    """The run report's warnings for :func:`unlinked_records` (ambiguous records first, up to
    three examples each; the whole list is ``unlinked.csv``)."""
    from screening.run.knockouts import RECORD_TYPE_ZH

    how = {"ambiguous": "名称对应多家企业", "unmatched": "未找到企业"}

    def examples(rows: pd.DataFrame, detail: Callable[[pd.Series], str]) -> str:
        shown = "；".join(f"{_label(r)}（{detail(r)}）" for _, r in rows.head(3).iterrows())
        return shown + ("等，完整清单见 unlinked.csv" if len(rows) > 3 else "（见 unlinked.csv）")

    out = []
    records = unlinked.loc[unlinked["kind"] == "credit_record"]
    if len(records):
        counts = records["cause"].value_counts()
        parts = "、".join(f"{how.get(m, m)} {n} 条" for m, n in sorted(counts.items()))
        listed = examples(
            records,
            lambda r: (
                f"{RECORD_TYPE_ZH.get(r['record_type'], r['record_type'])}，"
                f"{r['start_date']} 起，{how.get(r['cause'], r['cause'])}"
            ),
        )
        out.append(
            f"{len(records):,} 条在核查日有效的负面信用记录未能关联到企业（{parts}），"
            f"其指向的企业可能未被否决，请人工核对：{listed}"
        )
    noms = unlinked.loc[unlinked["kind"] == "nomination"]
    if len(noms):
        listed = examples(
            noms,
            lambda r: r["nominated_by"] if _present(r["nominated_by"]) else "推荐单位未注明",
        )
        out.append(
            f"{len(noms):,} 条推荐未能关联到登记企业（信用代码或名称不在登记数据中），"
            f"未参与筛选：{listed}"
        )
    return out


def model_basis(scorer: Any) -> str:
    """What the PDs of a run rest on, in Chinese, for the reader of a package.

    A credit officer must not take the cold-start scorecard's PD (anchored by assumption)
    for one measured on loan outcomes, nor a learned model's for more than its sample.
    """
    return _basis(scorer) + _grade_bands(scorer)


def _grade_bands(scorer: Any) -> str:
    """The PD range of each grade, in Chinese (a bank's cut-off reads as a PD)."""
    scale = getattr(scorer, "grade_scale_", None)
    cuts = [float(c) for c in getattr(scale, "cutoffs", ()) or ()]
    if not cuts:
        return ""
    # to 0.001 %: a learned model's cut-off 2.2553 % shown as 2.26 % contradicted a firm
    # of PD 2.256 % (shown 2.26 %) in T3
    bands = [f"T{k + 1} ≤ {c:.3%}" for k, c in enumerate(cuts)]
    bands.append(f"T{len(cuts) + 1} > {cuts[-1]:.3%}")
    return "等级分档（违约概率）：" + "，".join(bands) + "。"


def _basis(scorer: Any) -> str:
    card = getattr(scorer, "card_", None) or {}
    kind = card.get("kind") or getattr(scorer, "kind", "")
    if kind == "expert":
        version = (card.get("weights") or {}).get("version", "")
        return (
            f"专家评分卡{f' {version}' if version else ''}（冷启动，尚无放款结果）：违约概率由专家"
            "设定的评分与违约概率对应关系换算，未经实际放款结果校准，宜用于排序和分级，"
            "不宜直接作为定价或限额依据。"
        )
    if kind == "learned":
        training = card.get("training") or {}
        period = training.get("period") or {}
        method = {"platt": "Platt", "isotonic": "保序回归"}.get(
            str((card.get("calibration") or {}).get("method", "")), ""
        )
        when = (
            f"，放款日期 {str(period.get('min', ''))[:10]} 至 {str(period.get('max', ''))[:10]}"
            if period
            else ""
        )
        n, bad = training.get("n_rows"), training.get("n_bad")
        sample = (
            f"以 {n:,} 笔已观察满 12 个月的放款（其中违约 {bad:,} 笔{when}）训练"
            if n
            else "以放款结果训练"
        )
        return (
            f"LightGBM 模型，{sample}，违约概率{f'经 {method} 校准' if method else '已校准'}；"
            "适用范围以训练样本为限。"
        )
    return f"评分模型 {kind or type(scorer).__name__}"


_SECTION = "firm_industry_section"


def industry_offsets(
    scorer: Any, matrix: pd.DataFrame, feats: list[str], rows: pd.DataFrame, min_peers: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Points of the median firm of each row's peers, per feature, and where those peers
    are all screened firms.

    A section with fewer than ``min_peers`` firms with a value (``report.min_peers``) is no
    peer group: alone in its section, a firm was its own median — no reason at all — and
    "the highest" on everything; it is ranked and told among all screened firms instead.

    The median firm of a peer group is scored once: every numeric feature at the group's
    median (``features.peer_medians``, the peers the percentiles count), the industry at its
    own, any other text feature at the group's most frequent value. For an additive scorer
    (both of ours) a feature's points depend on its value alone, so these are exactly the
    median points of the group, at the cost of scoring one row per group.

    Returns
    -------
    (offsets, pooled, no_typical)
        ``offsets``: rows × the scorer's contribution columns. ``pooled``: rows × numeric
        features, True where the peers are all screened firms. ``no_typical``: same shape,
        True where most of the peers have no value, so their median firm has none.
    """
    import features

    numeric = [f for f in feats if pd.api.types.is_numeric_dtype(matrix[f])]
    medians, pooled = features.peer_medians(matrix, _SECTION, numeric, min_peers=min_peers)
    groups = medians.index
    synth = matrix[feats].iloc[np.zeros(len(groups), dtype=np.int64)].reset_index(drop=True)
    for f in numeric:
        synth[f] = medians[f].to_numpy()
    section = matrix.get(_SECTION)
    for f in feats:
        if f in numeric:
            continue
        col = matrix[f]
        by = col.groupby(section.astype(object), sort=False) if section is not None else None
        overall = col.mode(dropna=True)
        fallback = overall.iloc[0] if len(overall) else pd.NA
        values = []
        for g in groups:
            if f == _SECTION and g != features.ALL_PEERS:
                values.append(g)
                continue
            if by is None or g == features.ALL_PEERS or g not in by.groups:
                values.append(fallback)
                continue
            mode = by.get_group(g).mode(dropna=True)
            values.append(mode.iloc[0] if len(mode) else fallback)
        synth[f] = pd.Series(values, dtype=col.dtype)
    points = scorer.score(synth, explain=True).contributions.set_axis(groups)
    own = rows[_SECTION].astype(object) if _SECTION in rows else pd.Series(pd.NA, index=rows.index)
    keys = own.where(own.notna() & own.isin(groups), features.ALL_PEERS).to_numpy()
    flags = pooled.loc[keys].reset_index(drop=True)
    flags.loc[keys == features.ALL_PEERS, :] = True  # unknown section: all firms
    no_typical = medians.isna().loc[keys].reset_index(drop=True)
    return points.loc[keys].reset_index(drop=True), flags, no_typical


def _whitelist_frame(
    selected, wide, inputs: ScreenInputs, config: RunConfig, matrix, as_of: pd.Timestamp
) -> pd.DataFrame:
    wl = selected.loc[selected["status"] == "whitelisted"].merge(wide, on="uscc", how="left")
    names = dict(config.report.region_names)
    wl["region_name"] = wl["region_code"].map(names)
    section = (
        matrix.set_index("uscc")["firm_industry_section"]
        if "firm_industry_section" in matrix
        else None
    )
    wl["industry_section"] = wl["uscc"].map(section).astype("str") if section is not None else pd.NA
    pledge = inputs.pledgeable.loc[inputs.pledgeable["pledgeable"].fillna(False).astype(bool)]
    wl["pledgeable_count"] = wl["uscc"].map(pledge.groupby("uscc").size()).fillna(0).astype("int64")
    progs = package_programmes(inputs.programmes, config.report.valid_until(as_of))
    until = "（至 " + progs["valid_to"].dt.strftime("%Y-%m-%d")
    lapse = progs["lapses_in_validity"].map({True: "，白名单有效期内到期", False: ""})
    text = progs.assign(t=progs["programme_zh"] + until.fillna("（长期") + lapse + "）")
    wl["programmes_text"] = wl["uscc"].map(join_by(text["uscc"], text["t"], "；"))
    return wl.sort_values("rank", kind="mergesort").reset_index(drop=True)


def _with_tax_grade(
    wl: pd.DataFrame, credit: pd.DataFrame | None, as_of: pd.Timestamp
) -> pd.DataFrame:
    """``wl`` with each firm's latest tax rating published by ``as_of`` (``tax_grade``,
    ``tax_grade_date``; empty without one): the tax-grade check every listed firm passed,
    stated for the firm in every view of the package (credit-officer review)."""
    import features

    grade = pd.Series(pd.NA, index=wl.index, dtype="str")
    when = pd.Series(pd.NA, index=wl.index, dtype="str")
    need = ("uscc", "record_type", "start_date", "value")
    if credit is not None and len(credit) and all(c in credit for c in need) and len(wl):
        theirs = credit.loc[member(credit["uscc"].astype("str"), pd.Index(wl["uscc"]))]
        latest = features.latest_tax_ratings(theirs, as_of).drop_duplicates("uscc")
        latest = latest.set_index("uscc")
        grade = pd.Series(wl["uscc"].map(latest["value"]).to_numpy(), index=wl.index, dtype="str")
        day = latest["start_date"].dt.strftime("%Y-%m-%d")
        when = pd.Series(wl["uscc"].map(day).to_numpy(), index=wl.index, dtype="str")
    return wl.assign(tax_grade=grade, tax_grade_date=when)


def _with_points_breakdown(
    wl: pd.DataFrame, reasons: pd.DataFrame, base_points: pd.Series
) -> pd.DataFrame:
    """``wl`` with ``base_points`` (the industry's typical firm, the start of every reason's
    points) and ``other_points`` (every factor not listed among the reasons), both to 0.1
    point, such that the score as shown (to 0.1) is ``base_points`` + the listed reasons'
    points as shown + ``other_points``: a credit officer reading the workbook, CSV or JSON
    can add a firm's points up to its score (only report.html drew it, for its first firms).
    """
    points = pd.to_numeric(reasons["points"], errors="coerce").astype("float64").round(1)
    listed = points.groupby(reasons["uscc"].to_numpy()).sum()
    base = pd.to_numeric(wl["uscc"].map(base_points), errors="coerce").astype("float64").round(1)
    taken = pd.to_numeric(wl["uscc"].map(listed), errors="coerce").astype("float64").fillna(0.0)
    other = wl["score"].astype("float64").round(1) - base - taken
    return wl.assign(base_points=base, other_points=other.round(1))


def package_programmes(
    active: pd.DataFrame, valid_until: pd.Timestamp | None = None
) -> pd.DataFrame:
    """Active programme memberships in package shape (Chinese names, effective validity).

    Certificates of one programme at one level that are active together (a renewal
    overlapping the one it renews) are one membership from the first start to the last
    end. ``lapses_in_validity``: the membership ends before ``valid_until`` (the push's last
    valid day), so a score that counts it needs a second look before then."""
    if active.empty:
        return pd.DataFrame(
            {
                "uscc": pd.Series(dtype="str"),
                "programme_zh": pd.Series(dtype="str"),
                "level_zh": pd.Series(dtype="str"),
                "valid_from": pd.Series(dtype="datetime64[ns]"),
                "valid_to": pd.Series(dtype="datetime64[ns]"),
                "lapses_in_validity": pd.Series(dtype="bool"),
            }
        )
    valid_to = (
        active["valid_to_effective"] if "valid_to_effective" in active else active["valid_to"]
    )
    out = pd.DataFrame(
        {
            "uscc": active["uscc"].astype("str"),
            "programme_zh": active["programme"]
            .map(PROGRAMME_ZH)
            .fillna(active["programme"])
            .astype("str"),
            "level_zh": active["level"].map(LEVEL_ZH).astype("str") if "level" in active else pd.NA,
            "valid_from": active["valid_from"].astype("datetime64[ns]"),
            "valid_to": valid_to.astype("datetime64[ns]"),
        }
    )
    key = ["uscc", "programme_zh", "level_zh"]
    out["level_zh"] = out["level_zh"].fillna("")  # a key may not be missing; back below
    # all active at as_of, so they overlap: one span; an open end (no valid_to) stays open
    # (vectorised: millions of memberships at national scale, no Python call per group)
    grouped = out.assign(open_end=out["valid_to"].isna()).groupby(key, sort=False)
    span = grouped.agg(
        valid_from=("valid_from", "min"), valid_to=("valid_to", "max"), open_end=("open_end", "any")
    )
    span["valid_to"] = span["valid_to"].mask(span.pop("open_end"))
    out = span.reset_index().astype({"valid_to": "datetime64[ns]"})
    out["level_zh"] = out["level_zh"].mask(out["level_zh"] == "")  # no level: null, as before
    out["lapses_in_validity"] = (
        (out["valid_to"] < valid_until).fillna(False).astype(bool)
        if valid_until is not None
        else False
    )
    return out.sort_values(["uscc", "valid_from", "programme_zh"], kind="mergesort").reset_index(
        drop=True
    )


def _best_patents(ok: pd.DataFrame, limit: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Positions of each firm's first ``limit`` patents of ``ok`` (all when None), best first
    (see :func:`package_patents`), and their 1-based rank within the firm."""
    firm_code, _ = pd.factorize(ok["uscc"], sort=False)
    type_rank = ok["patent_type"].map({"invention": 0, "utility_model": 1, "design": 2})
    type_rank = type_rank.fillna(3).to_numpy(dtype="int64")
    remaining = ok["remaining_years"].to_numpy(dtype="float64", na_value=np.nan)
    order = np.lexsort(
        (np.arange(len(ok)), -np.nan_to_num(remaining, nan=-1.0), type_rank, firm_code)
    )
    sorted_codes = firm_code[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_codes)) + 1] if len(order) else np.zeros(0, int)
    rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    if limit is None:
        return order, rank + 1
    return order[rank < limit], rank[rank < limit] + 1


def _plain_name(names: pd.Series) -> pd.Series:
    """Names as compared for the pledge register: NFKC (full-width brackets and letters to
    half-width) without whitespace."""
    return names.str.normalize("NFKC").str.replace(r"\s+", "", regex=True)


def _titles(app_no: pd.Series, patents: pd.DataFrame) -> pd.Series:
    """The title of each application number in ``patents`` (the first row of a repeated one)."""
    titles = patents.drop_duplicates("app_no").set_index("app_no")["title"]
    return app_no.map(titles).astype("str")


def for_export(s: Screening, patents_per_firm: int | None) -> Screening:
    """``s`` with only what :func:`screening.run.output.write_outputs` reads.

    Export needs neither the feature matrix nor the input tables, and of the pledgeable
    patents only the whitelisted firms' first ``patents_per_firm`` (what the packages list;
    ``pledgeable_count`` is already on the whitelist). At 1M firms that is ~3 GB the export
    process no longer carries. ``package_patents`` of the
    result equals ``package_patents`` of ``s``: the cut keeps the rows it would keep, in
    input order.
    """
    p = s.inputs.pledgeable
    mine = p.loc[
        member(p["uscc"], pd.Index(s.whitelist["uscc"].to_numpy()))
        & p["pledgeable"].fillna(False).astype(bool).to_numpy()
    ]
    keep, _ = _best_patents(mine, patents_per_firm)
    mine = mine.iloc[np.sort(keep)].reset_index(drop=True)
    patents = s.inputs.tables.get("patents")
    if "title" not in mine and patents is not None and "title" in patents:
        mine["title"] = _titles(mine["app_no"], patents)  # what package_patents looks up
    inputs = dataclasses.replace(
        s.inputs,
        tables={},
        matrix=s.inputs.matrix.iloc[:0].copy(),
        pledgeable=mine,
        percentiles=_not_kept,
    )
    return dataclasses.replace(s, inputs=inputs)


def _not_kept(rows: pd.DataFrame, feats: list[str]) -> pd.DataFrame:
    raise RuntimeError("peer percentiles are not kept for export (see for_export)")


def package_patents(
    pledgeable: pd.DataFrame,
    patents: pd.DataFrame,
    limit: int | None = None,
    names: pd.Series | None = None,
) -> pd.DataFrame:
    """Pledgeable patents in package shape, best first within each firm.

    Order: inventions before utility models before designs, then the longest remaining term,
    then input order (``features.pledgeable_patents`` sorts by application number);
    ``rank_in_firm`` numbers them 1…; only the first ``limit`` per firm are kept (all when
    None). The cut happens on numeric keys before any text column is built, so 20M patents
    never become 20M Python strings.

    ``names`` (registered name by uscc): a sole owner registered under another name (a
    former name, 有限责任公司 for 有限公司; spacing and full-width forms aside) is shown with
    a status saying so — the pledge registration needs the names to agree (著录项目变更).
    """
    ok = pledgeable.loc[pledgeable["pledgeable"].fillna(False).astype(bool).to_numpy()]
    keep, rank_kept = _best_patents(ok, limit)
    ok = ok.iloc[keep]
    if "title" in ok:
        title = ok["title"].astype("str")
    elif "title" in patents:
        title = _titles(ok["app_no"], patents)
    else:
        title = pd.Series(pd.NA, index=ok.index, dtype="str")
    if "owners" in ok:
        owners = ok["owners"].astype("str")
    else:
        owners = pd.Series(pd.NA, index=ok.index, dtype="str")
    n_owners = owners.str.count(";").fillna(0).to_numpy() + 1
    other_name = np.zeros(len(ok), dtype=bool)
    if names is not None and len(ok):
        registered = ok["uscc"].map(names).astype("str")
        sole = (n_owners == 1) & owners.notna().to_numpy() & registered.notna().to_numpy()
        differs = sole & (owners != registered).fillna(False).to_numpy(dtype=bool)
        if differs.any():  # only names that differ as written are normalised
            idx = np.flatnonzero(differs)
            other_name[idx] = (
                _plain_name(owners.iloc[idx]) != _plain_name(registered.iloc[idx])
            ).to_numpy(dtype=bool)
    status = np.where(n_owners > 1, "有效，未质押（共有，需共有人同意）", "有效，未质押")
    status = np.where(
        other_name,
        "有效，未质押（登记权利人名称与企业名称不一致，出质前需办理著录项目变更）",
        status,
    )
    out = pd.DataFrame(
        {
            "uscc": ok["uscc"].astype("str").to_numpy(),
            "app_no": ok["app_no"].astype("str").to_numpy(),
            "type_zh": ok["patent_type"]
            .map(PATENT_TYPE_ZH)
            .fillna(ok["patent_type"])
            .astype("str")
            .to_numpy(),
            "title": title.to_numpy(),
            "remaining_years": ok["remaining_years"].astype("float64").to_numpy(),
            "status": status,
            "co_owners": owners.where((n_owners > 1) | other_name).to_numpy(),
            "rank_in_firm": rank_kept,
        }
    )
    return out.sort_values(["uscc", "rank_in_firm"], kind="mergesort").reset_index(drop=True)
