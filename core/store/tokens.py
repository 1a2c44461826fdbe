"""API tokens and what each may do: a role per project (or `*`, every project) and the server admin.

A token is shown once, when it is created; the database keeps only its SHA-256, so a copy of the
database does not let anyone in. Roles are ordered: each allows what the ones before it allow.

- read: see projects, workflows, sessions, attempts, tasks, schedules and logs
- run: start, retry and kill attempts; skip, backfill, enable and disable schedules
- write: push and delete the project
- admin: the project's secrets (list, set, delete)

A server admin has every role on every project. Data functions in the catalog's manner: they take a
connection and never commit.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from digpy.core.errors import ConfigError, Conflict, NotFound
from digpy.core.store import schema as s

ROLES = ("read", "run", "write", "admin")
EVERY_PROJECT = "*"
TOKEN_PREFIX = "digpy_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,254}$")


@dataclass(frozen=True)
class Principal:
    """Who a request comes from: a token's name, whether it is a server admin, and its roles by project."""

    name: str
    server_admin: bool = False
    grants: dict[str, str] = field(default_factory=dict)
    token_id: int | None = None

    def role(self, project: str | None) -> int:
        """The rank of the best role on `project` (None: no project in particular), -1 for none."""
        if self.server_admin:
            return len(ROLES) - 1
        ranks = [ROLES.index(r) for p, r in self.grants.items() if p == EVERY_PROJECT or p == project
                 or project is None]
        return max(ranks, default=-1)

    def allows(self, role: str, project: str | None) -> bool:
        return self.role(project) >= ROLES.index(role)

    def everywhere(self, role: str) -> bool:
        """Whether `role` is allowed on every project (a server admin, or a grant on `*`)."""
        if self.server_admin:
            return True
        granted = self.grants.get(EVERY_PROJECT)
        return granted is not None and ROLES.index(granted) >= ROLES.index(role)


ANYONE = Principal("anonymous", server_admin=True)  # the loopback mode: no tokens, everyone may do everything


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ConfigError(f"unknown role '{role}'", hint=f"roles are {', '.join(ROLES)}")
    return role


def create(conn: Connection, name: str, *, server_admin: bool, grants: dict[str, str], now: float) -> str:
    """A new token named `name` (no other live token may have that name); returns the token itself."""
    if not _NAME.match(name):
        raise ConfigError(f"token name '{name}' is not valid",
                          hint="use letters, digits and _ . @ - (at most 255), starting with a letter or digit")
    if not server_admin and not grants:
        raise ConfigError(f"token '{name}' would allow nothing",
                          hint="give --admin, or --project NAME --role ROLE (NAME may be '*' for every project)")
    for role in grants.values():
        check_role(role)
    if conn.execute(select(s.api_tokens.c.id).where(s.api_tokens.c.name == name,
                                                    s.api_tokens.c.revoked_at.is_(None))).first():
        raise Conflict(f"a token named '{name}' exists", hint=f"revoke it first with `digpy token revoke {name}`")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    key = conn.execute(insert(s.api_tokens).values(
        name=name, token_hash=hash_token(token), server_admin=server_admin, created_at=now)).inserted_primary_key
    assert key is not None
    token_id = key[0]
    for project, role in grants.items():
        conn.execute(insert(s.token_grants).values(token_id=token_id, project=project, role=role))
    return token


def listing(conn: Connection, *, include_revoked: bool = False) -> list[dict[str, Any]]:
    """Every token (never its hash) with its grants, oldest first."""
    query = select(s.api_tokens.c.id, s.api_tokens.c.name, s.api_tokens.c.server_admin, s.api_tokens.c.created_at,
                   s.api_tokens.c.last_used_at, s.api_tokens.c.revoked_at).order_by(s.api_tokens.c.id)
    if not include_revoked:
        query = query.where(s.api_tokens.c.revoked_at.is_(None))
    rows = [dict(r._mapping) for r in conn.execute(query)]
    grants: dict[int, dict[str, str]] = {}
    for g in conn.execute(select(s.token_grants)):
        grants.setdefault(g.token_id, {})[g.project] = g.role
    for row in rows:
        row["grants"] = grants.get(row["id"], {})
    return rows


def revoke(conn: Connection, name: str, now: float) -> None:
    found = conn.execute(update(s.api_tokens).where(s.api_tokens.c.name == name, s.api_tokens.c.revoked_at.is_(None))
                         .values(revoked_at=now)).rowcount
    if not found:
        raise NotFound(f"no live token named '{name}'", hint="`digpy token list` shows them")


def any_live(conn: Connection) -> bool:
    return bool(conn.execute(select(func.count()).select_from(s.api_tokens)
                             .where(s.api_tokens.c.revoked_at.is_(None))).scalar())


def lookup(conn: Connection, token: str) -> Principal | None:
    """The live token's principal, or None."""
    row = conn.execute(select(s.api_tokens).where(s.api_tokens.c.token_hash == hash_token(token),
                                                  s.api_tokens.c.revoked_at.is_(None))).first()
    if row is None:
        return None
    grants = {g.project: g.role for g in conn.execute(select(s.token_grants).where(s.token_grants.c.token_id == row.id))}
    return Principal(row.name, bool(row.server_admin), grants, row.id)


def touch(conn: Connection, token_id: int, now: float) -> None:
    conn.execute(update(s.api_tokens).where(s.api_tokens.c.id == token_id).values(last_used_at=now))


def remove_grants(conn: Connection, token_id: int) -> None:
    conn.execute(delete(s.token_grants).where(s.token_grants.c.token_id == token_id))


_OWNERS = {"project": s.projects, "attempt": s.attempts, "session": s.sessions, "schedule": s.schedules,
           "workflow": s.workflow_definitions}


def project_of(conn: Connection, kind: str, resource_id: int) -> str | None:
    """The name of the project a resource (a project, attempt, session, schedule or workflow
    definition) belongs to, also once the project is deleted; None if there is no such resource."""
    p = s.projects
    name = func.coalesce(p.c.name, p.c.deleted_name)
    if kind == "project":
        return conn.execute(select(name).where(p.c.id == resource_id)).scalar()
    table = _OWNERS[kind]
    return conn.execute(select(name).select_from(table.join(p, p.c.id == table.c.project_id))
                        .where(table.c.id == resource_id)).scalar()
