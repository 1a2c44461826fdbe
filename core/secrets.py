"""Secret values at rest: one AES-GCM box for the local secret file and the server's database.

A value is encrypted with a random 96-bit nonce and the secret's key name as authenticated data, so
a value cannot be moved to another name. The key (128, 192 or 256 bits) is kept base64-encoded in
a file readable by its owner only, created on first use. The `cryptography` package is imported
only when a secret is used (local runs without secrets never pay for it).
"""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path

from digpy.core.errors import ConfigError

KEY_PATTERN = re.compile(r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$")
MAX_KEY_LENGTH = 255
MAX_VALUE_BYTES = 16 * 1024


def check_key(key: str) -> None:
    """A secret's name: letters, digits, _ and -, in dot-separated parts (`pg.password`)."""
    if len(key) > MAX_KEY_LENGTH or not KEY_PATTERN.match(key):
        raise ConfigError(f"invalid secret key '{key}'",
                          hint="use letters, digits, _ and -, in dot-separated parts (e.g. pg.password)")


def check_value(key: str, value: str) -> bytes:
    raw = value.encode("utf-8")
    if len(raw) > MAX_VALUE_BYTES:
        raise ConfigError(f"secret '{key}' is {len(raw)} bytes; the limit is {MAX_VALUE_BYTES}")
    return raw


class SecretBox:
    """Encrypts and decrypts secret values with one key; `where` names the key in errors."""

    def __init__(self, key: bytes, where: str = "this key") -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if len(key) not in (16, 24, 32):
            raise ConfigError("the secret encryption key must be 128, 192 or 256 bits (base64)")
        self.cipher = AESGCM(key)
        self.where = where

    @classmethod
    def from_base64(cls, text: str, where: str = "this key") -> SecretBox:
        try:
            return cls(base64.b64decode(text.strip(), validate=True), where)
        except ValueError:
            raise ConfigError("the secret encryption key is not valid base64") from None

    @classmethod
    def from_key_file(cls, path: Path, *, create: bool = True) -> SecretBox:
        """The key in `path`, created (random, 256 bits, mode 0600, its directory 0700) if missing."""
        if not path.exists():
            if not create:
                raise ConfigError(f"the key file {path} is missing; the secrets encrypted with it can't be read")
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(base64.b64encode(AESGCM.generate_key(bit_length=256)).decode() + "\n")
        return cls.from_base64(path.read_text(), str(path))

    def encrypt(self, key: str, value: str) -> str:
        nonce = os.urandom(12)
        sealed = self.cipher.encrypt(nonce, check_value(key, value), key.encode())
        return base64.b64encode(nonce + sealed).decode()

    def decrypt(self, key: str, blob: str) -> str:
        from cryptography.exceptions import InvalidTag

        raw = base64.b64decode(blob)
        try:
            return str(self.cipher.decrypt(raw[:12], raw[12:], key.encode()).decode("utf-8"))
        except InvalidTag:
            raise ConfigError(f"secret '{key}' does not decrypt with {self.where}") from None




__all__ = ["KEY_PATTERN", "MAX_KEY_LENGTH", "MAX_VALUE_BYTES", "SecretBox", "check_key", "check_value"]
