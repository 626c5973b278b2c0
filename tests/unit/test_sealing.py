"""Facts sealed for one reader (shared.sealing): only its keys open them, a rotation keeps older events readable,
and the registry and the office refuse to start in production without their own keys."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet

from shared import sealing
from shared.sealing import SealBroken, configure, open_sealed, seal


@pytest.fixture(autouse=True)
def _development_keys_again() -> Iterator[None]:
    yield
    configure("registry", "", "test")


def test_only_the_office_keys_open_the_address_sealed_for_it():
    office_key, other_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    configure("registry", office_key, "production")
    sealed = seal({"address": "哈尔滨市道里区测试街1号"})
    assert set(sealed) == {"office"} and "测试街" not in sealed["office"]
    configure("office", office_key, "production")
    assert open_sealed(sealed, "office") == {"address": "哈尔滨市道里区测试街1号"}
    assert open_sealed(sealed, "medical") == {}  # nothing is sealed for a bureau
    configure("office", other_key, "production")
    with pytest.raises(SealBroken):
        open_sealed(sealed, "office")


def test_an_altered_seal_does_not_open():
    sealed = seal({"address": "哈尔滨市道里区测试街1号"})
    token = sealed["office"]
    altered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    with pytest.raises(SealBroken):
        open_sealed({"office": altered}, "office")


def test_after_a_rotation_new_events_are_sealed_with_the_new_key_and_old_ones_still_open():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    configure("registry", old, "production")
    before = seal({"address": "旧址1号"})
    configure("registry", f"{new},{old}", "production")
    after = seal({"address": "新址2号"})
    configure("office", f"{new},{old}", "production")
    assert open_sealed(before, "office") == {"address": "旧址1号"}  # a replay of older events still reads
    configure("office", new, "production")
    assert open_sealed(after, "office") == {"address": "新址2号"}
    with pytest.raises(SealBroken):
        open_sealed(before, "office")  # the old key retired: what it sealed is forgotten


@pytest.mark.parametrize("service", ["registry", "office"])
def test_the_key_holders_refuse_to_start_in_production_without_their_own_keys(service):
    for configured in ("", sealing.DEVELOPMENT_SEAL_KEY):
        with pytest.raises(RuntimeError, match=f"{service.upper()}_SEAL_KEYS"):
            configure(service, configured, "production")
    with pytest.raises(RuntimeError, match="not a list of Fernet keys"):
        configure(service, "not-a-key", "production")


def test_a_bureau_needs_no_seal_keys():
    configure("medical", "", "production")  # it never opens a seal: it starts without keys
