"""Manifests: every file hashed; HMAC and Ed25519 signatures; any tampering is named."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from data_contracts.errors import ConfigError, VerificationError
from screening.run.manifest import SigningKey, verify_package, write_manifest


def _package(tmp_path, key=None):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "whitelist.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (pkg / "sub" / "report.html").write_text("<html></html>", encoding="utf-8")
    write_manifest(pkg, {"batch_id": "2026Q3-abc", "as_of": "2026-09-30"}, key)
    return pkg


def _ed25519():
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    pub = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return SigningKey("ed25519", pem), SigningKey("ed25519", pub)


def test_unsigned_package_verifies_hashes(tmp_path):
    pkg = _package(tmp_path)
    result = verify_package(pkg)
    assert (result.files_checked, result.signature) == (2, "absent")
    manifest = json.loads((pkg / "manifest.json").read_text(encoding="utf-8"))
    assert sorted(manifest["files"]) == ["sub/report.html", "whitelist.csv"]


@pytest.mark.parametrize(
    ("tamper", "match"),
    [
        (
            lambda p: (p / "whitelist.csv").write_text("a,b\n1,3\n", encoding="utf-8"),
            r"whitelist\.csv does not match",
        ),
        (
            lambda p: (p / "sub" / "report.html").unlink(),
            r"sub/report\.html listed in the manifest is missing",
        ),
        (lambda p: (p / "extra.xlsx").write_bytes(b"x"), r"extra\.xlsx is not listed"),
    ],
)
def test_tampering_is_named(tmp_path, tamper, match):
    pkg = _package(tmp_path)
    tamper(pkg)
    with pytest.raises(VerificationError, match=match):
        verify_package(pkg)


def test_hmac_signature(tmp_path):
    key = SigningKey("hmac-sha256", b"s3cret")
    pkg = _package(tmp_path, key)
    assert verify_package(pkg, key).signature == "valid"
    assert verify_package(pkg).signature == "unchecked"
    with pytest.raises(VerificationError, match="signature .* is not valid"):
        verify_package(pkg, SigningKey("hmac-sha256", b"other"))
    # changing the batch metadata (not a file) also breaks the signature
    manifest = json.loads((pkg / "manifest.json").read_text(encoding="utf-8"))
    manifest["as_of"] = "2026-12-31"
    (pkg / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(VerificationError, match="not valid"):
        verify_package(pkg, key)
    assert "s3cret" not in repr(key)


def test_ed25519_signature(tmp_path):
    private, public = _ed25519()
    pkg = _package(tmp_path, private)
    assert verify_package(pkg, public).signature == "valid"
    assert verify_package(pkg, private).signature == "valid"
    _, other_public = _ed25519()
    with pytest.raises(VerificationError, match="Ed25519 signature .* is not valid"):
        verify_package(pkg, other_public)
    with pytest.raises(VerificationError, match="signed with ed25519 but a hmac-sha256 key"):
        verify_package(pkg, SigningKey("hmac-sha256", b"x"))


def test_bad_keys_and_folders(tmp_path):
    with pytest.raises(ConfigError, match="not a readable PEM private key"):
        _package(tmp_path, SigningKey("ed25519", b"not a pem"))
    with pytest.raises(VerificationError, match="is not a package folder"):
        verify_package(tmp_path / "nowhere")


def test_batch_id_names_the_engine(monkeypatch):
    """The same inputs, model and config under another engine (code, templates, shipped
    rules) give another batch id: a batch id never stands for two sets of bytes."""
    import pandas as pd

    from screening.run import pipeline

    day = pd.Timestamp("2026-09-30")
    args = (day, {"enterprises": "ab"}, "model-1", "cfg")
    digest = pipeline.engine_digest()
    assert len(digest) == 12 and digest == pipeline.engine_digest()
    first = pipeline.batch_id(*args)
    assert first.startswith("2026Q3-") and pipeline.batch_id(*args) == first
    # what else shows in the outputs is part of the id: the cited input file names and
    # the previous push the changes are taken against
    named = pipeline.batch_id(*args, input_files={"enterprises": "enterprises.csv"})
    renamed = pipeline.batch_id(*args, input_files={"enterprises": "Enterprises.CSV"})
    assert len({first, named, renamed, pipeline.batch_id(*args, previous="cd")}) == 4
    monkeypatch.setattr(pipeline, "engine_digest", lambda: "0" * 12)
    assert pipeline.batch_id(*args) != first


def test_the_engine_is_its_shipped_files_only(tmp_path, monkeypatch):
    """The digest covers the modules and the package data the wheel ships (kept equal to
    pyproject's package-data), and nothing else in the package folders: a model trained
    into models/<dir> in a checkout (as the README's retraining example once did) changed
    every later batch id and package byte."""
    import tomllib

    import models
    from screening.run import pipeline

    project = tomllib.loads(
        (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text(encoding="utf-8")
    )
    shipped = project["tool"]["setuptools"]["package-data"]
    assert {k: tuple(v) for k, v in shipped.items()} == pipeline.ENGINE_DATA

    pipeline.engine_digest.cache_clear()
    before = pipeline.engine_digest()
    names = {p.relative_to(r).as_posix() for p, r in pipeline._engine_files(models)}
    assert "expert_scorecard.yaml" in names and "templates/model_report.html.j2" in names
    trained = Path(models.__file__).resolve().parent / f"_probe_{tmp_path.name}"
    trained.mkdir()
    try:
        (trained / "model.json").write_text("{}", encoding="utf-8")
        (trained / "report.html").write_text("<p>", encoding="utf-8")
        pipeline.engine_digest.cache_clear()
        assert pipeline.engine_digest() == before
    finally:
        shutil.rmtree(trained)
        pipeline.engine_digest.cache_clear()


# --- verify: keys, bank, expiry and smuggled entries (library and command line) -----------

KEY_VARS = ("IPWL_SIGNING_KEY", "IPWL_SIGNING_KEY_ED25519", "IPWL_VERIFY_KEY_ED25519")
META = {
    "batch_id": "2026Q3-abc",
    "as_of": "2026-09-30",
    "valid_until": "2027-03-30",
    "bank": {"id": "icbc-henan", "name": "工商银行河南分行"},
}


def _cli(args, capsys):
    from screening.cli import main

    with pytest.raises(SystemExit) as exc:
        main(args)
    captured = capsys.readouterr()
    return exc.value.code, captured.out, captured.err


@pytest.fixture
def clean_env(monkeypatch):
    for var in KEY_VARS:
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def _bank_package(tmp_path, key=None, folder="icbc-henan", **meta):
    pkg = tmp_path / folder
    (pkg / "sub").mkdir(parents=True)
    (pkg / "whitelist.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (pkg / "sub" / "report.html").write_text("<html></html>", encoding="utf-8")
    write_manifest(pkg, {**META, **meta}, key)
    return pkg


def _tamper_and_relabel(pkg, signature):
    """The reviewer's repro: change a file, rehash it into the manifest, relabel the
    signature (``None`` strips it)."""
    (pkg / "whitelist.csv").write_text("a,b\n1,3\n", encoding="utf-8")
    manifest = json.loads((pkg / "manifest.json").read_text(encoding="utf-8"))
    meta = {k: v for k, v in manifest.items() if k not in ("files", "signature")}
    payload = write_manifest(pkg, meta, None)
    if signature is not None:
        payload["signature"] = signature
    (pkg / "manifest.json").write_text(json.dumps(payload), encoding="utf-8")


def _write_pem(tmp_path, key, name):
    path = tmp_path / name
    path.write_bytes(key.secret)
    return path


@pytest.mark.parametrize("signed_with", ["hmac-sha256", "ed25519"])
@pytest.mark.parametrize(
    ("relabel", "match"),
    [
        ({"algorithm": "hmac-sha256", "value": "00"}, "signed with hmac-sha256 but a"),
        ({"algorithm": "ed25519", "value": "AA=="}, "signed with ed25519 but a"),
        ({"algorithm": "none"}, "names the algorithm 'none'"),
        ({}, "names the algorithm None"),
        (None, "carries no signature"),
    ],
)
def test_a_relabelled_signature_fails_against_the_configured_key(
    tmp_path, signed_with, relabel, match
):
    """Whatever algorithm a tampered manifest claims, the key held is used: a claim that
    does not fit it is refused, never "not checked"."""
    private, public = _ed25519()
    hmac_key = SigningKey("hmac-sha256", b"s3cret")
    signer, verifier = (hmac_key, hmac_key) if signed_with == "hmac-sha256" else (private, public)
    pkg = _bank_package(tmp_path, signer)
    assert verify_package(pkg, verifier).signature == "valid"
    _tamper_and_relabel(pkg, relabel)
    if relabel and relabel.get("algorithm") == signed_with:
        match = "not valid for this key"  # same label: the signature itself is checked
    with pytest.raises(VerificationError, match=match):
        verify_package(pkg, verifier)


def test_an_unknown_algorithm_fails_even_without_a_key(tmp_path):
    pkg = _bank_package(tmp_path, SigningKey("hmac-sha256", b"s3cret"))
    _tamper_and_relabel(pkg, {"algorithm": "none"})
    with pytest.raises(VerificationError, match="names the algorithm 'none'"):
        verify_package(pkg)


def test_both_keys_held_check_the_one_the_manifest_names(tmp_path):
    private, public = _ed25519()
    hmac_key = SigningKey("hmac-sha256", b"s3cret")
    for folder, signer in (("h", hmac_key), ("e", private)):
        pkg = _bank_package(tmp_path, signer, folder=folder)
        result = verify_package(pkg, (public, hmac_key))
        assert (result.signature, result.algorithm) == ("valid", signer.algorithm)
        _tamper_and_relabel(pkg, {"algorithm": "hmac-sha256", "value": "00"})
        with pytest.raises(VerificationError, match="not valid for this key"):
            verify_package(pkg, (public, hmac_key))
        _tamper_and_relabel(pkg, {"algorithm": "none"})
        with pytest.raises(VerificationError, match="'none'"):
            verify_package(pkg, (public, hmac_key))


@pytest.mark.parametrize(
    ("env", "relabel"),
    [
        ("IPWL_VERIFY_KEY_ED25519", {"algorithm": "hmac-sha256", "value": "00"}),
        ("IPWL_VERIFY_KEY_ED25519", {"algorithm": "none"}),
        ("IPWL_SIGNING_KEY_ED25519", {"algorithm": "hmac-sha256", "value": "00"}),
        ("IPWL_SIGNING_KEY", {"algorithm": "ed25519", "value": "AA=="}),
        ("IPWL_SIGNING_KEY", None),
    ],
)
def test_cli_a_key_from_the_environment_is_always_used(tmp_path, capsys, clean_env, env, relabel):
    """The reviewer's repro: with the key in the environment (not --key) a tampered,
    rehashed package with a relabelled signature exited 0 "signature not checked"."""
    private, public = _ed25519()
    hmac_key = SigningKey("hmac-sha256", b"s3cret")
    if env == "IPWL_SIGNING_KEY":
        pkg = _bank_package(tmp_path, hmac_key)
        clean_env.setenv(env, "s3cret")
    else:
        pkg = _bank_package(tmp_path, private)
        held = public if env == "IPWL_VERIFY_KEY_ED25519" else private
        clean_env.setenv(env, str(_write_pem(tmp_path, held, "ed.pem")))
    code, out, _ = _cli(["verify", str(pkg)], capsys)
    assert code == 0 and "signature valid" in out
    _tamper_and_relabel(pkg, relabel)
    code, out, err = _cli(["verify", str(pkg)], capsys)
    assert code == 2, (out, err)
    assert "error:" in err and "remedy:" in err and "not checked" not in out + err


def test_cli_a_missing_key_file_in_the_environment_is_an_error(tmp_path, capsys, clean_env):
    pkg = _bank_package(tmp_path, _ed25519()[0])
    clean_env.setenv("IPWL_VERIFY_KEY_ED25519", str(tmp_path / "typo.pem"))
    code, out, err = _cli(["verify", str(pkg)], capsys)
    assert code == 2 and "IPWL_VERIFY_KEY_ED25519 points to" in err and "remedy:" in err
    assert not out


def test_verify_reports_the_push_and_its_warnings(tmp_path):
    pkg = _bank_package(tmp_path)
    result = verify_package(pkg, today=dt.date(2027, 3, 30))  # the last valid day
    assert (result.batch_id, result.as_of, result.valid_until) == (
        "2026Q3-abc",
        "2026-09-30",
        "2027-03-30",
    )
    assert (result.bank_id, result.bank_name) == ("icbc-henan", "工商银行河南分行")
    assert result.warnings == ()
    late = verify_package(pkg, today=dt.date(2027, 3, 31))
    assert len(late.warnings) == 1 and "expired: valid until 2027-03-30" in late.warnings[0]
    moved = tmp_path / "download"
    shutil.copytree(pkg, moved)
    warned = verify_package(moved, today=dt.date(2027, 1, 1)).warnings
    assert len(warned) == 1 and "named 'download'" in warned[0] and "'icbc-henan'" in warned[0]


def test_verify_bank_must_match_the_manifest(tmp_path):
    pkg = _bank_package(tmp_path)
    assert verify_package(pkg, bank="icbc-henan").bank_id == "icbc-henan"
    for other in ("ccb-henan", "ICBC-henan", ""):
        with pytest.raises(VerificationError, match=r"for bank 'icbc-henan' .*not for"):
            verify_package(pkg, bank=other)
    bankless = _package(tmp_path / "old")
    with pytest.raises(VerificationError, match="bank '\\(none named\\)'"):
        verify_package(bankless, bank="icbc-henan")


@pytest.mark.parametrize(
    ("field", "value"),
    [("valid_until", "soon"), ("valid_until", 20270330), ("bank", "icbc"), ("batch_id", [1])],
)
def test_verify_refuses_malformed_batch_metadata(tmp_path, field, value):
    pkg = _bank_package(tmp_path, **{field: value})
    with pytest.raises(VerificationError, match="is not a valid manifest"):
        verify_package(pkg)


def test_cli_verify_prints_the_push_and_checks_the_bank(tmp_path, capsys, clean_env):
    pkg = _bank_package(tmp_path, valid_until="2999-12-31")
    code, out, err = _cli(["verify", str(pkg), "--bank", "icbc-henan"], capsys)
    assert code == 0 and not err
    assert out.splitlines() == [
        "OK: 2 files match the manifest; not signed: the hashes catch damage in transit, not a "
        "changed manifest (ask the issuer to sign pushes: IPWL_SIGNING_KEY).",
        "  batch: 2026Q3-abc",
        "  bank: icbc-henan (工商银行河南分行)",
        "  as of: 2026-09-30",
        "  valid until: 2999-12-31",
    ]
    code, out, err = _cli(["verify", str(pkg), "--bank", "ccb-henan"], capsys)
    assert code == 2 and not out
    assert "package for bank 'icbc-henan' (工商银行河南分行), not for 'ccb-henan'" in err
    assert "remedy:" in err


def test_cli_verify_warns_of_an_expired_package_and_a_renamed_folder(tmp_path, capsys, clean_env):
    pkg = _bank_package(tmp_path, folder="inbox", valid_until="2000-01-31")
    code, out, err = _cli(["verify", str(pkg)], capsys)
    assert code == 0 and "  valid until: 2000-01-31" in out
    assert "warning: this package expired: valid until 2000-01-31" in err
    assert "warning: the folder is named 'inbox' but the package is for bank 'icbc-henan'" in err


@pytest.mark.parametrize(
    ("smuggle", "match"),
    [
        (lambda p: (p / "x").mkdir(), r"Folder x/ holds no file"),
        (lambda p: (p / "sub" / "empty").mkdir(), r"Folder sub/empty/ holds no file"),
        (
            lambda p: ((p / "x").mkdir(), (p / "x" / "manifest.json").write_text("1")),
            r"File x/manifest\.json is not listed",
        ),
        (
            lambda p: (p / "sub" / "manifest.json").write_text("{}"),
            r"File sub/manifest\.json is not listed",
        ),
        (lambda p: os.mkfifo(p / "pipe"), r"pipe is not a regular file"),
    ],
)
def test_only_the_top_level_manifest_is_exempt(tmp_path, smuggle, match):
    pkg = _package(tmp_path)
    verify_package(pkg)
    smuggle(pkg)
    with pytest.raises(VerificationError, match=match):
        verify_package(pkg)


def test_a_nested_manifest_written_by_the_issuer_is_hashed(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "sub" / "manifest.json").write_text("{}", encoding="utf-8")
    payload = write_manifest(pkg, {"batch_id": "b"})
    assert list(payload["files"]) == ["sub/manifest.json"]
    assert verify_package(pkg).files_checked == 1
    (pkg / "sub" / "manifest.json").write_text('{"a": 1}', encoding="utf-8")
    with pytest.raises(VerificationError, match=r"sub/manifest\.json does not match"):
        verify_package(pkg)
