"""The command line: `screening verify` and the error path of `screening run`."""

from __future__ import annotations

from pathlib import Path

import pytest

from screening.cli import main
from screening.run.manifest import SigningKey, write_manifest
from tests.run._data import AS_OF, ToyScorer, build_inputs, make_config, run_into


def _cli(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    captured = capsys.readouterr()
    return exc.value.code, captured.out, captured.err


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "out"
    run_into(out, build_inputs(), ToyScorer(), make_config(), AS_OF)
    return out / "packages" / "bank-a"


def test_verify_ok_then_tampered(package, capsys, tmp_path):
    code, out, _ = _cli(["verify", str(package)], capsys)
    assert code == 0 and out.startswith("OK: 4 files match the manifest; not signed")
    copy = tmp_path / "pkg"
    import shutil

    shutil.copytree(package, copy)
    with open(copy / "whitelist.csv", "a", encoding="utf-8") as fh:
        fh.write("9,999\n")
    code, _, err = _cli(["verify", str(copy)], capsys)
    assert code != 0
    assert (
        "error:" in err and "whitelist.csv does not match its SHA-256" in err and "remedy:" in err
    )


def test_verify_hmac_from_env(package, capsys, tmp_path, monkeypatch):
    import shutil

    copy = tmp_path / "pkg"
    shutil.copytree(package, copy)
    write_manifest(copy, {"batch_id": "x"}, SigningKey("hmac-sha256", b"k3y"))
    code, out, _ = _cli(["verify", str(copy), "--require-signature"], capsys)
    assert code != 0
    monkeypatch.setenv("IPWL_SIGNING_KEY", "k3y")
    code, out, _ = _cli(["verify", str(copy), "--require-signature"], capsys)
    assert code == 0 and "signature valid (hmac-sha256)" in out
    monkeypatch.setenv("IPWL_SIGNING_KEY", "wrong")
    code, _, err = _cli(["verify", str(copy)], capsys)
    assert code != 0 and "signature" in err and "not valid" in err


def test_stripped_signature_fails_when_a_key_is_given(package, capsys, tmp_path, monkeypatch):
    """A signed package whose files were changed, rehashed and its signature removed: with a
    key (--key or the environment) verify refuses it; without one it reports 'not signed'."""
    import json
    import shutil

    copy = tmp_path / "pkg"
    shutil.copytree(package, copy)
    write_manifest(copy, {"batch_id": "x"}, SigningKey("hmac-sha256", b"k3y"))
    with open(copy / "whitelist.csv", "a", encoding="utf-8") as fh:
        fh.write("9,999\n")
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    del manifest["signature"]
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    write_manifest(copy, {k: v for k, v in manifest.items() if k != "files"}, None)  # rehash
    code, out, _ = _cli(["verify", str(copy)], capsys)
    assert code == 0 and "not signed" in out
    key = tmp_path / "hkey"
    key.write_text("k3y", encoding="utf-8")
    code, _, err = _cli(["verify", str(copy), "--key", str(key)], capsys)
    assert code != 0 and "carries no signature" in err and "remedy:" in err
    monkeypatch.setenv("IPWL_SIGNING_KEY", "k3y")
    code, _, err = _cli(["verify", str(copy)], capsys)
    assert code != 0 and "carries no signature" in err


def test_run_bad_config_is_two_lines(tmp_path, capsys):
    cfg = tmp_path / "run.toml"
    cfg.write_text(
        '[selection]\nmin_grade = "T0"\n[[banks]]\nid = "a"\nname = "甲"\n', encoding="utf-8"
    )
    (tmp_path / "knockouts.yaml").write_text(
        "version: '1'\nrules:\n  - {id: s, kind: registry_status}\n", encoding="utf-8"
    )
    code, _, err = _cli(
        [
            "run",
            "--data",
            str(tmp_path),
            "--as-of",
            "2026-09-30",
            "--out",
            str(tmp_path / "o"),
            "--config",
            str(cfg),
        ],
        capsys,
    )
    assert code == 2
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert lines[0].startswith("error:") and "'selection.min_grade'" in lines[0]
    assert any(line.startswith("remedy:") for line in lines[1:])
    assert "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_full_disk_is_two_lines_and_keeps_the_previous_output(tmp_path, capsys, monkeypatch):
    """An OSError while writing (here a full disk, inside a package writer process) is
    one line of cause and one of remedy, exit 2, and the previous push stays as it was."""
    from screening.run import output as output_mod
    from tests.retrain._folder import write_data_folder
    from tests.run import _faults

    data = write_data_folder(tmp_path / "data", n_firms=60)
    out = tmp_path / "out"
    args = ["run", "--data", str(data), "--as-of", "2025-06-30", "--out", str(out)]
    code, _, err = _cli(args, capsys)
    assert code == 0, err
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert any(p.name == "whitelist.xlsx" for p in before)
    monkeypatch.setattr(output_mod, "write_bank_package", _faults.disk_full)
    code, _, err = _cli(args, capsys)
    assert code == 2
    assert "error:" in err and "No space left on device" in err and "remedy:" in err
    assert "Traceback" not in err
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "out"]


