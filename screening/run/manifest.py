"""Package manifests: SHA-256 of every file, optional HMAC-SHA256 or Ed25519 signature.

The signature covers the canonical JSON of the manifest without its ``signature`` field
(sorted keys, UTF-8, no spaces), so any change to any file (its hash) or to the batch
metadata breaks it. Keys are passed in by the caller (the CLI reads the environment).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from data_contracts.errors import ConfigError, VerificationError

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class SigningKey:
    """A signing (or verification) key.

    Attributes
    ----------
    algorithm : str
        ``hmac-sha256`` or ``ed25519``.
    secret : bytes
        HMAC secret, or the PEM bytes of an Ed25519 private or public key.
    """

    algorithm: str
    secret: bytes

    def __repr__(self) -> str:  # never print a secret
        return f"SigningKey(algorithm={self.algorithm!r})"


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, streamed."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def canonical_json(payload: Any) -> bytes:
    """The bytes that are hashed and signed: sorted keys, no whitespace, UTF-8."""
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _ed25519_private(key: SigningKey) -> Ed25519PrivateKey:
    try:
        loaded = serialization.load_pem_private_key(key.secret, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"The Ed25519 signing key is not a readable PEM private key ({exc}).",
            "Point IPWL_SIGNING_KEY_ED25519 at an unencrypted PEM Ed25519 private key.",
        ) from None
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ConfigError(
            "The signing key is a PEM private key but not an Ed25519 key.",
            "Generate one with `openssl genpkey -algorithm ed25519`.",
        )
    return loaded


def _ed25519_public(key: SigningKey) -> Ed25519PublicKey:
    try:
        loaded = serialization.load_pem_public_key(key.secret)
    except ValueError:
        return _ed25519_private(key).public_key()
    if not isinstance(loaded, Ed25519PublicKey):
        raise ConfigError(
            "The verification key is a PEM public key but not an Ed25519 key.",
            "Pass the Ed25519 public key that matches the signing key.",
        )
    return loaded


def _public_fingerprint(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def sign_payload(payload: dict[str, Any], key: SigningKey) -> dict[str, str]:
    """The ``signature`` block for ``payload``."""
    message = canonical_json(payload)
    if key.algorithm == "hmac-sha256":
        value = hmac.new(key.secret, message, hashlib.sha256).hexdigest()
        return {"algorithm": "hmac-sha256", "value": value}
    if key.algorithm == "ed25519":
        private = _ed25519_private(key)
        value = base64.b64encode(private.sign(message)).decode("ascii")
        return {
            "algorithm": "ed25519",
            "key_fingerprint": _public_fingerprint(private.public_key()),
            "value": value,
        }
    raise ConfigError(
        f"Unknown signing algorithm {key.algorithm!r}.", "Use hmac-sha256 or ed25519."
    )


def write_manifest(
    folder: Path, meta: dict[str, Any], key: SigningKey | None = None
) -> dict[str, Any]:
    """Hash every file under ``folder`` and write ``manifest.json`` (signed when keyed).

    Parameters
    ----------
    folder : Path
        The package folder (the manifest itself is not listed).
    meta : dict
        Batch metadata: batch id, as-of, model id, input file hashes…
    key : SigningKey, optional
        Sign with this key.
    """
    files = {
        p.relative_to(folder).as_posix(): sha256_file(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }
    payload = {**meta, "files": files}
    if key is not None:
        payload["signature"] = sign_payload({k: v for k, v in payload.items()}, key)
    (folder / MANIFEST).write_bytes(
        json.dumps(payload, sort_keys=True, ensure_ascii=False, indent=2).encode() + b"\n"
    )
    return payload


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of :func:`verify_package`: files checked and whether a signature was checked."""

    files_checked: int
    signature: str  # "valid", "absent" or "unchecked" (signed, but no key to check it)
    algorithm: str = ""


def verify_package(folder: Path, key: SigningKey | None = None) -> VerifyResult:
    """Check every hash of ``manifest.json`` and, when a key is given, its signature.

    Raises
    ------
    VerificationError
        Naming the file on any missing, extra or altered file, or a bad signature.
    """
    folder = Path(folder)
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise VerificationError(
            f"{manifest_path} not found: {folder} is not a package folder.",
            "Pass the folder of one bank package (OUT/packages/<bank>/).",
        )
    try:
        payload = json.loads(manifest_path.read_text(encoding="utf-8"))
        files = payload["files"]
        if not isinstance(files, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in files.items()
        ):
            raise TypeError("'files' is not a table of file name to SHA-256")
        signature = payload.get("signature")
        if signature is not None and not isinstance(signature, dict):
            raise TypeError("'signature' is not an object")
    except (json.JSONDecodeError, KeyError, UnicodeDecodeError, TypeError, AttributeError) as exc:
        raise VerificationError(
            f"{manifest_path} is not a valid manifest ({exc}).",
            "Ask the issuer to resend the package; do not use it.",
        ) from None
    remedy = "Do not use this package; ask the issuer to resend it."
    # a package holds plain files only: a link (even a broken one) is something added
    for link in sorted(p for p in folder.rglob("*") if p.is_symlink()):
        raise VerificationError(
            f"{link.relative_to(folder).as_posix()} is a symbolic link, not a file of the "
            "package (added later).",
            remedy,
        )
    present = {
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.name != MANIFEST
    }
    for name in sorted(set(files) - present):
        raise VerificationError(f"File {name} listed in the manifest is missing.", remedy)
    for name in sorted(present - set(files)):
        raise VerificationError(f"File {name} is not listed in the manifest (added later).", remedy)
    for name in sorted(files):
        if sha256_file(folder / name) != files[name]:
            raise VerificationError(
                f"File {name} does not match its SHA-256 in the manifest.", remedy
            )
    signature = payload.get("signature")
    if signature is None:
        if key is not None:
            # whoever holds a key expects signed packages: a manifest without a signature
            # may have had it stripped after the files were changed and rehashed
            raise VerificationError(
                f"{manifest_path} carries no signature, but a {key.algorithm} key was given.",
                "Do not use this package; ask the issuer to resend it signed.",
            )
        return VerifyResult(len(files), "absent")
    if key is None:
        return VerifyResult(len(files), "unchecked", signature.get("algorithm", ""))
    unsigned = {k: v for k, v in payload.items() if k != "signature"}
    message = canonical_json(unsigned)
    algorithm = signature.get("algorithm")
    if algorithm != key.algorithm:
        raise VerificationError(
            f"The manifest is signed with {algorithm} but a {key.algorithm} key was given.",
            "Pass the matching key (IPWL_SIGNING_KEY for HMAC, an Ed25519 public key for Ed25519).",
        )
    if algorithm == "hmac-sha256":
        expected = hmac.new(key.secret, message, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, str(signature.get("value", ""))):
            raise VerificationError(
                f"The signature of {manifest_path} is not valid for this key.", remedy
            )
    else:
        public = _ed25519_public(key)
        try:
            public.verify(base64.b64decode(str(signature.get("value", ""))), message)
        except (InvalidSignature, ValueError):
            raise VerificationError(
                f"The Ed25519 signature of {manifest_path} is not valid for this key.", remedy
            ) from None
    return VerifyResult(len(files), "valid", algorithm)
