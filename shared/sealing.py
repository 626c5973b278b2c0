"""Facts sealed for one reader inside a broadcast event.

The registry announces each household change once, on ``registry.households``, which every bureau and the
office read. A fact only one of them needs is not given to all: it travels sealed (encrypted and authenticated,
Fernet: AES-128-CBC with HMAC-SHA256) with a key only the registry and that reader hold. So the topic keeps one
event per household and change (no second event, no second topic to order against the first), and a replay of
the topic rebuilds the reader's copy as long as it keeps its keys.

Today one reader has sealed facts: the office, the address (the street of its list of unserved households; no
bureau reads an address). Keys are ``<SERVICE>_SEAL_KEYS`` on the registry and the office, comma-separated
Fernet keys: the first seals, every one opens, so a new key is put first and the old ones stay for the events
sealed with them (docs/security.md, "Sealed facts"). Forgetting every key that sealed an event makes its sealed
facts unreadable for good, on every copy of the topic.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from shared.events import PoisonMessage

# Who reads sealed facts, and which: the reader's service name → the household fields sealed for it.
SEALED_FOR: dict[str, frozenset[str]] = {"office": frozenset({"address"})}
# The services that need the keys: the registry seals, the readers open.
KEY_HOLDERS = frozenset({"registry", *SEALED_FOR})
# Only for development and tests: a service in production refuses to start with it (or with none).
DEVELOPMENT_SEAL_KEY = "aGFyYmluLWRldmVsb3BtZW50LXNlYWwta2V5LTAwMDA="


class SealBroken(PoisonMessage):
    """Sealed facts this service cannot open: sealed with a key it does not hold, or altered. Retrying cannot
    help: the event goes to the dead-letter topic, to be requeued once the keys are right (docs/runbook.md)."""


def _keys(configured: str) -> MultiFernet:
    return MultiFernet([Fernet(key.strip().encode()) for key in configured.split(",") if key.strip()])


_sealer = _keys(DEVELOPMENT_SEAL_KEY)


def configure(service: str, configured: str, environment: str) -> None:
    """Use the service's keys (``<SERVICE>_SEAL_KEYS``) from now on; in production the registry and the
    readers refuse to start without their own."""

    global _sealer
    keys = [key.strip() for key in configured.split(",") if key.strip()]
    if service in KEY_HOLDERS and environment == "production" and (not keys or DEVELOPMENT_SEAL_KEY in keys):
        raise RuntimeError(
            f"refusing to start in production without {service.upper()}_SEAL_KEYS: the Fernet key(s) of the facts "
            "the registry seals for the office (python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'), the same on the registry and the office"
        )
    try:
        _sealer = _keys(",".join(keys) or DEVELOPMENT_SEAL_KEY)
    except ValueError as exc:
        raise RuntimeError(f"{service.upper()}_SEAL_KEYS: not a list of Fernet keys ({exc})") from None


def seal(facts: dict[str, Any]) -> dict[str, str]:
    """The ``sealed`` field of a household event: each reader's facts among ``facts``, sealed for it."""

    return {
        reader: _sealer.encrypt(json.dumps({name: facts[name] for name in sorted(names)}).encode()).decode()
        for reader, names in SEALED_FOR.items()
    }


def open_sealed(sealed: dict[str, str], reader: str) -> dict[str, Any]:
    """The facts sealed for ``reader`` (none when the event has none for it)."""

    token = sealed.get(reader)
    if token is None:
        return {}
    try:
        facts: dict[str, Any] = json.loads(_sealer.decrypt(token.encode()))
    except InvalidToken:
        raise SealBroken(f"facts sealed for {reader} do not open with this service's SEAL_KEYS") from None
    return {name: value for name, value in facts.items() if name in SEALED_FOR.get(reader, ())}
