"""API tokens in the store (SQLite and PostgreSQL): only a hash is kept, roles are ordered, revoked
tokens are refused, and a resource's project is found for the permission check."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import insert, select

from digpy.core.errors import ConfigError, Conflict, NotFound
from digpy.core.store import schema as s
from digpy.core.store import tokens
from digpy.core.store.tokens import Principal


def test_a_token_is_stored_hashed_and_found_until_revoked(store):
    with store.begin() as conn:
        assert not tokens.any_live(conn)
        token = tokens.create(conn, "ci", server_admin=False, grants={"etl": "run", "*": "read"}, now=time.time())
    assert token.startswith("digpy_") and len(token) > 40
    with store.begin() as conn:
        stored = [r.token_hash for r in conn.execute(select(s.api_tokens))]
        assert stored == [tokens.hash_token(token)] and token not in stored
        found = tokens.lookup(conn, token)
        assert found is not None and found.name == "ci" and found.grants == {"etl": "run", "*": "read"}
        assert tokens.lookup(conn, token + "x") is None
        with pytest.raises(Conflict, match="a token named 'ci' exists"):
            tokens.create(conn, "ci", server_admin=True, grants={}, now=0)
    with store.begin() as conn:
        tokens.revoke(conn, "ci", time.time())
    with store.begin() as conn:
        assert tokens.lookup(conn, token) is None and not tokens.any_live(conn)
        assert [r["name"] for r in tokens.listing(conn, include_revoked=True)] == ["ci"]
        assert tokens.listing(conn) == []
        with pytest.raises(NotFound):
            tokens.revoke(conn, "ci", time.time())


def test_bad_tokens_are_refused_before_anything_is_stored(store):
    with store.begin() as conn:
        with pytest.raises(ConfigError, match="would allow nothing"):
            tokens.create(conn, "x", server_admin=False, grants={}, now=0)
        with pytest.raises(ConfigError, match="unknown role 'owner'"):
            tokens.create(conn, "x", server_admin=False, grants={"p": "owner"}, now=0)
        with pytest.raises(ConfigError, match="not valid"):
            tokens.create(conn, "has space", server_admin=True, grants={}, now=0)
        assert not tokens.any_live(conn)


def test_the_project_of_each_kind_of_resource(store):
    with store.begin() as conn:
        pid = conn.execute(insert(s.projects).values(name="etl", created_at=0, updated_at=0)).inserted_primary_key[0]
        assert tokens.project_of(conn, "project", pid) == "etl"
        assert tokens.project_of(conn, "project", pid + 1) is None
        assert tokens.project_of(conn, "attempt", 12345) is None


def test_roles_are_ordered_per_project():
    ci = Principal("ci", grants={"etl": "run", "*": "read"})
    assert ci.allows("run", "etl") and ci.allows("read", "etl") and not ci.allows("write", "etl")
    assert ci.allows("read", "other") and not ci.allows("run", "other")
    assert ci.allows("run", None), "None: on some project (a listing, a resource that does not exist)"
    assert ci.everywhere("read") and not ci.everywhere("run")
    admin = Principal("root", server_admin=True)
    assert admin.allows("admin", "anything") and admin.everywhere("admin")
    nobody = Principal("n")
    assert not nobody.allows("read", None)