@pytest.mark.parametrize("case", ["foreign_folder", "data_folder", "parent_of_data", "file"])
def test_run_refuses_an_output_it_would_destroy(tmp_path, capsys, case):
    """A run replaces --out as a whole: a folder holding anything but an earlier run's output,
    the data folder (or one containing it) or a file is refused before any work, untouched."""
    data = tmp_path / "proj" / "data"
    data.mkdir(parents=True)
    (data / "enterprises.csv").write_text("统一社会信用代码,企业名称\n", encoding="utf-8")
    thesis = tmp_path / "victim" / "thesis.docx"
    out = {
        "foreign_folder": thesis.parent,
        "data_folder": data,
        "parent_of_data": data.parent,
        "file": tmp_path / "afile",
    }[case]
    thesis.parent.mkdir()
    thesis.write_text("important", encoding="utf-8")
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    code, _, err = _cli(
        ["run", "--data", str(data), "--as-of", "2026-09-30", "--out", str(out)], capsys
    )
    assert code == 2 and "error:" in err and "--out" in err and "remedy:" in err
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    assert thesis.read_text(encoding="utf-8") == "important"


def test_an_earlier_runs_output_may_be_replaced(package, tmp_path, capsys):
    from screening.run.output import check_output_folder

    run_out = package.parent.parent  # OUT of the module's run
    check_output_folder(run_out, tmp_path / "data")  # no error
    (tmp_path / "empty").mkdir()
    check_output_folder(tmp_path / "empty", tmp_path / "data")
    check_output_folder(tmp_path / "new", tmp_path / "data")


def test_an_earlier_output_holding_the_analysts_files_is_refused(package, tmp_path):
    """A rerun replaces the folder as a whole: notes or a signed copy the analyst put into an
    earlier run's output would go with it, so the run refuses and names them."""
    import shutil

    from data_contracts.errors import OutputError
    from screening.run.output import check_output_folder

    out = tmp_path / "out"
    shutil.copytree(package.parent.parent, out)
    check_output_folder(out, tmp_path / "data")  # as the run left it: fine
    # system and Office clutter is nobody's work: a Finder's .DS_Store, Excel's lock file
    (out / ".DS_Store").write_text("x", encoding="utf-8")
    (out / "packages" / package.name / "~$whitelist.xlsx").write_text("x", encoding="utf-8")
    check_output_folder(out, tmp_path / "data")
    (out / "审核意见.docx").write_text("n", encoding="utf-8")
    (package_copy := out / "packages" / package.name / "签字版").mkdir()
    (package_copy / "a.pdf").write_text("s", encoding="utf-8")
    with pytest.raises(OutputError) as exc:
        check_output_folder(out, tmp_path / "data")
    assert (
        "审核意见.docx" in exc.value.cause and f"packages/{package.name}/签字版" in exc.value.cause
    )
    assert (out / "审核意见.docx").is_file()


def test_an_unwritable_output_place_fails_before_any_work(tmp_path, monkeypatch):
    """Checked at the start, at the nearest folder that exists (the export used to find out
    at its end). Permissions do not bind root, so a refused write is simulated."""
    from data_contracts.errors import OutputError
    from screening.run import output as output_mod

    (tmp_path / "afile").write_text("x", encoding="utf-8")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        output_mod.check_output_folder(tmp_path / "afile" / "sub" / "out", tmp_path / "data")
    tried = []

    def refuse(dir, prefix):  # noqa: A002 - tempfile's own parameter name
        tried.append(Path(dir))
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(output_mod.tempfile, "NamedTemporaryFile", refuse)
    with pytest.raises(OutputError, match="cannot write in .*Permission denied"):
        output_mod.check_output_folder(tmp_path / "ro" / "deep" / "out", tmp_path / "data")
    assert tried == [tmp_path]  # the nearest existing folder


@pytest.mark.parametrize("as_of", ["9999-12-31", "0001-01-01", "", "2026-13-01"])
def test_an_as_of_out_of_range_is_two_lines(tmp_path, capsys, as_of):
    for command in (["run", "--data", str(tmp_path), "--out", str(tmp_path / "o")],
                    ["features", str(tmp_path)], ["sample", "--firms", "5", "--seed", "1",
                    "--out", str(tmp_path / "s")]):  # fmt: skip
        code, _, err = _cli([*command, "--as-of", as_of], capsys)
        assert code == 2 and "--as-of" in err and "remedy:" in err, (command, err)


@pytest.mark.parametrize("manifest", ["[]", '{"files": 5}', '{"files": {"a": 1}}'])
def test_verify_a_malformed_manifest_is_two_lines(package, capsys, tmp_path, manifest):
    import shutil

    copy = tmp_path / "pkg"
    shutil.copytree(package, copy)
    (copy / "manifest.json").write_text(manifest, encoding="utf-8")
    code, _, err = _cli(["verify", str(copy)], capsys)
    assert code != 0 and "is not a valid manifest" in err and "remedy:" in err


def test_verify_reports_a_link_added_to_a_package(package, capsys, tmp_path):
    import shutil

    copy = tmp_path / "pkg"
    shutil.copytree(package, copy)
    (copy / "extra.csv").symlink_to(tmp_path / "nowhere.csv")  # broken on purpose
    code, _, err = _cli(["verify", str(copy)], capsys)
    assert code != 0 and "extra.csv is a symbolic link" in err
