"""Golden files for the fixed dataset: order, statuses, grades, rules, explanation texts.

Regenerate only on purpose: ``pytest tests/run --regen-golden`` (or IPWL_REGEN_GOLDEN=1),
then review the diff like code.
"""

from __future__ import annotations

import json
from pathlib import Path

from screening.run.pipeline import screen
from tests.run._data import AS_OF

GOLDEN = Path(__file__).parent / "golden"


def _check(name: str, payload, regen: bool) -> None:
    path = GOLDEN / name
    text = json.dumps(payload, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    if regen:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), (
        f"golden file {path} missing: run pytest --regen-golden once and review it"
    )
    assert json.loads(path.read_text(encoding="utf-8")) == json.loads(text)


def test_screened_matches_golden(inputs, scorer, config, regen_golden):
    s = screen(inputs, scorer=scorer, config=config, as_of=AS_OF)
    rows = [
        {
            "uscc": r.uscc,
            "status": r.status,
            "grade": None if r.status == "rejected_input" else r.grade,
            "score": None if r.status == "rejected_input" else round(float(r.score), 2),
            "rank": None if r.rank is None or r.rank != r.rank else int(r.rank),
            "rules_fired": None if not isinstance(r.rules_fired, str) else r.rules_fired,
            "nominated": bool(r.nominated),
        }
        for r in s.screened.astype(object).where(s.screened.notna(), None).itertuples()
    ]
    _check("screened.json", rows, regen_golden)


def test_explanations_match_golden(inputs, scorer, config, regen_golden):
    s = screen(inputs, scorer=scorer, config=config, as_of=AS_OF)
    reasons = [
        {"uscc": r.uscc, "direction": r.direction, "slot": int(r.slot), "text": r.text}
        for r in s.reasons.itertuples()
    ]
    _check("reasons.json", reasons, regen_golden)
