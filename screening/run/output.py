"""Writing a run: screened table, rejects, run report, bank packages — atomically.

Everything is first written to ``OUT.tmp-<pid>`` next to ``OUT`` and renamed into place
only when complete; a killed run leaves at most that temporary folder, which the next run
removes. No wall-clock time appears in any output except ``timings.json``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import json
import multiprocessing
import os
import shutil
import signal
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from data_contracts import release_memory
from data_contracts.errors import DataError, OutputError
from screening.run._frames import member
from screening.run._writers import BankJob, die_with_parent, spool, write_spooled
from screening.run.changes import compare, read_previous
from screening.run.charts import waterfall_svg
from screening.run.config import GRADES, RunConfig
from screening.run.explain import GROUP_ZH
from screening.run.manifest import SigningKey, sha256_file, write_manifest
from screening.run.packages import (
    PARTS,
    PackageInputs,
    bank_inputs,
    bank_mask,
    package_meta,
    template_env,
    write_bank_package,
)
from screening.run.pipeline import (
    SCREENED_COLUMNS,
    UNLINKED_COLUMNS,
    Screening,
    Timer,
    engine_digest,
    package_patents,
    package_programmes,
    tables_needed,
)
from screening.run.safety import neutralise_frame, scrub_frame, scrub_pii
from screening.run.selection import STATUSES
from screening.run.xlsx import EXCEL_MAX_DATA_ROWS

STATUS_ZH = {
    "whitelisted": "入选白名单",
    "below_threshold": "未达门槛",
    "knocked_out": "一票否决",
    "rejected_input": "输入拒收",
}


def _dump(path: Path, payload: Any) -> None:
    path.write_text(
        json.dumps(payload, ensure_ascii=False, sort_keys=True, indent=2, default=str) + "\n",
        encoding="utf-8",
    )


def run_meta(s: Screening, config: RunConfig, batch: str) -> dict[str, Any]:
    """Batch metadata shared by reports, packages and manifests."""
    valid_until = config.report.valid_until(s.as_of)
    return {
        "batch_id": batch,
        "as_of": s.as_of.strftime("%Y-%m-%d"),
        "valid_until": valid_until.strftime("%Y-%m-%d"),
        "model_id": s.model_id,
        "model_basis": s.model_basis,
        "rules_version": config.knockouts.version,
        "config_version": config.version,
        "config_sha256": config.digest(),
        "engine": engine_digest(),
        "issuer": scrub_pii(config.report.issuer),
        "contact": scrub_pii(config.report.contact),
        "input_files": {t: f.get("sha256", "") for t, f in sorted(s.inputs.files.items())},
    }


def run_report(
    s: Screening,
    config: RunConfig,
    meta: dict[str, Any],
    timer: Timer,
    banks: list[dict[str, Any]],
    changes: dict[str, Any] | None,
) -> dict[str, Any]:
    """The run report as a JSON-ready dict (also rendered to ``run_report.html``)."""
    scr = s.screened
    rej = s.inputs.rejects
    rejects_by_rule = (
        rej.groupby(["table", "rule"])
        .size()
        .reset_index(name="rows")
        .sort_values(["table", "rule"])
        if not rej.empty
        else pd.DataFrame(columns=["table", "rule", "rows"])
    )
    firms_by_rule = s.fired.groupby("rule_id")["uscc"].nunique()
    ko_rows = [
        {
            "rule_id": r.id,
            "name_zh": r.name_zh,
            "enabled": r.enabled,
            "firms": int(firms_by_rule.get(r.id, 0)),
        }
        for r in config.knockouts.rules
    ]
    scored = scr.loc[scr["status"] != "rejected_input"]
    names = dict(config.report.region_names)
    by_region = []
    for region, grp in scored.groupby(scored["region_code"].fillna("未知"), sort=True):
        counts = grp["grade"].value_counts()
        by_region.append(
            {
                "region": f"{names.get(str(region), '')}{region}",
                "region_code": str(region),
                "counts": {g: int(counts.get(g, 0)) for g in GRADES if counts.get(g, 0)},
                "whitelisted": int((grp["status"] == "whitelisted").sum()),
            }
        )
    tables = []
    for t, st in sorted(s.inputs.stats.items()):
        tables.append(
            {
                "table": t,
                "file": s.inputs.files.get(t, {}).get("file", ""),
                **{
                    k: st.get(k, 0)
                    for k in ("rows", "accepted", "rejected", "duplicates", "warnings")
                },
                "absent_columns": list(st.get("absent_columns", ())),
                "status": st.get("status", ""),
            }
        )
    noms = scr.loc[scr["nominated"]]
    nom_table = s.inputs.nominations
    unmatched = int(nom_table["uscc"].isna().sum()) if "uscc" in nom_table else 0
    return {
        **meta,
        "status_counts": {st: int((scr["status"] == st).sum()) for st in STATUSES},
        "firms_in_output": len(scr),
        "tables": tables,
        "notes": list(s.inputs.notes),
        "rejects_by_rule": [
            {"table": r.table, "rule": r.rule, "rows": int(r.rows)}
            for r in rejects_by_rule.itertuples()
        ],
        "knockouts_by_rule": ko_rows,
        "grades": list(GRADES),
        "grade_by_region": by_region,
        "entity_match": _jsonable(s.inputs.match_report),
        "entity_match_table": _match_table(s.inputs.match_report),
        "nominations": {
            "nominated_firms": len(noms),
            "whitelisted": int((noms["status"] == "whitelisted").sum()),
            "knocked_out": int((noms["status"] == "knocked_out").sum()),
            "below_threshold": int((noms["status"] == "below_threshold").sum()),
            "unmatched_nomination_rows": unmatched,
            "bypass_threshold": config.selection.nominations_bypass_threshold,
        },
        "selection": {
            "min_grade": config.selection.min_grade,
            "max_pd": config.selection.max_pd,
            "region_caps": dict(config.selection.region_caps),
            "park_caps": dict(config.selection.park_caps),
        },
        "banks": banks,
        "changes": changes,
        "stages": [{"stage": t.stage, "rows": t.rows} for t in timer.stages],
    }


def _jsonable(value: Any) -> Any:
    """Plain JSON types (numpy scalars and tuples from other layers converted)."""
    return json.loads(json.dumps(value, sort_keys=True, ensure_ascii=False, default=str))


MATCH_METHODS = ("uscc", "name", "former_name", "fuzzy", "ambiguous", "unmatched")


def _match_table(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Entity-match counts as rows (source, mentions, one column per method)."""
    sources = report.get("sources") if isinstance(report, dict) else None
    if not isinstance(sources, dict):
        return []
    rows = []
    for source, info in sorted(sources.items()):
        by = info.get("by_method", {}) if isinstance(info, dict) else {}
        rows.append(
            {
                "source": source,
                "mentions": int(info.get("mentions", 0)),
                **{m: int(by.get(m, 0)) for m in MATCH_METHODS},
            }
        )
    return rows


