"""HTML model report: self-contained, Chinese labels as real text, reproducible."""

from __future__ import annotations

import re

from models import render_model_report


def test_report_is_self_contained_with_chinese_text(oot_model):
    html = render_model_report(oot_model.evaluation_, oot_model.card_)
    assert html.startswith("<!DOCTYPE html>")
    # Plots are inline SVG whose labels are <text> elements (svg.fonttype = none).
    assert html.count("<svg") >= 5
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", html)
    assert any("ROC 曲线" in t for t in texts)
    assert any("各等级实际违约率" in t for t in texts)
    assert "有效发明专利数" in html  # Chinese feature label from the specs
    # Nothing is fetched: no scripts, stylesheets or images from elsewhere.
    assert not re.search(r'(src|href)="https?://', html)
    assert "<script" not in html
    assert oot_model.model_id in html
    for grade in ("T1", "T10"):
        assert f">{grade}<" in html


def test_report_is_byte_identical_on_rerun(oot_model):
    a = render_model_report(oot_model.evaluation_, oot_model.card_)
    b = render_model_report(oot_model.evaluation_, oot_model.card_)
    assert a == b


def test_report_states_non_monotone_grades(oot_model):
    ev = oot_model.evaluation_
    ev2 = type(ev)(
        **{
            **ev.__dict__,
            "warnings": [
                "observed default rates do not rise monotonically from T1 to the worst grade: T3 (1.00%) < T2 (2.00%)"
            ],
        }
    )
    html = render_model_report(ev2, oot_model.card_)
    assert "do not rise monotonically" in html
