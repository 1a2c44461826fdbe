"""Project secrets of the server: encrypted in the database (digpy.core.secrets), readable only by tasks."""

from __future__ import annotations

from typing import ClassVar

from digpy.core.secrets import SecretBox
from digpy.core.store import catalog
from digpy.core.store.server import ServerStore


class ProjectSecretProvider:
    """The SecretProvider of server attempts: the secrets of the attempt's project."""

    name: ClassVar[str] = "project"

    def __init__(self, store: ServerStore, box: SecretBox, project_id: int) -> None:
        self.store, self.box, self.project_id = store, box, project_id

    def get(self, key: str, *, project: str | None) -> str | None:
        with self.store.begin() as conn:
            blob = catalog.secret_value(conn, self.project_id, key)
        return None if blob is None else self.box.decrypt(key, blob)
