"""`digpy push | download | delete | projects | workflows`: projects on a server."""

from __future__ import annotations

import argparse
import io
import sys
import tarfile
import uuid
from pathlib import Path
from typing import Any

from digpy.client.cli.remote import add_client_options, client, emit_json, table
from digpy.client.cli.text import counted


def add_parser(sub: Any, name: str) -> argparse.ArgumentParser:
    if name == "push":
        p = sub.add_parser(name, help="upload a project directory as a new revision")
        p.add_argument("project_name", metavar="PROJECT", help="the project's name on the server")
        p.add_argument("--project", metavar="DIR", default=".", help="the directory to upload (default: current)")
        p.add_argument("-r", "--revision", help="revision name (default: a new UUID)")
    elif name == "download":
        p = sub.add_parser(name, help="download a project's files")
        p.add_argument("project_name", metavar="PROJECT")
        p.add_argument("-r", "--revision", help="revision (default: latest)")
        p.add_argument("-o", "--output", metavar="DIR", help="target directory (default: PROJECT)")
    elif name == "delete":
        p = sub.add_parser(name, help="delete a project (its sessions are kept)")
        p.add_argument("project_name", metavar="PROJECT")
        p.add_argument("--force", action="store_true", help="do not ask")
    elif name == "projects":
        p = sub.add_parser(name, help="list projects")
        p.add_argument("project_name", nargs="?", metavar="NAME")
    else:
        p = sub.add_parser(name, help="list workflows (of a project)")
        p.add_argument("project_name", nargs="?", metavar="PROJECT")
        p.add_argument("workflow", nargs="?", metavar="NAME")
    add_client_options(p)
    parser: argparse.ArgumentParser = p
    return parser


def run(args: argparse.Namespace) -> int:
    return {"push": push, "download": download, "delete": delete, "projects": projects,
            "workflows": workflows}[args.command](args)


def push(args: argparse.Namespace) -> int:
    from digpy.client.archive import pack
    from digpy.core.errors import ConfigError
    from digpy.core.project import Project

    directory = Path(args.project)
    Project(directory)  # it is a directory, or one line saying what it is
    data, names = pack(directory)
    from digpy.core.language.registry import suffixes

    if not any(n.endswith(suffixes()) and "/" not in n for n in names):
        raise ConfigError(f"{directory} has no workflow file (.dig, or a Dagu .yaml) at its top level")
    revision = args.revision or str(uuid.uuid4())
    api = client(args)
    project = api.push_project(args.project_name, revision, data)
    if args.json:
        emit_json(project)
        return 0
    found = api.workflows(project.id)
    print(f"Uploaded: project {project.name} (id {project.id}), revision {project.revision}, "
          f"{counted(len(names), 'file')}, {counted(len(data), 'byte')}")
    print("Workflows: " + ", ".join(w.name for w in found))
    return 0


def download(args: argparse.Namespace) -> int:
    from digpy.core.errors import ConfigError

    api = client(args)
    project = api.project(args.project_name)
    data = api.archive(project.id, args.revision)
    target = Path(args.output or args.project_name)
    try:
        target.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            tar.extractall(target, filter="data")
    except OSError as e:
        raise ConfigError(f"cannot write the project into {target}: {e.strerror or e}",
                          hint="give -o a new or empty directory") from None
    print(f"Downloaded revision {args.revision or project.revision} of {project.name} into {target}", file=sys.stderr)
    return 0


def delete(args: argparse.Namespace) -> int:
    api = client(args)
    project = api.project(args.project_name)
    if not args.force:
        answer = input(f"Delete project {project.name} (id {project.id})? [y/N] ") if sys.stdin.isatty() else "n"
        if answer.strip().lower() not in ("y", "yes"):
            print("Not deleted (pass --force to skip the question).", file=sys.stderr)
            return 1
    api.delete_project(project.id)
    print(f"Project {project.name} deleted.", file=sys.stderr)
    return 0


def projects(args: argparse.Namespace) -> int:
    rows = client(args).projects(args.project_name)
    if args.json:
        emit_json(rows)
        return 0
    table([(p.id, p.name, p.revision, p.updated_at) for p in rows], ["ID", "NAME", "REVISION", "UPDATED"])
    return 0


def workflows(args: argparse.Namespace) -> int:
    api = client(args)
    project_id = api.project(args.project_name).id if args.project_name else None
    rows = api.workflows(project_id, args.workflow)
    if args.json:
        emit_json(rows)
        return 0
    table([(w.id, w.project_name, w.name, w.revision, w.timezone) for w in rows],
          ["ID", "PROJECT", "WORKFLOW", "REVISION", "TIMEZONE"])
    return 0
