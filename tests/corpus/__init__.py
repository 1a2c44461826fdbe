"""Files of hostile and malformed input that tests run digpy on (see each folder's README)."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

MALFORMED = Path(__file__).parent / "malformed"


class Case(NamedTuple):
    file: str
    where: str  # FILE:LINE:COL the error must name
    fragment: str  # a part of the message


def malformed_cases() -> list[Case]:
    """The rows of malformed/EXPECTED.tsv."""
    rows = (line.split("\t") for line in (MALFORMED / "EXPECTED.tsv").read_text().splitlines()
            if line and not line.startswith("#"))
    return [Case(*row) for row in rows]
