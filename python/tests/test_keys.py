"""API keys: create, verify, list, revoke, scopes, origins, expiry, sub-tenants."""

from datetime import datetime, timedelta, timezone

import pytest

from llmemory import KeyScope, PermissionError, ValidationError, owner_covers


def test_create_verify_list_revoke(mem, tenant):
    k = mem.create_api_key(tenant, scope="read", origin="doc-1", name="reader",
                           expires_at=datetime.now(timezone.utc) + timedelta(days=1))
    assert k.key.startswith("lmk_" + k.key_id + "_") and len(k.key) == 85
    assert k.created_at is not None and k.expires_at > k.created_at
    p = mem.verify_api_key(k.key)
    assert (p.owner_id, p.origin, p.scope, p.allow_subtenants) == (tenant, "doc-1",
                                                                   KeyScope.READ, False)
    keys = mem.list_api_keys(tenant)
    assert [x.key_id for x in keys] == [k.key_id]
    assert keys[0].name == "reader" and keys[0].revoked_at is None and keys[0].origin == "doc-1"
    mem.revoke_api_key(k.key_id, owner_id=tenant)
    mem.revoke_api_key(k.key_id)  # again: changes nothing
    with pytest.raises(PermissionError) as e:
        mem.verify_api_key(k.key)
    assert "revoked" in e.value.message
    assert mem.list_api_keys(tenant)[0].revoked_at is not None


def test_wrong_secret_is_refused_like_an_unknown_key(mem, tenant):
    k = mem.create_api_key(tenant)
    wrong = k.key[:-1] + ("0" if k.key[-1] != "0" else "1")
    with pytest.raises(PermissionError) as a:
        mem.verify_api_key(wrong)
    with pytest.raises(PermissionError) as b:
        mem.verify_api_key("garbage")
    assert a.value.message == b.value.message == "invalid API key"
    assert mem.verify_api_key(k.key).scope is KeyScope.WRITE


def test_sub_tenant_keys(mem, tenant):
    k = mem.create_api_key(tenant, scope=KeyScope.ADMIN, allow_subtenants=True)
    mem.create_api_key(tenant + "/ws", scope="write")
    assert mem.verify_api_key(k.key).allow_subtenants
    assert len(mem.list_api_keys(tenant)) == 1
    assert len(mem.list_api_keys(tenant, with_subtenants=True)) == 2
    assert any(x.owner_id == tenant for x in mem.list_api_keys(None))
    assert owner_covers(tenant, tenant + "/ws") and owner_covers(tenant, tenant)
    assert not owner_covers(tenant + "/ws", tenant) and not owner_covers(tenant, tenant + "x")


@pytest.mark.parametrize("kwargs,field", [
    (dict(scope="superuser"), "scope"),
    (dict(expires_at="2001-01-01T00:00:00Z"), "expires_at"),
    (dict(origin="bad origin"), "origin"),
    (dict(name=""), "name"),
])
def test_bad_key_options(mem, tenant, kwargs, field):
    with pytest.raises(ValidationError) as e:
        mem.create_api_key(tenant, **kwargs)
    assert e.value.field == field
    assert mem.list_api_keys(tenant) == []