OTHER_GROUPS = 3
"""Registry groups of unnamed factors drawn as bars of their own, per direction."""


def _chart_factory(s: Screening):
    score = dict(zip(s.whitelist["uscc"], s.whitelist["score"].astype(float), strict=True))
    rest_index = {u: i for i, u in enumerate(s.rest["uscc"])}
    by_group = {
        direction: [
            (f"其他·{GROUP_ZH.get(c.split(':', 1)[1], '其他因素')}", s.rest[c].to_numpy(float))
            for c in s.rest.columns
            if c.startswith(f"{direction}:")
        ]
        for direction in ("up", "down")
    }
    totals = {d: s.rest[f"other_{d}"].to_numpy(float) for d in ("up", "down")}

    def others(uscc: str, direction: str) -> list[tuple[str, float]]:
        """The points of the unnamed factors: the largest groups by name (at most
        :data:`OTHER_GROUPS`), the remainder as one bar — "其他加分因素 +44" alone told a
        credit officer nothing about most of the score."""
        i = rest_index.get(uscc)
        if i is None:
            return []
        parts = sorted(
            ((label, float(v[i])) for label, v in by_group[direction] if abs(v[i]) >= 0.05),
            key=lambda item: -abs(item[1]),
        )
        named = parts[:OTHER_GROUPS]
        remainder = float(totals[direction][i]) - sum(p for _, p in named)
        if abs(remainder) >= 0.05:
            named.append(("其余加分因素" if direction == "up" else "其余减分因素", remainder))
        return named

    # charts are drawn only for the firms a report details (a few hundred per bank): index
    # the reasons by firm once (row order kept) instead of building every firm's steps
    # (2.5M reasons at 1M firms: ~10 s)
    rows_of = s.reasons.groupby("uscc", sort=False).indices
    direction = s.reasons["direction"].to_numpy(dtype=object)
    label = s.reasons["label_zh"].to_numpy(dtype=object)
    points = s.reasons["points"].to_numpy(dtype="float64")

    @lru_cache(maxsize=4096)
    def chart(uscc: str) -> str:
        mine = rows_of.get(uscc, ())
        steps = [(label[i], float(points[i])) for i in mine if direction[i] == "up"]
        steps += others(uscc, "up")
        steps += [(label[i], float(points[i])) for i in mine if direction[i] == "down"]
        steps += others(uscc, "down")
        base = float(s.base_points[uscc])
        residual = score[uscc] - base - sum(p for _, p in steps)
        if abs(residual) >= 0.05:  # points a scorer keeps outside its features
            steps.append(("其他", residual))
        return waterfall_svg(base, steps, score[uscc], base_label=s.base_labels[uscc])

    return chart


