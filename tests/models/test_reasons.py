"""Top reasons per firm, and the packaged scorecard against the real feature registry."""

from __future__ import annotations

import pandas as pd

from features.registry import by_name
from models import ExpertScorecard, top_reasons


def test_top_reasons_order_sign_and_labels():
    contrib = pd.DataFrame(
        {"a": [12.34, -1.0, 0.01], "b": [-8.0, 2.0, 0.0], "c": [3.0, -6.5, -0.02]},
        index=[10, 11, 12],
    )
    r = top_reasons(contrib, 2, labels={"a": "有效发明专利数"})
    assert r.index.tolist() == [10, 11, 12]
    assert r.loc[10, "reasons_up"] == "有效发明专利数 +12.3; c +3.0"
    assert r.loc[10, "reasons_down"] == "b -8.0"
    assert r.loc[11, "reasons_up"] == "b +2.0"
    assert r.loc[11, "reasons_down"] == "c -6.5; 有效发明专利数 -1.0"
    # Below 0.05 points nothing is a reason.
    assert r.loc[12, "reasons_up"] == "" and r.loc[12, "reasons_down"] == ""


def test_packaged_scorecard_matches_the_feature_registry():
    """Every factor names a registry feature, with the registry's direction (checked on
    construction), so screening can score the registry's feature matrix."""
    card = ExpertScorecard()
    known = by_name()
    assert set(card.feature_names_in_) <= set(known)
    for f in card.spec_.factors:
        assert known[f.feature].direction in (0, f.direction), f.feature
    assert card.labels_zh_["valid_invention_count"] == known["valid_invention_count"].label_zh
