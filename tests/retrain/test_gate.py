from __future__ import annotations

import pandas as pd

from screening.retrain.config import GateConfig
from screening.retrain.gate import ModelEvaluation, calibration_gap, decide

GATE = GateConfig(
    auc_drop=0.01, ks_drop=0.03, brier_rise=0.005, calibration_gap_rise=0.02, max_score_psi=0.25
)


def ev(auc=0.75, ks=0.4, brier=0.15, gap=0.03, psi=0.05, n=400, bad=40, mid="m"):
    metrics = dict(n=n, n_bad=bad, auc=auc, ks=ks, brier=brier, calibration_gap=gap, score_psi=psi)
    return ModelEvaluation(mid, {k: float(v) for k, v in metrics.items()}, pd.DataFrame())


def test_first_version_becomes_champion_when_it_clears_the_floors():
    d = decide(ev(auc=0.66, gap=0.049), None, GATE, min_bads=10)
    assert d.promote
    assert "first version" in d.reasons[0]
    table = d.table.set_index("metric")
    assert table.loc["auc", "limit"] == 0.65 and table.loc["calibration_gap", "limit"] == 0.05


def test_first_version_below_an_absolute_floor_is_refused():
    """With no champion to compare with, a model that barely discriminates or whose PDs are
    off by grade must not become the model banks screen with."""
    weak = decide(ev(auc=0.55), None, GATE, min_bads=10)
    assert not weak.promote
    assert weak.reasons == [
        "auc 0.5500 is lower than the floor 0.65 a version needs without a champion to "
        "compare with ([gate] min_auc)"
    ]
    off = decide(ev(gap=0.08), None, GATE, min_bads=10)
    assert not off.promote and "max_calibration_gap" in off.reasons[0]
    lenient = GateConfig(min_auc=0.5, max_calibration_gap=0.1)
    assert decide(ev(auc=0.55, gap=0.08), None, lenient, min_bads=10).promote
    # with a champion the rules are relative: a better challenger is never held to a floor
    assert decide(ev(auc=0.6), ev(auc=0.58), GATE, min_bads=10).promote


def test_first_version_still_needs_enough_defaults_and_a_stable_score():
    """A first champion judged on 8 defaults, or whose score population has shifted, would
    be pushed to banks on no evidence: refused like any challenger."""
    few = decide(ev(bad=8), None, GATE, min_bads=10)
    assert not few.promote and "only 8 defaults" in few.reasons[0]
    shifted = decide(ev(psi=0.4), None, GATE, min_bads=10)
    assert not shifted.promote and "score PSI" in shifted.reasons[0]
    # on 38 loans a PSI of 0.4 is mostly noise ((bins - 1) / n ≈ 0.24): not judged
    assert decide(ev(psi=0.4, n=38, bad=15), None, GATE, min_bads=10).promote


def test_within_tolerance_is_promoted():
    d = decide(ev(auc=0.745, ks=0.38, brier=0.154, gap=0.045), ev(), GATE, min_bads=10)
    assert d.promote, d.reasons
    assert d.table["ok"].all()


def test_each_rule_can_refuse_alone():
    champion = ev()
    cases = {
        "auc": ev(auc=0.739),
        "ks": ev(ks=0.369),
        "brier": ev(brier=0.1551),
        "calibration_gap": ev(gap=0.0501),
        "score_psi": ev(psi=0.26),
    }
    for metric, challenger in cases.items():
        d = decide(challenger, champion, GATE)
        assert not d.promote, metric
        assert d.table.set_index("metric").loc[metric, "ok"] == False  # noqa: E712
        assert len(d.reasons) == 1 and metric.split("_")[0] in d.reasons[0]


def test_too_few_defaults_refuses_replacement():
    d = decide(ev(auc=0.9, bad=3), ev(), GATE, min_bads=10)
    assert not d.promote
    assert "only 3 defaults" in d.reasons[0]


def test_calibration_gap_is_loan_weighted():
    by_grade = pd.DataFrame(
        {
            "grade": ["T1", "T2", "T3"],
            "n": [100, 300, 0],
            "observed_rate": [0.01, 0.10, float("nan")],
            "mean_pd": [0.03, 0.06, 0.2],
        }
    )
    assert abs(calibration_gap(by_grade) - (100 * 0.02 + 300 * 0.04) / 400) < 1e-12


def test_the_calibration_floor_allows_for_sampling_noise():
    """A first version's calibration gap on a few loans per grade is mostly noise: the floor
    is max_calibration_gap plus the gap a perfectly calibrated model would show there."""
    from screening.retrain.gate import calibration_noise

    def graded(n):
        return pd.DataFrame(
            {"grade": ["T1", "T2"], "n": [n, n], "observed_rate": [0.0, 0.3], "mean_pd": [0.1, 0.2]}
        )

    few, many = graded(10), graded(10_000)
    assert abs(calibration_noise(many) - (0.8 * (0.3 / 100 + 0.4 / 100)) / 2) < 1e-4
    gap = calibration_gap(few)  # 0.1: twice the floor
    small = ModelEvaluation("m", ev(gap=gap, n=20, bad=10).metrics, few)
    large = ModelEvaluation("m", ev(gap=gap, n=20_000, bad=3_000).metrics, many)
    assert decide(small, None, GATE, min_bads=10).promote
    refused = decide(large, None, GATE, min_bads=10)
    assert not refused.promote and "plus 0.0028 expected from sampling noise" in refused.reasons[0]
