"""A DAG's `secrets` (Dagu 1.30): variables whose values come from outside the file, read when
each step runs and masked in its output — `_env` values `{from_env: VAR}` and `{from_file: PATH}`
of the engine (digpy.core.engine.context)."""

from __future__ import annotations

import posixpath

from digpy.core.errors import ConfigError
from digpy.core.language.dagu.common import is_name
from digpy.core.language.dagu.schema import normalized
from digpy.core.language.dagu.variables import Scope
from digpy.core.workflow.located import ConfigMap, key_location, value_location

PROVIDERS = ("env", "file")
PROVIDERS_NOT_YET = ("vault", "aws", "gcp", "azure", "alibaba", "kubernetes", "k8s", "onepassword", "doppler")


def read_secrets(dag: ConfigMap, scope: Scope) -> dict[str, dict[str, str]]:
    """`secrets: [{name, provider, key}]` → the `_env` entries of every step (name → where from)."""
    value = dag.get("secrets")
    loc = value_location(dag, "secrets")
    if value is None:
        return {}
    if not isinstance(value, list):
        raise ConfigError("secrets must be a list of {name, provider, key}", location=loc)
    workdir = dag.get("workingDir")
    out: dict[str, dict[str, str]] = {}
    for item in value:
        where = getattr(item, "loc", None) or loc
        entry = normalized(item, "secret", ("name", "provider", "key"), ("options",), where)
        name, provider, key = entry.get("name"), entry.get("provider"), entry.get("key")
        if not isinstance(name, str) or not is_name(name):
            raise ConfigError("a secret needs a name that is a variable name, such as API_TOKEN",
                              location=value_location(entry, "name") if "name" in entry else where)
        if name in out:
            raise ConfigError(f"secret {name} is given twice", location=key_location(entry, "name"))
        if name in scope.env or name in scope.params:
            raise ConfigError(f"secret {name} has the name of one of the DAG's {'env' if name in scope.env else 'params'}",
                              location=value_location(entry, "name"), hint="give the secret a name of its own")
        if provider in PROVIDERS_NOT_YET:
            raise ConfigError(f"secret {name}: the {provider} provider is not supported yet by digpy",
                              location=value_location(entry, "provider"),
                              hint="use env or file, or store it with `digpy secrets` and read ${secret:KEY} in .dig")
        if provider not in PROVIDERS:
            raise ConfigError(f"secret {name}: provider must be env or file, not {provider!r}",
                              location=value_location(entry, "provider") if "provider" in entry else where)
        if not isinstance(key, str) or not key.strip():
            raise ConfigError(f"secret {name} needs a key (the environment variable, or the file's path)",
                              location=value_location(entry, "key") if "key" in entry else where)
        if provider == "env":
            if key in scope.env or key in scope.params:
                raise ConfigError(
                    f"secret {name} reads {key}, which this DAG sets itself; digpy reads an env secret from the "
                    "environment digpy runs in", location=value_location(entry, "key"),
                    hint="set it in that environment (on a server: the server's), or use the file provider")
            out[name] = {"from_env": key}
        else:
            base = workdir if isinstance(workdir, str) and "$" not in workdir else ""
            out[name] = {"from_file": posixpath.join(base, key)}  # (an absolute key stays as it is)
    return out