def write_outputs(
    s: Screening,
    folder: Path,
    *,
    config: RunConfig,
    batch: str,
    timer: Timer,
    previous: tuple[pd.DataFrame, str] | None = None,
    key: SigningKey | None = None,
    max_excel_rows: int = EXCEL_MAX_DATA_ROWS,
) -> dict[str, Any]:
    """Write every output of a run into ``folder`` (which must not exist)."""
    folder.mkdir(parents=True)
    meta = run_meta(s, config, batch)
    screened = s.screened[SCREENED_COLUMNS].copy()
    screened["score"] = screened["score"].round(2)
    screened["pd"] = screened["pd"].round(6)
    screened.to_parquet(folder / "screened.parquet", index=False)
    neutralise_frame(screened).to_csv(
        folder / "screened.csv", index=False, encoding="utf-8", lineterminator="\n"
    )
    # Locals that outlive their use stay in this process for the whole export, next to the
    # package writers: each goes as soon as it has been written or packaged.
    del screened
    neutralise_frame(s.inputs.rejects).to_csv(
        folder / "rejects.csv", index=False, encoding="utf-8", lineterminator="\n"
    )
    neutralise_frame(s.inputs.unlinked[UNLINKED_COLUMNS]).to_csv(
        folder / "unlinked.csv", index=False, encoding="utf-8", lineterminator="\n"
    )

    env = template_env()
    # Scrub personal identifiers once for every bank; only whitelisted firms are packaged.
    wl_ids = pd.Index(s.whitelist["uscc"].to_numpy())
    patents = package_patents(
        s.inputs.pledgeable.loc[member(s.inputs.pledgeable["uscc"], wl_ids)],
        s.inputs.tables.get("patents", pd.DataFrame()),
        limit=config.report.patents_per_firm,
        names=s.whitelist.set_index("uscc")["name"],
    )
    patents = scrub_frame(patents, keep=("uscc", "app_no"))  # the unscrubbed copy goes
    programmes = package_programmes(s.inputs.programmes, config.report.valid_until(s.as_of))
    programmes = programmes.loc[member(programmes["uscc"], wl_ids)]
    inputs = PackageInputs(
        meta=meta,
        whitelist=scrub_frame(s.whitelist, keep=("uscc", "region_code", "industry_code", "grade")),
        reasons=s.reasons,
        programmes=programmes,
        patents=patents,
        checks=s.checks,
        chart=_chart_factory(s),
        created=dt.datetime(s.as_of.year, s.as_of.month, s.as_of.day),
        firm_checks=scrub_frame(s.firm_checks, keep=("uscc", "rule_id")),
    )
    gc.collect()
    release_memory()  # the temporaries of the shared inputs, before the banks are cut
    job = BankJob(folder / "packages", config, max_excel_rows, key, write_bank_package)
    masks = [bank_mask(inputs.whitelist, b) for b in config.banks]
    sizes = [int(m.sum()) for m in masks]
    workers = config.resources.worker_count()
    if config.resources.workers == 0:  # automatic: as many as the free memory allows
        workers = affordable_workers(workers, sizes, available_memory_bytes())
    counts = _write_banks(
        job, inputs, env, workers, sizes, on_done=lambda n: timer.step("export", n)
    )
    banks = [
        {"id": bank.id, "name": bank.name, "firms": n}
        for bank, n in zip(config.banks, counts, strict=True)
    ]
    changes = compare(s.screened, *previous) if previous is not None else None
    report = run_report(s, config, meta, timer, banks, changes)
    report["warnings"] = [
        *s.warnings,
        *_unreached(inputs.whitelist, masks),
        *_empty_banks(config.banks, sizes, s.screened),
    ]
    _dump(folder / "run_report.json", report)
    html = env.get_template("run_report.html.j2").render(r=report, status_zh=STATUS_ZH)
    (folder / "run_report.html").write_text(html, encoding="utf-8")
    return report


