"""Project secrets of the server: AES-GCM encrypted in the database, readable only by tasks."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from digpy.core.errors import ConfigError
from digpy.core.store import catalog
from digpy.core.store.sql import Store


class SecretBox:
    """Encrypts and decrypts secret values; the key name is authenticated data."""

    def __init__(self, key: bytes) -> None:
        if len(key) not in (16, 24, 32):
            raise ConfigError("the secret encryption key must be 128, 192 or 256 bits (base64)")
        self.cipher = AESGCM(key)

    @classmethod
    def from_base64(cls, text: str) -> SecretBox:
        try:
            return cls(base64.b64decode(text.strip(), validate=True))
        except ValueError:
            raise ConfigError("the secret encryption key is not valid base64") from None

    @classmethod
    def from_key_file(cls, path: Path) -> SecretBox:
        """The key in `path`, created (random, 256 bits, mode 0600) if the file does not exist."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(base64.b64encode(AESGCM.generate_key(bit_length=256)).decode() + "\n")
        return cls.from_base64(path.read_text())

    def encrypt(self, key: str, value: str) -> str:
        nonce = os.urandom(12)
        return base64.b64encode(nonce + self.cipher.encrypt(nonce, value.encode("utf-8"), key.encode())).decode()

    def decrypt(self, key: str, blob: str) -> str:
        raw = base64.b64decode(blob)
        try:
            return self.cipher.decrypt(raw[:12], raw[12:], key.encode()).decode("utf-8")
        except InvalidTag:
            raise ConfigError(f"secret '{key}' does not decrypt with this server's key") from None


class ProjectSecretProvider:
    """The SecretProvider of server attempts: the secrets of the attempt's project."""

    name = "project"

    def __init__(self, store: Store, box: SecretBox, project_id: int) -> None:
        self.store, self.box, self.project_id = store, box, project_id

    def get(self, key: str, *, project: str | None) -> str | None:
        with self.store.conn.begin():
            blob = catalog.secret_value(self.store.conn, self.project_id, key)
        return None if blob is None else self.box.decrypt(key, blob)
