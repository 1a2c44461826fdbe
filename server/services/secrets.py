"""Project secrets on the server: keys listed, values set and deleted, never read back."""

from __future__ import annotations

from typing import Any

from digpy.core.errors import NotFound
from digpy.core.secrets import SecretBox, check_key, check_value
from digpy.core.store import catalog
from digpy.core.store.server import ServerStore
from digpy.server import rest


def keys(store: ServerStore, project_id: int) -> list[str]:
    with store.begin() as conn:
        project_id = catalog.get_project(conn, project_id)["id"]
        return catalog.secret_keys(conn, project_id)


def put(store: ServerStore, box: SecretBox, project_id: int, key: str, value: str) -> dict[str, Any]:
    check_key(key)
    check_value(key, value)
    with store.begin() as conn:
        project = catalog.get_project(conn, project_id)
        catalog.put_secret(conn, project["id"], key, box.encrypt(key, value))
    return rest.project_secret(key, project)


def delete(store: ServerStore, project_id: int, key: str) -> dict[str, Any]:
    check_key(key)
    with store.begin() as conn:
        project = catalog.get_project(conn, project_id)
        if not catalog.delete_secret(conn, project["id"], key):
            raise NotFound(f"secret '{key}' not found")
    return rest.project_secret(key, project)