def _unreached(whitelist: pd.DataFrame, masks: list[np.ndarray]) -> list[str]:
    """A note when whitelisted firms fall outside every bank's regions, industries and
    minimum grade (``masks``: each bank's :func:`bank_mask`; e.g. nominations let below a
    bank's grade): they are pushed to no one."""
    reached = np.logical_or.reduce(masks) if masks else np.zeros(len(whitelist), dtype=bool)
    missed = whitelist.loc[~reached]
    if missed.empty:
        return []
    examples = "、".join(
        f"{name}（{uscc}，{grade}）"
        for name, uscc, grade in missed[["name", "uscc", "grade"]].head(3).itertuples(index=False)
    )
    return [
        f"{len(missed):,} 家白名单企业不在任何银行的推送范围内（地区、行业或最低等级），"
        f"未进入任何推送包，例如 {examples}"
    ]


def _empty_banks(banks: Sequence[Any], sizes: list[int], screened: pd.DataFrame) -> list[str]:
    """A note per bank whose package holds no firm, naming the configured regions that no
    firm of the input is in (a mistyped code in run.toml sends an empty package, silently)."""
    regions = screened["region_code"].astype("str").dropna().unique().tolist()
    notes = []
    for bank, n in zip(banks, sizes, strict=True):
        if n:
            continue
        unknown = [r for r in bank.regions if not any(c.startswith(r) for c in regions)]
        why = (
            f"其地区 {'、'.join(unknown)} 不对应任何参评企业（请核对 run.toml 中该银行的 regions）"
            if unknown
            else "没有白名单企业符合其地区、行业和最低等级"
        )
        notes.append(f"{bank.name}（{bank.id}）的推送包为空：{why}")
    return notes


_PART_COST = {"workbook": 3, "lists": 1}
"""Relative writing time of a package's parts per firm (100k firms: workbook 12.2 s, CSV,
JSON and report.html 3.8 s)."""

