"""Manifests: every file hashed; HMAC and Ed25519 signatures; any tampering is named."""

from __future__ import annotations

import json
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
