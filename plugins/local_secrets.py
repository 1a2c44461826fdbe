"""Secrets for local runs: AES-GCM encrypted in the user's config directory (`digpy secrets --local`).

Files: `secret.key` (a random 256-bit key, readable by the user only) and `secrets.json` (each
value encrypted with its own nonce; the key name is authenticated data, so a value cannot be
moved to another name). The directory is `$DIGPY_CONFIG_DIR`, else `$XDG_CONFIG_HOME/digpy`, else
`~/.config/digpy`.
"""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path
from typing import Any

from digpy.core.spi import ConfigError, hookimpl

KEY_PATTERN = re.compile(r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$")
MAX_KEY_LENGTH = 255
MAX_VALUE_BYTES = 16 * 1024


def config_dir() -> Path:
    explicit = os.environ.get("DIGPY_CONFIG_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "digpy"


def check_key(key: str) -> None:
    if len(key) > MAX_KEY_LENGTH or not KEY_PATTERN.match(key):
        raise ConfigError(f"invalid secret key '{key}'",
                          hint="use letters, digits, _ and -, in dot-separated parts (e.g. pg.password)")


class LocalSecretStore:
    """The encrypted local secret file."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or config_dir()
        self.key_file = self.directory / "secret.key"
        self.data_file = self.directory / "secrets.json"

    def _load(self) -> dict[str, str]:
        if not self.data_file.exists():
            return {}
        try:
            data = json.loads(self.data_file.read_text(encoding="utf-8"))
        except ValueError:
            raise ConfigError(f"{self.data_file} is not valid JSON; restore it or delete it") from None
        return data if isinstance(data, dict) else {}

    def _save(self, data: dict[str, str]) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = self.data_file.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, sort_keys=True)
        os.replace(temporary, self.data_file)  # never a half-written file

    def _cipher(self, create: bool) -> Any:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # only when secrets are used

        if not self.key_file.exists():
            if not create:
                return None
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(base64.b64encode(AESGCM.generate_key(bit_length=256)).decode() + "\n")
        return AESGCM(base64.b64decode(self.key_file.read_text().strip()))

    def set(self, key: str, value: str) -> None:
        check_key(key)
        raw = value.encode("utf-8")
        if len(raw) > MAX_VALUE_BYTES:
            raise ConfigError(f"secret '{key}' is {len(raw)} bytes; the limit is {MAX_VALUE_BYTES}")
        cipher = self._cipher(create=True)
        assert cipher is not None
        nonce = os.urandom(12)
        data = self._load()
        data[key] = base64.b64encode(nonce + cipher.encrypt(nonce, raw, key.encode())).decode()
        self._save(data)

    def delete(self, key: str) -> bool:
        data = self._load()
        if key not in data:
            return False
        del data[key]
        self._save(data)
        return True

    def keys(self) -> list[str]:
        return sorted(self._load())

    def get(self, key: str) -> str | None:
        blob = self._load().get(key)
        if blob is None:
            return None
        cipher = self._cipher(create=False)
        if cipher is None:
            raise ConfigError(f"the key file {self.key_file} is missing; the local secrets can't be read")
        from cryptography.exceptions import InvalidTag

        raw = base64.b64decode(blob)
        try:
            return cipher.decrypt(raw[:12], raw[12:], key.encode()).decode("utf-8")
        except InvalidTag:
            raise ConfigError(f"secret '{key}' does not decrypt with {self.key_file}") from None


class LocalSecretProvider:
    name = "local"

    def __init__(self) -> None:
        self.store = LocalSecretStore()

    def get(self, key: str, *, project: str | None) -> str | None:
        return self.store.get(key)


@hookimpl
def digpy_register_secret_providers() -> list[LocalSecretProvider]:
    return [LocalSecretProvider()]