WORKER_BYTES_PER_FIRM = 8_000
"""Memory a package writer process holds per firm of its bank's list (its interpreter, its
part of the package inputs, the rows it turns into Python objects). Measured at 1M firms:
writers of the 426k- and ~390k-firm packages peaked at 2.3 and 2.2 GB (~5.4 kB a firm);
rounded up."""


def available_memory_bytes() -> int | None:
    """``MemAvailable`` of ``/proc/meminfo`` (None where it cannot be read)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def affordable_workers(workers: int, sizes: list[int], available: int | None) -> int:
    """How many of ``workers`` package writers fit in ``available`` bytes of memory, the
    largest tasks running side by side (a task is one part of a package, :data:`PARTS`, and
    holds its whole bank's inputs: :data:`WORKER_BYTES_PER_FIRM` per firm of the list; the
    largest package's two parts may run at once). Never more than there are tasks; always at
    least 1; ``workers`` (so bounded) when the memory is unknown."""
    tasks = [n for n in sizes for _ in PARTS]
    workers = max(1, min(workers, len(tasks)))
    if available is None or workers == 1:
        return workers
    need = sorted((n * WORKER_BYTES_PER_FIRM for n in tasks), reverse=True)
    budget = 0.9 * available  # some room for the parent and the page cache
    fit = 1
    while fit < workers and sum(need[: fit + 1]) <= budget:
        fit += 1
    return fit


def _write_banks(
    job: BankJob,
    inputs: PackageInputs,
    env: Any,
    workers: int,
    sizes: list[int],
    on_done: Callable[[int], None] | None = None,
) -> list[int]:
    """Write every bank's package; side by side in writer processes when ``workers`` > 1
    (writing xlsx cells is pure Python, so threads would not help).

    ``sizes`` are the banks' firm counts (the longest task starts first, so the long one never
    starts last; a package is two tasks, its workbook and its lists, and the run writes its
    manifest once both are in). A writer is a fresh interpreter that gets its bank's part of
    ``inputs`` through a spool file in the run's temporary folder (``screening.run._writers``
    says why not a fork). Each package goes to its own folder, so the files are the same in
    any order and with any number of writers. ``on_done(k)`` is called after each package
    with the number written so far.
    """
    n = len(job.config.banks)
    workers = min(workers, n * len(PARTS))
    report = on_done or (lambda k: None)
    if workers <= 1:
        counts = []
        for i in range(n):
            counts.append(job.write(i, inputs, env))
            report(len(counts))
        return counts
    # Each package is two tasks, its workbook and its lists, so two writers share the
    # longest package instead of one writing it alone while the other waits (at 1M firms
    # the national package was 320 s of a 360 s export). Longest first, by measured cost:
    # a workbook takes about three times the lists of the same firms.
    tasks = deque(
        sorted(
            ((i, part) for i in range(n) for part in PARTS),
            key=lambda t: (-sizes[t[0]] * _PART_COST[t[1]], t[0], PARTS.index(t[1])),
        )
    )
    spool_dir = job.folder.parent / ".spool"
    spool_dir.mkdir()
    spooled: dict[int, Path] = {}
    left = dict.fromkeys(range(n), len(PARTS))
    done: dict[int, int] = {}
    try:
        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=die_with_parent,
            initargs=(os.getpid(),),
        ) as pool:
            running: dict[Future[int], int] = {}

            def submit_next() -> None:
                i, part = tasks.popleft()
                path = spooled.get(i)
                if path is None:  # the bank's first task: cut and spool its inputs once
                    path = spooled[i] = spool_dir / f"{i}.pickle"
                    cut = bank_inputs(inputs, job.config.banks[i], job.config.report.detail_limit)
                    spool(cut, path)
                    del cut
                    release_memory()  # the cut and its pickling buffers go back to the system
                with _sigint_held():  # a writer may start here: it inherits the mask
                    running[pool.submit(write_spooled, job, i, str(path), (part,))] = i

            def finish(i: int, count: int) -> None:
                left[i] -= 1
                if left[i]:
                    return
                bank = job.config.banks[i]  # both parts are in: the manifest hashes them
                write_manifest(job.folder / bank.id, package_meta(inputs, bank), job.key)
                spooled.pop(i).unlink()
                done[i] = count
                report(len(done))

            try:
                # one task more than there are writers: the next is spooled while the
                # writers work
                while True:
                    while tasks and len(running) <= workers:
                        submit_next()
                    if not running:
                        break
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in sorted(finished, key=running.__getitem__):
                        finish(running.pop(future), future.result())
            except BaseException:
                _stop_writers(pool)  # a failure ends the run now, not after the long package
                raise
    except BrokenProcessPool:
        missing = ", ".join(b.id for i, b in enumerate(job.config.banks) if i not in done)
        raise OutputError(
            f"A package writer process ended before finishing (banks not written: {missing}): "
            "the system killed it (most often for lack of memory) or it could not start.",
            "Set [resources] workers = 1 in run.toml (packages written one at a time in the "
            "run's own process) or free memory, then run again; the previous output is untouched.",
        ) from None
    finally:
        shutil.rmtree(spool_dir, ignore_errors=True)
    return [done[i] for i in range(n)]


@contextlib.contextmanager
def _sigint_held() -> Iterator[None]:
    """Hold SIGINT in this thread while a writer process may be started, so that the writer
    starts with it held for good (a signal mask survives ``exec``): Ctrl-C goes to the whole
    process group, and a writer hit while importing pandas printed a KeyboardInterrupt
    traceback beside the run's own clean exit. The run stops its writers itself
    (:func:`_stop_writers`); a Ctrl-C pressed meanwhile reaches the run once released."""
    block = getattr(signal, "pthread_sigmask", None)
    if block is None:
        yield
        return
    old = block(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        block(signal.SIG_SETMASK, old)


def _stop_writers(pool: ProcessPoolExecutor) -> None:
    """End every writer process of ``pool`` at once, then shut it down: after a failure, a
    package still being written (minutes at national scale) is of no use."""
    terminate = getattr(pool, "terminate_workers", None)  # Python >= 3.14
    if terminate is not None:
        terminate()
    else:
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            with contextlib.suppress(OSError, ValueError):
                process.kill()
    pool.shutdown(wait=True, cancel_futures=True)


def _cleanup_stale(out: Path) -> None:
    """Remove ``OUT.tmp-<pid>`` folders left by runs that were killed.

    ``OUT.old-<pid>`` folders are never swept: one may be the only copy of a previous output
    (a run killed between its two renames), or a person's own backup named like one."""
    for tmp in out.parent.glob(f"{out.name}.tmp-*"):
        pid = tmp.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(tmp, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def atomic_folder(out: Path):
    """Yield a temporary sibling of ``out``; on success it replaces ``out`` in one rename."""
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    _cleanup_stale(out)
    tmp = out.parent / f"{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        yield tmp
        if out.exists():
            old = out.parent / f"{out.name}.old-{os.getpid()}"
            os.replace(out, old)
            try:
                os.replace(tmp, out)
            except BaseException:
                os.replace(old, out)  # the previous output goes back where it was
                raise
            shutil.rmtree(old, ignore_errors=True)
            if old.exists():  # e.g. a file in it is immutable or on a read-only mount
                sys.stderr.write(
                    f"warning: the previous output could not be deleted and is kept as {old} "
                    "(the new output is in place); remove it by hand\n"
                )
        else:
            os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run_screening(
    data_dir: str | Path,
    out: str | Path,
    *,
    as_of: str | dt.date | pd.Timestamp,
    config: RunConfig,
    scorer: Any,
    previous: str | Path | None = None,
    key: SigningKey | None = None,
    progress=None,
    max_excel_rows: int = EXCEL_MAX_DATA_ROWS,
) -> dict[str, Any]:
    """Run the whole screening job and write ``out`` atomically.

    Parameters
    ----------
    data_dir : path
        The data folder (shared/input_format.md).
    out : path
        Output folder; replaced as a whole when the run succeeds.
    as_of : date
        Screening date: only facts known by then are used.
    config : RunConfig
        Parsed ``run.toml``.
    scorer : Scorer
        The expert scorecard or a learned model (``models.base.Scorer``).
    previous : path, optional
        OUT folder of the previous push, for the change report.
    key : SigningKey, optional
        Sign every package manifest.
    progress : callable, optional
        ``progress(stage, event, rows)``.
    max_excel_rows : int
        Rows per worksheet before a list continues on the next sheet.

    Returns
    -------
    dict
        The run report (also in ``out/run_report.json``), plus ``timings``.
    """
    from screening.run.pipeline import batch_id, for_export, prepare_inputs, screen

    try:
        as_of_ts = pd.Timestamp(as_of)
    except (ValueError, TypeError, OverflowError):
        as_of_ts = pd.NaT
    if pd.isna(as_of_ts):
        raise DataError(
            f"--as-of {as_of!r} is not a date.", "Give the as-of date as YYYY-MM-DD."
        ) from None
    as_of_ts = as_of_ts.normalize()
    out = Path(out)
    data_dir = Path(data_dir)
    check_output_folder(out, data_dir, previous)
    prev = read_previous(Path(previous), as_of_ts) if previous is not None else None
    timer = Timer(progress)
    inputs = prepare_inputs(
        data_dir,
        as_of_ts,
        timer,
        memory_limit=config.resources.memory_limit,
        needs=tables_needed(config.knockouts),
    )
    s = screen(inputs, scorer=scorer, config=config, as_of=as_of_ts, timer=timer)
    hashes = {t: f.get("sha256", "") for t, f in sorted(inputs.files.items())}
    names = {t: Path(f.get("file", "")).name for t, f in inputs.files.items()}
    # what only the earlier stages read goes before export builds the package inputs
    s = for_export(s, config.report.patents_per_firm)
    del inputs
    gc.collect()
    release_memory()  # the stages' temporaries, before export builds its own
    batch = batch_id(
        as_of_ts,
        hashes,
        s.model_id,
        config.digest(),
        input_files=names,
        previous=sha256_file(Path(previous) / "screened.parquet") if previous else "",
    )
    try:
        report = _write_run(s, out, config, batch, timer, prev, key, max_excel_rows)
    except OSError as exc:  # a full disk, a read-only or foreign-owned output folder
        where = exc.filename or out
        raise OutputError(
            f"Cannot write the run's output ({where}): {exc.strerror or exc}.",
            f"Free disk space or give --out a folder you can write to (now {out}); "
            "the previous output is untouched.",
        ) from None
    report["timings"] = [t.__dict__ for t in timer.stages]
    report["out"] = str(out)
    return report


RUN_MARKERS = ("run_report.json", "screened.csv")
"""Files every run output holds: a folder with them is an earlier run's output."""
RUN_FILES = frozenset(
    {
        *RUN_MARKERS,
        "screened.parquet",
        "rejects.csv",
        "unlinked.csv",
        "run_report.html",
        "timings.json",
        "packages",
    }
)
"""What a run writes at the top of ``--out``."""
PACKAGE_FILES = frozenset(
    {"whitelist.xlsx", "whitelist.csv", "whitelist.json", "report.html", "manifest.json"}
)
"""What a run writes into each ``packages/<bank>/``."""


def _kept(path: Path) -> bool:
    """Whether ``path`` is something a person would miss: not system or Office clutter
    (hidden files such as .DS_Store, ``~$`` lock files of an open workbook, Thumbs.db)."""
    name = path.name
    return not (name.startswith((".", "~$")) or name.lower() in ("thumbs.db", "desktop.ini"))


def _foreign_entries(out: Path) -> list[str]:
    """Entries of an earlier run's output folder that no run writes (the analyst's notes, a
    signed copy): replacing the folder would delete them."""
    foreign = [p.name for p in sorted(out.iterdir()) if p.name not in RUN_FILES and _kept(p)]
    packages = out / "packages"
    if packages.is_dir():
        for bank in sorted(packages.iterdir()):
            if not bank.is_dir():
                if _kept(bank):
                    foreign.append(f"packages/{bank.name}")
                continue
            foreign += [
                f"packages/{bank.name}/{p.name}"
                for p in sorted(bank.iterdir())
                if (p.name not in PACKAGE_FILES or not p.is_file()) and _kept(p)
            ]
    elif packages.exists():
        foreign.append("packages")
    return foreign


def check_output_folder(out: Path, data_dir: Path, previous: Path | None = None) -> None:
    """Refuse an ``out`` the run must not replace: a file, a folder holding anything but an
    earlier run's output, or the data folder or a folder containing it (``previous`` may be
    ``out``: it is read before ``out`` is replaced).

    A run replaces ``out`` as a whole (atomically); pointed at the wrong folder it would
    delete whatever was there.
    """
    out = Path(out).resolve()
    data = Path(data_dir).resolve()
    remedy = "Pass --out a new or empty folder, or the output folder of an earlier run."
    if out == data or out in data.parents:
        raise OutputError(f"--out {out} is the data folder or contains it.", remedy)
    _check_writable(out.parent)
    if not out.exists():
        return
    if not out.is_dir():
        raise OutputError(f"--out {out} exists and is a file, not a folder.", remedy)
    if any(out.iterdir()) and not all((out / m).is_file() for m in RUN_MARKERS):
        raise OutputError(
            f"--out {out} is not empty and is not the output of a screening run "
            f"(no {' and '.join(RUN_MARKERS)}); it would be replaced as a whole.",
            remedy,
        )
    foreign = _foreign_entries(out)
    if foreign:
        shown = ", ".join(foreign[:5]) + (
            f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
        )
        raise OutputError(
            f"--out {out} is an earlier run's output but also holds what no run writes "
            f"({shown}); the run replaces the folder as a whole and would delete them.",
            "Move those files elsewhere first, or pass --out a new folder.",
        )


def _check_writable(parent: Path) -> None:
    """Fail now, not after an hour of work, when the run could not create its output next
    to ``out`` (a read-only mount, a folder of another user). A parent still to be made is
    checked at its nearest existing folder; one that is a file is named."""
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(
            f"cannot create the output folder under {parent}: it is a file, not a folder.",
            "Pass --out a path inside a folder.",
        )
    try:
        with tempfile.NamedTemporaryFile(dir=parent, prefix=".ipw-probe-"):
            pass
    except OSError as exc:
        raise OutputError(
            f"cannot write in {parent} ({exc.strerror or exc}): the run's output goes there.",
            "Pass --out a folder you can write to, or fix the folder's permissions.",
        ) from None


def _write_run(
    s: Screening,
    out: Path,
    config: RunConfig,
    batch: str,
    timer: Timer,
    prev: tuple[pd.DataFrame, str] | None,
    key: SigningKey | None,
    max_excel_rows: int,
) -> dict[str, Any]:
    """Write every output into a temporary sibling of ``out`` and rename it into place."""
    with atomic_folder(out) as tmp:
        with timer.stage("export") as box:
            report = write_outputs(
                s,
                tmp,
                config=config,
                batch=batch,
                timer=timer,
                previous=prev,
                key=key,
                max_excel_rows=max_excel_rows,
            )
            box["rows"] = len(s.screened)
        _dump(
            tmp / "timings.json", {"batch_id": batch, "stages": [t.__dict__ for t in timer.stages]}
        )
    return report
