"""Package manifests: SHA-256 of every file, optional HMAC-SHA256 or Ed25519 signature.

The signature covers the canonical JSON of the manifest without its ``signature`` field
(sorted keys, UTF-8, no spaces), so any change to any file (its hash) or to the batch
metadata breaks it. Keys are passed in by the caller (the CLI reads the environment).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from data_contracts.errors import ConfigError, VerificationError

MANIFEST = "manifest.json"
ALGORITHMS = ("hmac-sha256", "ed25519")


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


def _package_entries(folder: Path) -> tuple[set[str], set[str], list[str]]:
    """Files, folders and anything else (FIFOs, sockets…) under ``folder``, as POSIX paths
    relative to it; only the top-level ``manifest.json`` is left out."""
    files, folders, other = set(), set(), []
    for p in folder.rglob("*"):
        name = p.relative_to(folder).as_posix()
        if name == MANIFEST:
            continue
        if p.is_dir():
            folders.add(name)
        elif p.is_file():
            files.add(name)
        else:
            other.append(name)
    return files, folders, sorted(other)


def write_manifest(
    folder: Path, meta: dict[str, Any], key: SigningKey | None = None
) -> dict[str, Any]:
    """Hash every file under ``folder`` and write ``manifest.json`` (signed when keyed).

    Parameters
    ----------
    folder : Path
        The package folder (its top-level ``manifest.json`` is not listed; a file of that
        name in a subfolder is).
    meta : dict
        Batch metadata: batch id, as-of, model id, input file hashes…
    key : SigningKey, optional
        Sign with this key.
    """
    names, _, _ = _package_entries(folder)
    files = {name: sha256_file(folder / name) for name in sorted(names)}
    payload = {**meta, "files": files}
    if key is not None:
        payload["signature"] = sign_payload({k: v for k, v in payload.items()}, key)
    (folder / MANIFEST).write_bytes(
        json.dumps(payload, sort_keys=True, ensure_ascii=False, indent=2).encode() + b"\n"
    )
    return payload


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of :func:`verify_package`.

    Attributes
    ----------
    files_checked : int
        Files whose SHA-256 matched the manifest.
    signature : str
        ``valid``, ``absent`` (not signed, no key given) or ``unchecked`` (signed, but no key
        to check it).
    algorithm : str
        The signature's algorithm, when signed.
    batch_id, as_of, valid_until, bank_id, bank_name : str
        What the manifest says about the push ("" when it does not say).
    warnings : tuple of str
        What the reader should know although the package is intact: it has expired, or its
        folder is not named after the bank it is for.
    """

    files_checked: int
    signature: str
    algorithm: str = ""
    batch_id: str = ""
    as_of: str = ""
    valid_until: str = ""
    bank_id: str = ""
    bank_name: str = ""
    warnings: tuple[str, ...] = ()


def _read_manifest(manifest_path: Path) -> dict[str, Any]:
    """The manifest's payload, its shape checked; a :class:`VerificationError` otherwise."""
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
        for field in ("batch_id", "as_of", "valid_until"):
            if not isinstance(payload.get(field, ""), str):
                raise TypeError(f"'{field}' is not text")
        bank = payload.get("bank", {})
        if not isinstance(bank, dict) or not all(
            isinstance(bank.get(k, ""), str) for k in ("id", "name")
        ):
            raise TypeError("'bank' is not an object with a text id and name")
        if payload.get("valid_until"):
            dt.date.fromisoformat(payload["valid_until"])
    except (
        json.JSONDecodeError,
        KeyError,
        UnicodeDecodeError,
        TypeError,
        AttributeError,
        ValueError,
    ) as exc:
        raise VerificationError(
            f"{manifest_path} is not a valid manifest ({exc}).",
            "Ask the issuer to resend the package; do not use it.",
        ) from None
    return payload


def _check_signature(
    payload: dict[str, Any], keys: tuple[SigningKey, ...], manifest_path: Path
) -> tuple[str, str]:
    """``(signature status, algorithm)``; a :class:`VerificationError` on any doubt.

    Every key given must be usable: a manifest signed with an algorithm none of them is for
    (or relabelled ``none``, or stripped of its signature) is refused, never reported as
    "not checked" — that is how a changed, rehashed package would slip through.
    """
    remedy = "Do not use this package; ask the issuer to resend it."
    given = " / ".join(sorted({k.algorithm for k in keys}))
    signature = payload.get("signature")
    if signature is None:
        if keys:
            # whoever holds a key expects signed packages: a manifest without a signature
            # may have had it stripped after the files were changed and rehashed
            raise VerificationError(
                f"{manifest_path} carries no signature, but a {given} key was given.",
                "Do not use this package; ask the issuer to resend it signed.",
            )
        return "absent", ""
    algorithm = signature.get("algorithm")
    if algorithm not in ALGORITHMS:
        raise VerificationError(
            f"The signature of {manifest_path} names the algorithm {algorithm!r}; packages "
            f"are signed with {' or '.join(ALGORITHMS)} only.",
            remedy,
        )
    if not keys:
        return "unchecked", algorithm
    key = next((k for k in keys if k.algorithm == algorithm), None)
    if key is None:
        raise VerificationError(
            f"The manifest is signed with {algorithm} but a {given} key was given: a "
            "signature relabelled to another algorithm is how a changed package escapes "
            "the check.",
            "Do not use this package unless the issuer confirms it signs with "
            f"{algorithm}; then pass that key (IPWL_SIGNING_KEY for HMAC, an Ed25519 "
            "public key for Ed25519).",
        )
    message = canonical_json({k: v for k, v in payload.items() if k != "signature"})
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
    return "valid", algorithm


