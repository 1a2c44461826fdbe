"""Secrets for local runs: AES-GCM encrypted in the user's config directory (`digpy secrets --local`).

Files: `secret.key` (a random 256-bit key, readable by the user only) and `secrets.json` (each value
encrypted by digpy.core.secrets.SecretBox). The directory is `$DIGPY_CONFIG_DIR`, else
`$XDG_CONFIG_HOME/digpy`, else `~/.config/digpy`. Registered as a default plugin (its provider is
asked first, and only by local runs: `local_only`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from digpy.core.errors import ConfigError
from digpy.core.spi import hookimpl


def config_dir() -> Path:
    explicit = os.environ.get("DIGPY_CONFIG_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "digpy"


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

    def set(self, key: str, value: str) -> None:
        from digpy.core.secrets import SecretBox, check_key, check_value

        check_key(key)
        check_value(key, value)
        data = self._load()
        data[key] = SecretBox.from_key_file(self.key_file).encrypt(key, value)
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
        from digpy.core.secrets import SecretBox  # only when a secret is used

        return SecretBox.from_key_file(self.key_file, create=False).decrypt(key, blob)


class LocalSecretProvider:
    name = "local"
    local_only = True  # the user's own secrets: never given to a server's attempts

    def __init__(self) -> None:
        self.store = LocalSecretStore()

    def get(self, key: str, *, project: str | None) -> str | None:
        return self.store.get(key)


@hookimpl
def digpy_register_secret_providers() -> list[LocalSecretProvider]:
    return [LocalSecretProvider()]
