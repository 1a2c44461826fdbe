"""Every file of the malformed corpus (tests/corpus/malformed) gives one located error line from
`digpy check`, exit code 2, quickly: never a traceback, a hang or a crash."""

from __future__ import annotations

import re
import shutil
import time

import pytest

from tests.corpus import MALFORMED, Case, malformed_cases

SECONDS = 15  # digpy check starts in well under a second; a bound, not a measurement


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    copy = tmp_path_factory.mktemp("corpus") / "malformed"
    shutil.copytree(MALFORMED, copy)
    return copy


@pytest.mark.parametrize("case", malformed_cases(), ids=lambda case: case.file)
def test_a_malformed_file_gives_one_located_error(case: Case, corpus, project):
    project.path = corpus
    started = time.monotonic()
    result = project.digpy("check", case.file, timeout=60)
    elapsed = time.monotonic() - started
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert re.match(r"error: [^:\s]+:\d+:\d+: ", lines[0]), lines[0]
    assert lines[0].startswith(f"error: {case.where}: "), lines[0]
    assert case.fragment in lines[0], lines[0]
    assert elapsed < SECONDS, f"digpy check took {elapsed:.1f} s"


def test_the_corpus_table_names_every_file():
    listed = {case.file for case in malformed_cases()}
    present = {path.name for path in MALFORMED.glob("*.dig")}
    assert listed == present
