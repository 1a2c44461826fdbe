"""`digpy log ATTEMPT [+TASK] [-f]`: an attempt's task logs, followed live with -f."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from digpy.client.cli.remote import add_client_options, client

FOLLOW_MIN, FOLLOW_MAX = 0.25, 2.0


def add_parser(sub: Any, name: str) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(name, help="show (and follow) an attempt's task logs")
    p.add_argument("attempt_id", metavar="ATTEMPT")
    p.add_argument("task", nargs="?", metavar="+TASK", help="only tasks whose full name starts with this")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new output until the attempt ends")
    add_client_options(p)
    return p


def run(args: argparse.Namespace) -> int:
    api = client(args)
    prefix = args.task
    if prefix and not prefix.startswith("+"):
        prefix = "+" + prefix
    offsets: dict[str, int] = {}
    delay = FOLLOW_MIN
    while True:
        done = api.attempt(args.attempt_id).done if args.follow else True
        printed = False
        for f in api.log_files(args.attempt_id, prefix):
            offset = offsets.get(f.file_name, 0)
            if f.file_size <= offset:
                continue
            text, offsets[f.file_name] = api.read_log(args.attempt_id, f.file_name, offset)
            sys.stdout.write(text)
            printed = True
        sys.stdout.flush()
        if done:  # the attempt had ended before this pass read the files: nothing more will come
            return 0
        delay = FOLLOW_MIN if printed else min(delay * 2, FOLLOW_MAX)
        time.sleep(delay)