def verify_package(
    folder: Path,
    key: SigningKey | Sequence[SigningKey] | None = None,
    *,
    bank: str | None = None,
    today: dt.date | None = None,
) -> VerifyResult:
    """Check every hash of ``manifest.json``, its signature and, if asked, its bank.

    Parameters
    ----------
    folder : Path
        One bank package folder.
    key : SigningKey or sequence of SigningKey, optional
        The key (or keys, e.g. an HMAC secret and an Ed25519 public key) the reader holds.
        When any is given the manifest must be signed with the algorithm of one of them and
        the signature must be valid for it.
    bank : str, optional
        Fail unless the manifest's ``bank.id`` is exactly this.
    today : datetime.date, optional
        The day an expired package is told against (default: the system date).

    Returns
    -------
    VerifyResult
        Files checked, signature status, the push's metadata and warnings (an expired
        package, a folder not named after its bank).

    Raises
    ------
    VerificationError
        Naming the file or folder on any missing, extra or altered entry, a bad, missing or
        relabelled signature, or a package for another bank than ``bank``.
    """
    folder = Path(folder)
    keys: tuple[SigningKey, ...]
    if key is None:
        keys = ()
    elif isinstance(key, SigningKey):
        keys = (key,)
    else:
        keys = tuple(key)
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise VerificationError(
            f"{manifest_path} not found: {folder} is not a package folder.",
            "Pass the folder of one bank package (OUT/packages/<bank>/).",
        )
    payload = _read_manifest(manifest_path)
    files = payload["files"]
    remedy = "Do not use this package; ask the issuer to resend it."
    # a package holds plain files only: a link (even a broken one) is something added
    for link in sorted(p for p in folder.rglob("*") if p.is_symlink()):
        raise VerificationError(
            f"{link.relative_to(folder).as_posix()} is a symbolic link, not a file of the "
            "package (added later).",
            remedy,
        )
    present, folders, other = _package_entries(folder)
    for name in other:
        raise VerificationError(
            f"{name} is not a regular file of the package (added later).", remedy
        )
    for name in sorted(set(files) - present):
        raise VerificationError(f"File {name} listed in the manifest is missing.", remedy)
    for name in sorted(present - set(files)):
        raise VerificationError(f"File {name} is not listed in the manifest (added later).", remedy)
    listed_folders = {parent.as_posix() for name in files for parent in PurePosixPath(name).parents}
    for name in sorted(folders - listed_folders):
        raise VerificationError(
            f"Folder {name}/ holds no file listed in the manifest (added later).", remedy
        )
    for name in sorted(files):
        if sha256_file(folder / name) != files[name]:
            raise VerificationError(
                f"File {name} does not match its SHA-256 in the manifest.", remedy
            )
    status, algorithm = _check_signature(payload, keys, manifest_path)

    meta = payload.get("bank", {})
    bank_id, bank_name = meta.get("id", ""), meta.get("name", "")
    if bank is not None and bank_id != bank:
        raise VerificationError(
            f"{folder} is the package for bank {bank_id or '(none named)'!r}"
            f"{f' ({bank_name})' if bank_name else ''}, not for {bank!r}.",
            "Do not use another bank's package; ask the issuer for yours.",
        )
    warnings = []
    valid_until = payload.get("valid_until", "")
    today = dt.date.today() if today is None else today
    if valid_until and dt.date.fromisoformat(valid_until) < today:
        warnings.append(
            f"this package expired: valid until {valid_until}, today is {today}; "
            "ask the issuer for the current batch."
        )
    if bank_id and folder.resolve().name != bank_id:
        warnings.append(
            f"the folder is named {folder.resolve().name!r} but the package is for bank "
            f"{bank_id!r}."
        )
    return VerifyResult(
        files_checked=len(files),
        signature=status,
        algorithm=algorithm,
        batch_id=payload.get("batch_id", ""),
        as_of=payload.get("as_of", ""),
        valid_until=valid_until,
        bank_id=bank_id,
        bank_name=bank_name,
        warnings=tuple(warnings),
    )
