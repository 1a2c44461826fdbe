"""pg> against the real PostgreSQL server, through the real command."""

from __future__ import annotations

import csv

import pytest
from sqlalchemy.engine import make_url

pytestmark = pytest.mark.postgres


def connection_params(scratch_postgres_url: str) -> str:
    url = make_url(scratch_postgres_url)
    return (f"  pg:\n    host: {url.host}\n    port: {url.port or 5432}\n    database: {url.database}\n"
            f"    user: {url.username}\n")


def test_create_insert_query_store_and_download(project, scratch_postgres_url):
    project.write("create.sql", "SELECT n, 'row ' || n AS label FROM generate_series(1, ${count}) AS n")
    project.write("wf.dig", "_export:\n" + connection_params(scratch_postgres_url) + "  count: 3\n"
                  "+create:\n  pg>: create.sql\n  create_table: digpy_pg_test\n"
                  "+more:\n  pg>: SELECT 10, 'ten'\n  insert_into: digpy_pg_test\n"
                  "+first:\n  pg>: SELECT count(*) AS n, max(label) AS top FROM digpy_pg_test\n"
                  "  store_last_results: first\n"
                  "+show:\n  echo>: ${pg.last_results.n} rows, top ${pg.last_results.top}\n"
                  "+all:\n  pg>: SELECT n FROM digpy_pg_test ORDER BY n\n  store_last_results: all\n"
                  "+show_all:\n  echo>: ${pg.last_results.map(function(r) { return r.n }).join(',')}\n"
                  "+download:\n  pg>: SELECT n, label FROM digpy_pg_test ORDER BY n\n  download_file: out/rows.csv\n")
    result = project.run("wf")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["4 rows, top ten", "1,2,3,10"]
    with open(project.path / "out" / "rows.csv") as f:
        assert list(csv.reader(f)) == [["n", "label"], ["1", "row 1"], ["2", "row 2"], ["3", "row 3"],
                                       ["10", "ten"]]


def test_sql_errors_fail_the_task_with_the_database_message(project, scratch_postgres_url):
    project.write("wf.dig", "_export:\n" + connection_params(scratch_postgres_url) + "+bad:\n  pg>: SELECT * FROM no_such_table\n")
    result = project.run("wf")
    assert result.returncode == 1
    assert 'pg> UndefinedTable: relation "no_such_table" does not exist' in result.stderr


def test_bad_options(project, scratch_postgres_url):
    project.write("wf.dig", "_export:\n" + connection_params(scratch_postgres_url)
                  + "+bad:\n  pg>: SELECT 1\n  create_table: 'x; drop table y'\n")
    assert "pg> create_table must be a table name" in project.run("wf").stderr
    project.write("wf2.dig", "+bad:\n  pg>: missing.sql\n  database: x\n")
    assert "pg> SQL file missing.sql not found" in project.run("wf2").stderr


def test_the_documented_example(project, scratch_postgres_url):
    import shutil
    from pathlib import Path

    for name in ("pg.dig", "pg_daily.sql"):
        shutil.copy(Path(__file__).resolve().parents[2] / "projects/operators" / name, project.path / name)
    url = make_url(scratch_postgres_url)
    result = project.run("pg", "--session", "2026-07-01", "-p", f"pg_host={url.host}", "-p", f"pg_port={url.port or 5432}",
                         "-p", f"pg_database={url.database}", "-p", f"pg_user={url.username}")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "3 rows built\n"
    with open(project.path / "out" / "daily.csv") as f:
        assert list(csv.reader(f))[1] == ["1", "2026-07-02"]


def test_sql_runs_exactly_as_written(project, scratch_postgres_url):
    """`%` and `:name` are SQL text, not placeholders; with several statements the last one's rows count."""
    project.write("colon.sql", "SELECT 'a%s' AS x, 'b:00' AS y, '50%' AS z")
    project.write("wf.dig", "_export:\n" + connection_params(scratch_postgres_url)
                  + "+make:\n  pg>: colon.sql\n  create_table: digpy_pct\n"
                  "+like:\n  pg>: SELECT count(*) AS n FROM digpy_pct WHERE z LIKE '50%'\n  store_last_results: first\n"
                  "+show:\n  echo>: ${pg.last_results.n}\n"
                  "+many:\n  pg>: CREATE TEMP TABLE m (a int); INSERT INTO m VALUES (1), (2); SELECT sum(a) AS s FROM m\n"
                  "  store_last_results: first\n"
                  "+sum:\n  echo>: ${pg.last_results.s}\n"
                  "+csv:\n  pg>: SELECT x, y, z FROM digpy_pct\n  download_file: pct.csv\n"
                  "+num:\n  pg>: SELECT 1.5::numeric AS a, 2::numeric AS b, 0.1::numeric AS c\n  store_last_results: first\n"
                  "+shownum:\n  echo>: ${pg.last_results.a + pg.last_results.b + pg.last_results.c}\n"
                  "+span:\n  pg>: SELECT interval '1 day 2 hours' AS d, interval '90 minutes' AS m\n"
                  "  store_last_results: first\n"
                  "+showspan:\n  echo>: ${pg.last_results.d} / ${pg.last_results.m}\n"
                  "+port:\n  pg>: SELECT 1\n  port: pg\n")
    result = project.run("wf")
    assert result.stdout.splitlines() == ["1", "3", "3.6", "1 day 02:00:00 / 01:30:00"], result.stderr
    with open(project.path / "pct.csv") as f:
        assert list(csv.reader(f)) == [["x", "y", "z"], ["a%s", "b:00", "50%"]]
    assert "pg> port must be a whole number, got 'pg'" in result.stderr and "Traceback" not in result.stderr
