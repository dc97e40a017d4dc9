"""Frozen settings of the retraining loop, parsed once at the command-line edge.

The TOML file ``screening/config/retrain.toml`` is read by the CLI (``tomllib``) and handed
to :func:`parse_retrain_config`; library functions receive the frozen objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from data_contracts.errors import ConfigError


@dataclass(frozen=True)
class LabelConfig:
    """Bad definition: a report within ``horizon_months`` that is NPL or ``dpd > bad_dpd``.

    ``complete_horizon_only``: train only on loans whose horizon has fully elapsed. A young
    loan that already went bad *is* bad, but its young good peers are not labelled yet, so
    keeping it would over-represent defaults in the newest (out-of-time) loans.
    """

    horizon_months: int = 12
    bad_dpd: int = 90
    complete_horizon_only: bool = True
    own_pledge_days: int = 90
    """A pledge registration (PE01) of one of the loan's ``pledged_app_nos`` dated at most
    this many days before disbursement is the loan's own: the borrower's features are then
    taken the day before it, as the bank saw the firm when it decided (at the disbursement
    date every borrower's patents already show as pledged, which no screened firm does).
    0 takes every row at its disbursement date."""


@dataclass(frozen=True)
class ValidationConfig:
    """Out-of-time validation window: the latest ``oot_share`` of labelled loans.

    ``min_oot_bads``: the fewest defaults a model may be tested on. ``train`` refuses a model
    whose out-of-time test window holds fewer, and ``promote`` refuses to judge a version on
    a comparison sample with fewer: below about 10 the AUC and KS are noise.
    """

    oot_share: float = 0.25
    min_oot_bads: int = 10


@dataclass(frozen=True)
class GateConfig:
    """How much worse than the champion a challenger may be and still be promoted.

    ``min_auc`` and ``max_calibration_gap`` are absolute floors for a version that has no
    champion to be compared with (the first champion, or one replacing a champion that
    cannot be evaluated on today's features): such a version must discriminate at least
    this well and be calibrated at least this closely on the comparison loans.
    """

    auc_drop: float = 0.01
    ks_drop: float = 0.03
    brier_rise: float = 0.005
    calibration_gap_rise: float = 0.02
    max_score_psi: float = 0.25
    min_auc: float = 0.65
    max_calibration_gap: float = 0.05


@dataclass(frozen=True)
class PsiConfig:
    """Population stability levels (domain.md §8) and the number of reference bins."""

    watch: float = 0.10
    act: float = 0.25
    bins: int = 10


@dataclass(frozen=True)
class MonitorConfig:
    """Alert rules for realised default rates by grade."""

    min_loans_per_grade: int = 20
    default_rate_excess: float = 0.05


@dataclass(frozen=True)
class FeatureConfig:
    """Which registry features a learned model may use.

    ``exclude_export_snapshots``: leave out the features whose facts come from a patent
    export without dates (citations, family members, PCT, awards; ``known_at = "export
    snapshot"``). For a loan of 2021 they would be read from a 2026 export — citations and
    families that grew after the loan, with the firm's later success: a leak that flatters
    validation and fails in the bank. Screening at the run date is unaffected (the export is
    then current), and the expert scorecard keeps them.

    ``exclude_registry_snapshots``: the same for the registry's undated size and finance
    fields (employees, registered capital, R&D intensity, size class; ``known_at = "registry
    snapshot"``): for an old loan they are today's figures, after the firm grew or shrank
    with its fortunes. The industry section (a classification that rarely changes) stays.
    """

    exclude_export_snapshots: bool = True
    exclude_registry_snapshots: bool = True


@dataclass(frozen=True)
class RetrainConfig:
    """All retraining settings; ``lightgbm`` holds the learned model's parameters."""

    labels: LabelConfig = field(default_factory=LabelConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    gate: GateConfig = field(default_factory=GateConfig)
    psi: PsiConfig = field(default_factory=PsiConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    lightgbm: tuple[tuple[str, Any], ...] = ()

    @property
    def lightgbm_params(self) -> dict[str, Any]:
        return dict(self.lightgbm)


_DEFAULT_SOURCE = "screening/config/retrain.toml"


def _section(cls, raw: Any, name: str, source: str = _DEFAULT_SOURCE):
    if raw is None:
        return cls()
    if not isinstance(raw, dict):
        raise ConfigError(
            f"retrain config: section {name} must be a table, got {type(raw).__name__}",
            f"fix {source}",
        )
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ConfigError(
            f"retrain config: unknown key(s) {', '.join(unknown)} in section {name}",
            f"use only {', '.join(known)}",
        )
    values = {}
    for key, value in raw.items():
        default = getattr(cls(), key)
        kind = type(default)
        ok = isinstance(value, kind) or (kind is float and isinstance(value, int))
        if (isinstance(value, bool) and kind is not bool) or not ok:
            raise ConfigError(
                f"retrain config: {name}.{key} must be a {kind.__name__}, got {value!r}",
                f"fix {source}",
            )
        if kind in (int, float) and value < 0:
            # every count, threshold and tolerance here is non-negative: a negative gate
            # tolerance would refuse every challenger, a negative minimum accept none
            raise ConfigError(
                f"retrain config: {name}.{key} must not be negative, got {value!r}",
                f"fix {source}",
            )
        values[key] = kind(value)
    return cls(**values)


def parse_retrain_config(raw: dict[str, Any], source: str = _DEFAULT_SOURCE) -> RetrainConfig:
    """Validate a parsed TOML mapping and freeze it (``source``: the file it came from, named
    in the errors' remedies).

    Raises
    ------
    ConfigError
        Unknown sections or keys, wrong types, or values out of range.
    """
    known = {"version", "labels", "validation", "gate", "psi", "monitor", "features", "lightgbm"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(
            f"retrain config: unknown section(s) {', '.join(unknown)}",
            f"use only {', '.join(sorted(known))}",
        )
    cfg = RetrainConfig(
        labels=_section(LabelConfig, raw.get("labels"), "labels", source),
        validation=_section(ValidationConfig, raw.get("validation"), "validation", source),
        gate=_section(GateConfig, raw.get("gate"), "gate", source),
        psi=_section(PsiConfig, raw.get("psi"), "psi", source),
        monitor=_section(MonitorConfig, raw.get("monitor"), "monitor", source),
        features=_section(FeatureConfig, raw.get("features"), "features", source),
        lightgbm=tuple(sorted((raw.get("lightgbm") or {}).items())),
    )
    if not 0 < cfg.validation.oot_share < 1:
        raise ConfigError(
            f"retrain config: validation.oot_share must be in (0, 1), got {cfg.validation.oot_share}",
            "a share such as 0.25 keeps the latest quarter of labelled loans for validation",
        )
    if not 0 < cfg.psi.watch < cfg.psi.act:
        raise ConfigError(
            f"retrain config: psi needs 0 < watch < act, got watch={cfg.psi.watch} act={cfg.psi.act}",
            "the usual levels are watch = 0.10, act = 0.25",
        )
    if not (0 <= cfg.gate.min_auc <= 1 and 0 <= cfg.gate.max_calibration_gap <= 1):
        raise ConfigError(
            f"retrain config: gate.min_auc and gate.max_calibration_gap must be in [0, 1], got "
            f"{cfg.gate.min_auc} and {cfg.gate.max_calibration_gap}",
            "the defaults are min_auc = 0.65 and max_calibration_gap = 0.05",
        )
    if not 2 <= cfg.psi.bins <= 50:
        raise ConfigError(
            f"retrain config: psi.bins must be an int in [2, 50], got {cfg.psi.bins}",
            "10 bins is the usual choice",
        )
    if cfg.labels.horizon_months < 1 or cfg.labels.bad_dpd < 0:
        raise ConfigError(
            "retrain config: labels.horizon_months must be >= 1 and labels.bad_dpd >= 0",
            "input_format.md defines 12 months and 90 days",
        )
    check_lightgbm_params(cfg, source)
    return cfg


def check_lightgbm_params(cfg: RetrainConfig, source: str = _DEFAULT_SOURCE) -> None:
    """The learned model's parameters, checked when the file is read (not after labels
    and features, minutes into a run), named as the file names them."""
    import inspect
    import re

    from models.learned import LearnedModel

    params = cfg.lightgbm_params
    allowed = set(inspect.signature(LearnedModel.__init__).parameters) - {"self", "feature_specs"}
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ConfigError(
            f"retrain config: unknown lightgbm parameter(s) {', '.join(unknown)}",
            f"use only {', '.join(sorted(allowed - {'validation_fraction'}))} in {source}",
        )
    try:
        LearnedModel(**params)._validate_params()
    except ConfigError as exc:
        found = re.search(r"'(\w+)' parameter", exc.cause)
        name = found.group(1) if found else "?"
        raise ConfigError(
            f"retrain config: lightgbm.{name} = {params.get(name)!r} is not accepted ({exc.cause})",
            f"fix lightgbm.{name} in {source}",
        ) from None
