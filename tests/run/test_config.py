"""run.toml and the knock-out rules file: the shipped defaults load; bad keys are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from data_contracts.errors import ConfigError
from screening.run.config import load_run_config, parse_knockout_rules, parse_run_config
from tests.run._data import shipped_rules

DOMAIN_RULES = {
    "registry_status",
    "dishonest_debtor",
    "consumption_restriction",
    "serious_violation",
    "abnormal_operation",
    "major_tax_violation",
    "tax_grade_cd",
    "serious_penalty",
    "unreadable_credit_record",  # not a domain rule: what a rejected credit row may hide
    "no_valid_patent",
    "no_pledgeable_patent",
}


def test_shipped_config_loads_with_every_domain_rule():
    cfg = load_run_config()
    assert {r.id for r in cfg.knockouts.rules} == DOMAIN_RULES
    assert 3 <= len(cfg.banks) <= 4
    assert cfg.selection.min_grade == "T5"
    assert cfg.selection.tie_break[-1] == ("uscc", True)
    assert cfg.report.explain_top_k == 3
    assert dict(cfg.report.region_names)["410100"] == "郑州市"
    assert len(cfg.digest()) == 64 and cfg.digest() == load_run_config().digest()


BASE = {"selection": {"min_grade": "T5"}, "banks": [{"id": "b1", "name": "银行"}]}


@pytest.mark.parametrize(
    ("patch", "match"),
    [
        ({"selection": {"min_grade": "T11"}}, r"'selection\.min_grade'.*T1…T10"),
        ({"selection": {"max_pd": 1.5, "min_grade": "T5"}}, r"'selection\.max_pd'"),
        ({"selection": {}}, r"'selection'.*min_grade or max_pd"),
        (
            {"selection": {"min_grade": "T5", "region_caps": {"410100": -1}}},
            r"'selection\.region_caps\.410100'",
        ),
        (
            {"selection": {"min_grade": "T5", "tie_break": ["height desc"]}},
            r"'selection\.tie_break'",
        ),
        (
            {"selection": {"min_grade": "T5", "nominations_bypass_threshold": "yes"}},
            r"nominations_bypass_threshold",
        ),
        ({"banks": []}, r"'banks'"),
        ({"banks": [{"id": "a b", "name": "x"}]}, r"'banks\[0\]\.id'"),
        (
            {"banks": [{"id": "a", "name": "x"}, {"id": "a", "name": "y"}]},
            r"'banks\[1\]\.id'.*duplicate",
        ),
        ({"banks": [{"id": "a", "name": "x", "regions": "41"}]}, r"'banks\[0\]\.regions'"),
        # an empty list reads as "none" but meant "all"; codes that can never match a firm
        ({"banks": [{"id": "a", "name": "x", "regions": []}]}, r"regions'.*is empty"),
        ({"banks": [{"id": "a", "name": "x", "regions": ["zz"]}]}, r"regions'.*\['zz'\]"),
        ({"banks": [{"id": "a", "name": "x", "industries": ["?"]}]}, r"industries'.*\['\?'\]"),
        (
            {"selection": {"min_grade": "T5", "region_caps": {"zz": 5}}},
            r"'selection\.region_caps\.zz'",
        ),
        ({"report": {"explain_top_k": 0}}, r"'report\.explain_top_k'"),
        # text printed into the packages must be text, not a list or a number
        ({"banks": [{"id": "a", "name": ["郑州银行"]}]}, r"'banks\[0\]\.name'.*text"),
        ({"report": {"issuer": 3}}, r"'report\.issuer'.*text"),
        ({"regions": {"410100": 5}}, r"'regions\.410100'.*text"),
        ({"config_version": 5}, r"'config_version'.*text"),
        ({"report": {"validity_months": "six"}}, r"'report\.validity_months'"),
        ({"report": {"min_peers": 0}}, r"'report\.min_peers'.*\[1, 1000000\]"),
        ({"colour": "blue"}, r"'colour'.*unknown key"),
        ({"resources": {"workers": -1}}, r"'resources\.workers'"),
        ({"resources": {"workers": True}}, r"'resources\.workers'"),
        ({"resources": {"duckdb_memory_limit": "lots"}}, r"'resources\.duckdb_memory_limit'"),
        ({"resources": {"threads": 4}}, r"'resources\.threads'.*unknown key"),
    ],
)
def test_bad_config_names_the_key(patch, match):
    data = {**BASE, **patch}
    with pytest.raises(ConfigError, match=match):
        parse_run_config(data, rules=shipped_rules())


def test_resources_change_no_output_identity():
    """Workers and memory limits are machine settings: they must not change the batch id."""
    plain = parse_run_config(BASE, rules=shipped_rules())
    tuned = parse_run_config(
        {**BASE, "resources": {"workers": 3, "duckdb_memory_limit": "2.5GB"}},
        rules=shipped_rules(),
    )
    assert tuned.resources.workers == 3 and tuned.resources.duckdb_memory_limit == "2.5GB"
    assert tuned.resources.worker_count() == 3
    assert tuned.resources.memory_limit == "2.5GB" and plain.resources.memory_limit is None
    assert plain.resources.worker_count() >= 1
    assert tuned.digest() == plain.digest()
    other = parse_run_config({**BASE, "selection": {"min_grade": "T4"}}, rules=shipped_rules())
    assert other.digest() != plain.digest()


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"rules": [{"id": "x", "kind": "registry_status"}]}, r"'version' .*required"),
        ({"version": "1", "rules": []}, r"'rules'"),
        ({"version": "1", "rules": [{"id": "x", "kind": "astrology"}]}, r"'rules\[0\]\.kind'"),
        (
            {
                "version": "1",
                "rules": [{"id": "x", "kind": "tax_grade"}, {"id": "x", "kind": "tax_grade"}],
            },
            r"'rules\[1\]\.id'.*duplicate",
        ),
        (
            {"version": "1", "rules": [{"id": "x", "kind": "tax_grade", "weight": 2}]},
            r"'rules\[0\]\.weight'",
        ),
        (
            {"version": "1", "rule": [], "rules": [{"id": "x", "kind": "tax_grade"}]},
            r"'rule'.*unknown key",
        ),
    ],
)
def test_bad_rules_file_names_the_key(data, match):
    with pytest.raises(ConfigError, match=match):
        parse_knockout_rules(data)


def _one(kind: str, **rule) -> dict:
    return {"version": "1", "rules": [{"id": "r", "kind": kind, **rule}]}


@pytest.mark.parametrize(
    ("data", "match"),
    [
        # a misspelt parameter silently made a rule fire for nobody
        (_one("credit_active", params={"record_type": ["dishonest_debtor"]}),
         r"'rules\[0\]\.params\.record_type'.*unknown parameter"),
        (_one("credit_active", params={"record_types": ["dishonest_debtor"], "foo": ["1"]}),
         r"params\.foo'"),
        (_one("credit_active", params={"record_types": ["nonsense"]}),
         r"record_types'.*unknown value.*nonsense"),
        (_one("credit_active"), r"record_types'.*required"),
        (_one("credit_active", params={"record_types": "dishonest_debtor"}),
         r"record_types'.*non-empty list"),
        (_one("tax_grade", params={"grades": ["Z"]}), r"grades'.*\['Z'\]"),
        (_one("registry_status", params={"allowed": ["alive"]}), r"allowed'.*alive"),
        (_one("no_valid_patent", params={"features": ["valid_invention_cnt"]}), r"features'"),
        (_one("no_pledgeable_patent", params={"min": ["1"]}), r"params\.min'"),
        (_one("tax_grade", enabled="no"), r"'rules\[0\]\.enabled'.*true or false"),
    ],
)  # fmt: skip
def test_rule_parameters_are_checked(data, match):
    with pytest.raises(ConfigError, match=match):
        parse_knockout_rules(data)


def test_missing_or_broken_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_run_config(tmp_path / "nope.toml")
    bad = tmp_path / "run.toml"
    bad.write_text("selection = [", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_run_config(bad)
    (tmp_path / "gbk.yaml").write_bytes("version: '1'\n# 否决规则\n".encode("gbk"))
    bad.write_text('[knockouts]\nrules_file = "gbk.yaml"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        load_run_config(bad)
    bad.write_text('[knockouts]\nrules_file = "missing.yaml"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"'knockouts\.rules_file'.*does not exist"):
        load_run_config(bad)
    # a run.toml saved as GBK is an encoding problem, not a syntax one
    bad.write_bytes('[report]\nissuer = "河南省知识产权局"\n'.encode("gbk"))
    with pytest.raises(ConfigError, match="not UTF-8 text") as exc:
        load_run_config(bad)
    assert "UTF-8" in exc.value.remedy
    with pytest.raises(ConfigError, match="is a folder") as exc:
        load_run_config(tmp_path)
    assert "run.toml" in exc.value.remedy


def test_a_missing_model_folder_says_so(tmp_path):
    from data_contracts.errors import ModelError
    from models import load_model

    with pytest.raises(ModelError, match="does not exist"):
        load_model(tmp_path / "no-such-model")
    with pytest.raises(ModelError, match="model_card.json is missing"):
        load_model(tmp_path)


def test_bank_codes_accept_numbers_and_any_case_and_a_bom_file(tmp_path):
    """regions = [4101] and "4101" are the same prefix; industries 'c39' reads as 'C39'; a
    run.toml saved by Notepad with a UTF-8 BOM loads."""
    cfg = parse_run_config(
        {
            **BASE,
            "banks": [
                {"id": "a", "name": "x", "regions": [4101, "41"], "industries": ["c39", "I"]}
            ],
        },  # fmt: skip
        rules=shipped_rules(),
    )
    assert cfg.banks[0].regions == ("4101", "41")
    assert cfg.banks[0].industries == ("C39", "I")
    shipped = load_run_config(None)
    folder = tmp_path / "cfg"
    folder.mkdir()
    src = Path(__file__).resolve().parents[2] / "screening" / "config"
    (folder / "run.toml").write_bytes(b"\xef\xbb\xbf" + (src / "run.toml").read_bytes())
    (folder / "knockouts.yaml").write_bytes((src / "knockouts.yaml").read_bytes())
    assert load_run_config(folder / "run.toml").banks == shipped.banks


@pytest.mark.parametrize(
    ("bid", "match"),
    [
        ("CON", r"'CON' is a reserved device name on Windows"),
        ("nul", r"'nul' is a reserved device name"),
        ("Com1", r"'Com1' is a reserved device name"),
        ("lpt9", r"'lpt9' is a reserved device name"),
        ("nul.txt", r"ASCII letters, digits, '-' and '_'"),
        ("-rf", r"starting with a letter or digit.*'-rf'"),
        ("_x", r"starting with a letter or digit"),
        ("ＡＢＣ", r"ASCII letters"),  # full-width letters
        ("a²", r"ASCII letters"),
        ("١٢٣", r"ASCII letters"),  # Arabic-Indic digits
        ("银行", r"ASCII letters"),
        ("a b", r"ASCII letters"),
        ("a/b", r"ASCII letters"),
        ("..", r"ASCII letters"),
        ("bank\n", r"ASCII letters"),
        ("a" * 65, r"is 65 characters long; at most 64"),
        ("x" * 300, r"is 300 characters long; at most 64"),
        ("", r"is required"),
        (5, r"is required"),
    ],
)
def test_bank_ids_name_a_folder_on_any_disk(bid, match):
    data = {**BASE, "banks": [{"id": "ok", "name": "甲"}, {"id": bid, "name": "乙"}]}
    with pytest.raises(ConfigError, match=r"'banks\[1\]\.id'.*" + match) as exc:
        parse_run_config(data, rules=shipped_rules())
    assert exc.value.remedy


def test_bank_ids_are_unique_ignoring_case():
    data = {
        **BASE,
        "banks": [{"id": "icbc-henan", "name": "甲"}, {"id": "ICBC-henan", "name": "乙"}],
    }
    with pytest.raises(
        ConfigError, match=r"'banks\[1\]\.id'.*duplicate.*'ICBC-henan'.*'icbc-henan'.*case"
    ):
        parse_run_config(data, rules=shipped_rules())


def test_good_bank_ids_and_the_shipped_ones_pass():
    ids = ["a" * 64, "COM10", "console", "nul-bank", "9bank", "Bank_1", "icbc-henan"]
    cfg = parse_run_config(
        {**BASE, "banks": [{"id": i, "name": "行"} for i in ids]}, rules=shipped_rules()
    )
    assert [b.id for b in cfg.banks] == ids
    shipped = [b.id for b in load_run_config().banks]
    assert shipped == ["icbc-henan", "ccb-henan", "zhengzhou-bank", "zhongyuan-bank"]
