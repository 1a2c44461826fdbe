"""A Dagu step's executor (`executor: docker`, `executor: {type, config}`, or v1.30's `type` + `config`,
v2's `type` + `with`), read into what the step compiles to.

`shell` (the default) is `sh>`; `docker` is `sh>` run in a container of the image (the engine's
command executor: the project is mounted at its own path, the step's variables are set as for any
shell step; Docker's memory, CPU, shm and pids limits, the user and the platform are the `docker:`
option's); `http` is `http>` with the method and URL of `command`; `jq` is `jq>`; `mail` is `mail>`
(mail.py); `dag` runs the child DAG named in `command`. Every other type is a located "not yet".
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from digpy.core.errors import ConfigError, Location
from digpy.core.options import byte_size, whole_number
from digpy.core.workflow.located import ConfigMap, key_location, value_location

SHELL_TYPES = ("shell", "command")
CHILD_TYPES = ("dag", "subworkflow", "parallel")
NOT_YET = ("ssh", "sftp", "k8s", "kubernetes", "s3", "postgres", "sqlite", "redis",
           "archive", "template", "router", "chat", "agent", "harness", "noop", "gha", "github_action",
           "github-action", "hitl")
_MAIL_KEYS = ("from", "to", "subject", "message", "attachments")
_HTTP_KEYS = ("timeout", "headers", "query", "body", "silent")
_DOCKER_KEYS = ("image", "pull", "autoRemove", "auto_remove", "container", "host", "volumes", "platform",
                "workingDir", "working_dir")
_DOCKER_TWINS = (("autoRemove", "auto_remove"), ("workingDir", "working_dir"))
# Docker's container.Config and HostConfig fields digpy maps, folded (lower case, no underscores)
_CONTAINER_KEYS = ("env", "workingdir", "user")
_RESOURCE_KEYS = ("memory", "nanocpus", "cpuquota", "cpuperiod", "pidslimit")
_HOST_KEYS = ("networkmode", "binds", "autoremove", "shmsize", "resources", *_RESOURCE_KEYS)
_SPELLED = {"workingdir": "workingDir", "networkmode": "networkMode", "autoremove": "autoRemove",
            "shmsize": "shmSize", "memory": "memory", "nanocpus": "nanoCPUs", "cpuquota": "cpuQuota",
            "cpuperiod": "cpuPeriod", "pidslimit": "pidsLimit"}
_PLATFORM = re.compile(r"^[a-z0-9_]+/[a-z0-9_]+(?:/[a-z0-9_]+)?$")


class Executor(NamedTuple):
    kind: str  # "shell", "docker", "http", "jq", "mail" or "dag"
    docker: dict[str, Any] | None = None  # sh>'s `docker:` option
    env: dict[str, str] | None = None  # container env: set like the step's env
    workdir: str | None = None  # the container's working directory
    http: dict[str, Any] | None = None  # the http executor's config (its keys checked)
    raw: bool = False  # the jq executor's `raw`
    mail: dict[str, Any] | None = None  # the mail executor's config (its keys checked)


SHELL = Executor("shell")


def read_executor(step: ConfigMap) -> Executor:
    """The executor of a step (its `executor`, or its `type` with `config`/`with`)."""
    kind: Any
    config: Any
    if step.get("executor") is not None:
        value = step["executor"]
        loc = value_location(step, "executor")
        if isinstance(value, str):
            kind, config = value, {}
        elif isinstance(value, dict):
            unknown = [k for k in value if k not in ("type", "config")]
            if unknown:
                raise ConfigError(f"executor: unknown key '{unknown[0]}'", location=key_location(value, unknown[0]),
                                  hint="an executor has type and config")
            kind, config = value.get("type"), value.get("config") or {}
        else:
            raise ConfigError("executor must be a type (docker) or {type, config}", location=loc)
    elif step.get("type") is not None:
        kind, loc = step["type"], value_location(step, "type")
        config = step.get("config") if step.get("config") is not None else step.get("with") or {}
    else:
        for key in ("config", "with"):
            if step.get(key) is not None:
                raise ConfigError(f"{key} is the configuration of an executor: give the step a type",
                                  location=key_location(step, key))
        return SHELL
    if not isinstance(kind, str) or not kind:
        raise ConfigError("an executor type is a name such as docker", location=loc)
    if not isinstance(config, dict):
        raise ConfigError(f"the {kind} executor's config must be a mapping", location=loc)
    if kind in SHELL_TYPES:
        if config:
            raise ConfigError(f"the {kind} executor has no config", location=loc)
        return SHELL
    if kind in CHILD_TYPES:
        return Executor("dag")
    if kind == "docker":
        return _docker(config, loc)
    if kind == "http":
        _known(config, _HTTP_KEYS, "http executor config", loc)
        return Executor("http", http=dict(config))
    if kind == "jq":
        _known(config, ("raw",), "jq executor config", loc)
        if not isinstance(config.get("raw", False), bool):
            raise ConfigError("the jq executor's raw is true or false", location=loc)
        return Executor("jq", raw=config.get("raw", False))
    if kind == "mail":
        _known(config, _MAIL_KEYS, "mail executor config", loc)
        return Executor("mail", mail=dict(config))
    if kind in NOT_YET:
        raise ConfigError(f"the {kind} executor is not supported yet by digpy", location=loc,
                          hint="run the command with a shell step, or see docs/dagu.md")
    raise ConfigError(f"unknown executor type '{kind}'", location=loc,
                      hint="digpy runs shell (the default), docker, http, jq, mail and dag steps")


def _docker(config: dict[str, Any], loc: Location | None) -> Executor:
    _known(config, _DOCKER_KEYS, "docker executor config", loc)
    _once(config, _DOCKER_TWINS, "docker executor config")
    image = config.get("image")
    if not isinstance(image, str) or not image:
        raise ConfigError("the docker executor needs an image (digpy runs the step's command in it)", location=loc)
    pull = config.get("pull", "missing")
    pull = {True: "always", False: "never"}.get(pull, pull) if isinstance(pull, bool) else pull
    if pull not in ("missing", "always", "never"):
        raise ConfigError("docker pull must be true, false, missing, always or never", location=loc)
    docker: dict[str, Any] = {"image": image, "pull": pull}
    raw_container = config.get("container") or {}
    raw_host = config.get("host") or {}
    if not isinstance(raw_container, dict) or not isinstance(raw_host, dict):
        raise ConfigError("docker container and host are mappings", location=loc)
    # Docker's own structs, whose field names Dagu matches in any case (Memory, memory, ...)
    container = _folded(raw_container, _CONTAINER_KEYS, "docker container", loc)
    host = _folded(raw_host, _HOST_KEYS, "docker host", loc)
    resources = host.pop("resources", None)  # where Dagu 1.30 reads Docker's Resources (see docs/dagu.md)
    if resources is not None:
        if not isinstance(resources.value, dict):
            raise ConfigError("docker host.resources is a mapping", location=resources.at)
        for key, item in _folded(resources.value, _RESOURCE_KEYS, "docker host.resources", resources.at).items():
            if key in host:
                raise ConfigError(f"docker host: {item.key} is given twice (in host and in host.resources)",
                                  location=item.at)
            host[key] = item
    if "networkmode" in host:
        docker["network"] = str(host["networkmode"].value)
    _limits(host, docker)
    if "user" in container:
        user = container["user"]
        if not isinstance(user.value, str | int) or isinstance(user.value, bool) or not str(user.value).strip():
            raise ConfigError("docker container.user is a name or uid[:gid]", location=user.at)
        docker["user"] = str(user.value).strip()
    platform = config.get("platform")
    if platform is not None:
        if not isinstance(platform, str) or not _PLATFORM.match(platform.strip()):
            raise ConfigError(f"docker platform is os/arch[/variant] such as linux/amd64, got {platform!r}",
                              location=value_location(config, "platform") or loc)
        docker["platform"] = platform.strip()
    env: dict[str, str] = {}
    raw_env = container["env"].value if "env" in container else None
    for entry in ((raw_env or {}).items() if isinstance(raw_env, dict) else raw_env or []):
        key, value = entry if isinstance(entry, tuple) else (str(entry).partition("=")[0],
                                                              str(entry).partition("=")[2])
        env[str(key)] = "" if value is None else str(value)
    binds = host["binds"].value if "binds" in host else None
    volumes = [*(config.get("volumes") or []), *(binds or [])]  # v2's volumes, v1's host.binds
    if volumes:
        if not all(isinstance(v, str) and len(v.split(":")) in (2, 3) for v in volumes):
            raise ConfigError("docker volumes are a list of host:container[:ro]", location=loc)
        docker["volumes"] = volumes
    workdir = container["workingdir"].value if "workingdir" in container else \
        config.get("workingDir", config.get("working_dir"))
    return Executor("docker", docker=docker, env=env, workdir=None if workdir is None else str(workdir))


class _Item(NamedTuple):
    key: str  # as written
    value: Any
    at: Location | None


def _folded(config: dict[str, Any], keys: tuple[str, ...], what: str, loc: Location | None) -> dict[str, _Item]:
    """A mapping of one of Docker's structs by its keys folded as Dagu matches them (any case; digpy
    also takes snake_case), each known key once."""
    out: dict[str, _Item] = {}
    for key, value in config.items():
        folded = str(key).lower().replace("_", "")
        where = key_location(config, key) or loc
        if folded not in keys:
            raise ConfigError(f"{what}: '{key}' is not supported yet by digpy", location=where,
                              hint="supported: " + ", ".join(_SPELLED.get(k, k) for k in keys))
        if folded in out:
            raise ConfigError(f"{what}: '{key}' is given twice (as {out[folded].key} and {key})", location=where)
        out[folded] = _Item(str(key), value, value_location(config, key) or where)
    return out


def _limits(host: dict[str, _Item], docker: dict[str, Any]) -> None:
    """Docker's Memory, NanoCPUs (or CpuQuota over CpuPeriod), ShmSize and PidsLimit → the engine's
    memory, cpus, shm_size and pids_limit (docs/operators.md)."""
    if "memory" in host:
        item = host["memory"]
        docker["memory"] = byte_size(item.value, f"docker host.{item.key}", minimum=6 * 1024 * 1024,
                                     location=item.at)
    if "shmsize" in host:
        item = host["shmsize"]
        docker["shm_size"] = byte_size(item.value, f"docker host.{item.key}", location=item.at)
    if "pidslimit" in host:
        item = host["pidslimit"]
        limit = whole_number(item.value, f"docker host.{item.key}", location=item.at)
        if limit > 0:  # 0 and -1: no limit, as in Docker
            docker["pids_limit"] = limit
    if "nanocpus" in host:
        item = host["nanocpus"]
        if "cpuquota" in host:
            raise ConfigError(f"docker host: {item.key} and {host['cpuquota'].key} are two ways to limit the CPUs: "
                              "give one", location=item.at)
        docker["cpus"] = whole_number(item.value, f"docker host.{item.key}", minimum=10_000_000,
                                      location=item.at) / 1e9
    elif "cpuquota" in host:
        quota = host["cpuquota"]
        period = host.get("cpuperiod")
        per = whole_number(period.value, f"docker host.{period.key}", minimum=1000, location=period.at) \
            if period is not None else 100_000  # the engine's default period, in microseconds
        docker["cpus"] = whole_number(quota.value, f"docker host.{quota.key}", minimum=1000, location=quota.at) / per
    elif "cpuperiod" in host:
        raise ConfigError(f"docker host: {host['cpuperiod'].key} needs CpuQuota (or give NanoCPUs)",
                          location=host["cpuperiod"].at)


def _once(config: dict[str, Any], twins: tuple[tuple[str, str], ...], what: str) -> None:
    for first, second in twins:
        if first in config and second in config:
            raise ConfigError(f"{what}: '{second}' is given twice (as {first} and its other spelling)",
                              location=key_location(config, second))


def _known(config: dict[str, Any], keys: tuple[str, ...], what: str, loc: Location | None) -> None:
    unknown = [k for k in config if k not in keys]
    if unknown:
        raise ConfigError(f"{what}: '{unknown[0]}' is not supported yet by digpy",
                          location=key_location(config, unknown[0]) or loc,
                          hint="supported: " + ", ".join(keys))
