"""The sealing mapper (infra/sealing.py) on both stores: what it seals, what it opens, and
what it refuses to open."""

from typing import Any
from uuid import uuid4

import pytest

from domain.actor import SYSTEM, current_actor
from domain.child import Child
from domain.personal import ERASED
from infra.sealing import ErasedSubject
from infra.services import Services

PROFILE = {"name": "李秘密", "id_number": "522601201403051228", "birth_date": "2014-03-05",
           "school": "白沙关小学", "class_name": "六(2)班", "township": "白沙关镇",
           "village": "白沙关村"}
GUARDIAN = {"name": "李奶奶", "relation": "祖母", "phone": "13800001111", "age": 67}


def registered(services: Services) -> Child:
    token = current_actor.set(SYSTEM)
    try:
        child = Child.register(dict(PROFILE), dict(GUARDIAN), [], child_id=uuid4())
    finally:
        current_actor.reset(token)
    return child


def stored_registration(services: Services, child: Child) -> tuple[Any, Any]:
    """Saved through the application (its key commits with it), read back as stored."""
    event = child.pending_events[0]
    services.app.save(child)
    return services.app.recorder.select_events(child.id)[0], event


def test_personal_strings_are_sealed_and_the_rest_is_clear(services: Services) -> None:
    stored, event = stored_registration(services, registered(services))
    state = stored.state.decode()
    assert "李秘密" not in state and "13800001111" not in state and "李奶奶" not in state
    assert "白沙关小学" in state and "2014-03-05" in state and '"age":67' in state
    opened = services.app.mapper.to_domain_event(stored)
    assert opened.profile == event.profile and opened.guardian == event.guardian
    assert event.profile["name"] == "李秘密"  # the event itself was not changed in place


def test_a_sealed_value_moved_to_another_aggregate_does_not_open(services: Services) -> None:
    first, _ = stored_registration(services, registered(services))
    second, _ = stored_registration(services, registered(services))
    text = first.state.decode()
    sealed = text.split('"name":"', 1)[1].split('"', 1)[0]
    moved = second.state.decode().replace(second.state.decode().split('"name":"', 1)[1]
                                          .split('"', 1)[0], sealed, 1)
    forged = type(second)(originator_id=second.originator_id,
                          originator_version=second.originator_version, topic=second.topic,
                          state=moved.encode())
    assert services.app.mapper.to_domain_event(forged).profile["name"] == ERASED


def test_values_stored_before_sealing_read_as_they_were(services: Services) -> None:
    stored, _ = stored_registration(services, registered(services))
    clear = stored.state.decode()
    name = clear.split('"name":"', 1)[1].split('"', 1)[0]
    legacy = type(stored)(originator_id=stored.originator_id,
                          originator_version=stored.originator_version, topic=stored.topic,
                          state=clear.replace(name, "王旧档", 1).encode())
    assert services.app.mapper.to_domain_event(legacy).profile["name"] == "王旧档"


def test_after_shredding_values_read_erased_and_nothing_more_is_sealed(
        services: Services) -> None:
    child = registered(services)
    stored, _ = stored_registration(services, child)
    assert services.app.keys.shred_now(str(child.id)) == 1
    opened = services.app.mapper.to_domain_event(stored)
    assert opened.profile["name"] == ERASED and opened.guardian["phone"] == ERASED
    assert opened.guardian["age"] == 67 and opened.profile["birth_date"] == "2014-03-05"
    assert opened.profile["school"] == "白沙关小学"
    token = current_actor.set(SYSTEM)
    try:
        child.replace_guardian(dict(GUARDIAN))
    finally:
        current_actor.reset(token)
    with pytest.raises(ErasedSubject):
        services.app.save(child)


def test_each_aggregate_has_its_own_key(services: Services) -> None:
    a, b = registered(services), registered(services)
    stored_registration(services, a)
    stored_registration(services, b)
    assert services.app.keys.shred_now(str(a.id)) == 1
    assert services.app.keys.for_reading(str(b.id)) is not None


def test_the_key_cache_holds_secrets_and_a_batch_reads_its_keys_at_once(
        services: Services) -> None:
    """The cache keeps 32-byte secrets (an AESGCM object holds 2.4 KB of OpenSSL memory
    that the soak saw grow); the runner's prefetch opens a whole batch's keys in one read,
    and what it opens decodes as one read per key would."""
    from infra.sealing import CIPHERS, _cipher
    children = [registered(services) for _ in range(5)]
    for child in children:
        services.app.save(child)
    keys = services.app.mapper.keys
    keys._cache.clear()
    stored = [services.app.recorder.select_events(c.id)[0] for c in children]
    services.app.mapper.prefetch_keys(stored)
    assert {str(c.id) for c in children} <= set(keys._cache)
    assert all(isinstance(secret, bytes) and len(secret) == 32
               for secret, _ in keys._cache.values())
    assert [services.app.mapper.to_domain_event(s).profile["name"] for s in stored] == \
        ["李秘密"] * 5
    assert _cipher.cache_info().maxsize == CIPHERS


def test_a_key_past_its_time_leaves_the_cache(services: Services,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """An entry older than KEY_TTL_SECONDS would be read again anyway: the next key to come
    in pushes it out, so a server's cache holds the last few seconds' keys, not 20,000."""
    import infra.sealing as sealing
    first, second = registered(services), registered(services)
    services.app.save(first, second)
    keys = services.app.mapper.keys
    keys._cache.clear()
    clock = [1000.0]
    monkeypatch.setattr(sealing.time, "monotonic", lambda: clock[0])
    assert keys.for_reading(str(first.id)) is not None
    assert set(keys._cache) == {str(first.id)}
    clock[0] += sealing.KEY_TTL_SECONDS
    assert keys.for_reading(str(second.id)) is not None
    assert set(keys._cache) == {str(second.id)}
    assert keys.for_reading(str(first.id)) is not None  # read again from the table
