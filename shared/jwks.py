"""The token issuer's public keys for RS256, as a JWKS (a JSON Web Key Set): a file or an https URL.

Each key has a ``kid``; a token names the key that signed it in its header, and is verified with that key
only. A rotation is two keys in the set at once: the new key is published first, tokens are then signed
with it, and the old key is removed once the last token it signed has expired (24 h at most). The set is
read at start-up (a service does not start without it) and again every ``refresh_seconds``, in the
background: a request never waits for the issuer, and a token naming an unknown ``kid`` is refused at
once, not a reason to fetch the set again. See docs/security.md.

Keys for local use and the key-management commands::

    python -m shared.jwks new --kid 2026-12 --private-key keys/2026-12.pem --jwks keys/jwks.json
    python -m shared.jwks retire --kid 2026-06 --jwks keys/jwks.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt import PyJWK, PyJWKClient, PyJWKSet

log = logging.getLogger("shared.jwks")

ALGORITHM = "RS256"


class IssuerKeys:
    """The issuer's current public keys, by ``kid``."""

    def __init__(self, source: str, refresh_seconds: float = 300.0) -> None:
        self.source = source
        self.refresh_seconds = refresh_seconds
        self._keys: dict[str, PyJWK] = {}
        self.load()

    @property
    def is_url(self) -> bool:
        return self.source.startswith(("https://", "http://"))

    def load(self) -> None:
        """Read the set now (raises when it cannot be read or holds no RS256 signing key)."""

        if self.is_url:
            keys = PyJWKClient(self.source, cache_jwk_set=False, cache_keys=False, timeout=10).get_jwk_set()
        else:
            keys = PyJWKSet.from_json(Path(self.source).read_text(encoding="utf-8"))
        usable = {
            key.key_id: key
            for key in keys.keys
            # RSA only: a symmetric ("oct") key in a public set must never verify a token.
            if key.key_id
            and key.key_type == "RSA"
            and key.algorithm_name == ALGORITHM
            and key.public_key_use in (None, "sig")
        }
        if not usable:
            raise ValueError(f"the JWKS at {self.source} holds no RS256 signing key with a kid")
        self._keys = usable

    @property
    def kids(self) -> list[str]:
        return sorted(self._keys)

    def key_for(self, token: str) -> Any:
        """The public key the token's header names (``kid``); raises jwt.InvalidTokenError when it names none
        of the issuer's current keys."""

        kid = jwt.get_unverified_header(token).get("kid")
        if not isinstance(kid, str) or kid not in self._keys:
            raise jwt.InvalidKeyError("the token's kid names none of the issuer's current keys")
        return self._keys[kid].key

    async def keep_fresh(self) -> None:
        """Reread the set every ``refresh_seconds`` (a failure keeps the keys held and is logged)."""

        while True:
            await asyncio.sleep(self.refresh_seconds)
            try:
                await asyncio.to_thread(self.load)
            except Exception as exc:
                log.warning(
                    "the issuer's keys could not be reread; keeping %s", self.kids, extra={"ctx_error": str(exc)[:300]}
                )


# ---- key management (the issuer's side) -------------------------------------------------------------


def _read_set(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"keys": []}
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def _write_private(path: Path, pem: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)


def new_key(kid: str, private_key: Path, jwks: Path) -> None:
    """A new RSA key: the private half to ``private_key`` (mode 600, never overwritten), the public half
    added to the set ``jwks`` beside the keys already there."""

    document = _read_set(jwks)
    if any(key.get("kid") == kid for key in document["keys"]):
        raise SystemExit(f"{jwks} already has a key {kid}")
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    _write_private(
        private_key,
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )
    public: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    public.update(kid=kid, use="sig", alg=ALGORITHM)
    document["keys"].append(public)
    jwks.parent.mkdir(parents=True, exist_ok=True)
    jwks.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def retire_key(kid: str, jwks: Path) -> None:
    """Remove a key from the set: tokens it signed are refused once the services have reread the set."""

    document = _read_set(jwks)
    kept = [key for key in document["keys"] if key.get("kid") != kid]
    if len(kept) == len(document["keys"]):
        raise SystemExit(f"{jwks} has no key {kid}")
    if not kept:
        raise SystemExit("refusing to remove the last key: add its successor first")
    jwks.write_text(json.dumps({**document, "keys": kept}, indent=2) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The token issuer's keys (RS256, a JWKS with a kid per key)")
    commands = parser.add_subparsers(dest="command", required=True)
    new = commands.add_parser("new", help="make a key pair and publish its public half in the JWKS")
    new.add_argument("--kid", required=True, help="the key's name, e.g. the month it starts signing: 2026-12")
    new.add_argument("--private-key", required=True, type=Path, help="where to write the private key (PEM, mode 600)")
    new.add_argument("--jwks", required=True, type=Path, help="the JWKS file the services read")
    retire = commands.add_parser("retire", help="remove a key from the JWKS (tokens it signed stop working)")
    retire.add_argument("--kid", required=True)
    retire.add_argument("--jwks", required=True, type=Path)
    args = parser.parse_args(argv)
    if args.command == "new":
        new_key(args.kid, args.private_key, args.jwks)
        print(f"key {args.kid}: private key in {args.private_key}, public key added to {args.jwks}")
    else:
        retire_key(args.kid, args.jwks)
        print(f"key {args.kid} removed from {args.jwks}")


if __name__ == "__main__":
    main()
