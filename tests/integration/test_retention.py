"""Retention on real SQLite and PostgreSQL databases: which sessions a policy removes, what always
stays, and that their rows and task-log directories go (row counts; the file size is in the
acceptance test of `digpy prune --vacuum`)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, insert, select, update

from digpy.core.store import retention, schema
from digpy.core.store.retention import RetentionPolicy
from digpy.core.workflow.model import Task, TaskState
from digpy.server.logs import LogStore
from digpy.server.services.retention import Pruned, prune

DAY = 86400.0
NOW = time.time() + 1000 * DAY  # every test row is older than this


class History:
    """Sessions of project `p` made through the store's own API, each with tasks and a task log."""

    def __init__(self, store, logs: LogStore) -> None:
        self.store = store
        self.logs = logs
        self.project_id = store.ensure_project("p")

    def session(self, workflow: str = "wf", session_time: int = 0, *, done: bool = True,
                finished_days_ago: float = 100.0, tasks: int = 3) -> tuple[int, int]:
        """(session id, attempt id) of a new attempt of that session."""
        record = self.store.session_for(self.project_id, workflow, session_time)
        attempt = self.store.create_attempt(record, timezone="UTC", params={})
        self.store.write_tasks(attempt.id, [
            Task(id=i + 1, parent_id=None if i == 0 else 1, name=f"+t{i}", full_name=f"+{workflow}+t{i}",
                 is_group=i == 0, config={}, export={}, upstreams=[], state=TaskState.SUCCESS)
            for i in range(tasks)], [])
        folder = self.logs.attempt_dir(attempt.id)
        folder.mkdir(parents=True)
        (folder / f"+{workflow}+t1.log").write_text("output\n" * 100)
        if done:
            self.store.finish_attempt(attempt.id, success=True, canceled=False)
            with self.store.begin() as conn:
                conn.execute(update(schema.attempts).where(schema.attempts.c.id == attempt.id)
                             .values(finished_at=NOW - finished_days_ago * DAY))
        return record.id, attempt.id

    def counts(self) -> dict[str, int]:
        with self.store.begin() as conn:
            return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                    for t in (schema.sessions, schema.attempts, schema.tasks, schema.attempt_waits)}

    def session_ids(self) -> list[int]:
        with self.store.begin() as conn:
            return [r[0] for r in conn.execute(select(schema.sessions.c.id).order_by(schema.sessions.c.id))]


@pytest.fixture
def history(store, tmp_path) -> History:
    return History(store, LogStore(tmp_path / "logs"))


def test_keep_n_removes_the_older_sessions_of_each_workflow_with_their_rows_and_logs(history):
    made = [history.session("wf", t) for t in range(1, 7)]  # ids ascend with the session times
    other = [history.session("other", t) for t in range(1, 4)]
    assert history.counts() == {"sessions": 9, "attempts": 9, "tasks": 27, "attempt_waits": 0}
    pruned = prune(history.store, history.logs, RetentionPolicy(keep=2), now=NOW, batch=2)
    assert pruned == Pruned(sessions=5, attempts=5, tasks=15, waits=0, log_dirs=5, log_bytes=5 * 700)
    assert history.counts() == {"sessions": 4, "attempts": 4, "tasks": 12, "attempt_waits": 0}
    kept = [made[4], made[5], other[1], other[2]]
    assert history.session_ids() == [session for session, _ in kept]
    assert sorted(int(p.name) for p in history.logs.directory.iterdir()) == [attempt for _, attempt in kept]
    assert prune(history.store, history.logs, RetentionPolicy(keep=2), now=NOW) == Pruned(), "nothing left to do"


def test_an_age_limit_removes_sessions_whose_attempts_all_ended_before_it(history):
    old, _ = history.session("wf", 1, finished_days_ago=40)
    retried, _ = history.session("wf", 2, finished_days_ago=40)
    history.session("wf", 2, finished_days_ago=5)  # a retry of session 2, recent: the session stays
    recent, _ = history.session("wf", 3, finished_days_ago=5)
    newest, _ = history.session("wf", 4, finished_days_ago=40)  # the newest session time stays
    history.session("other", 1, finished_days_ago=1)
    pruned = prune(history.store, history.logs, RetentionPolicy(max_age=30 * DAY), now=NOW)
    assert (pruned.sessions, pruned.attempts, pruned.tasks) == (1, 1, 3)
    assert set(history.session_ids()) >= {retried, recent, newest} and old not in history.session_ids()
    both = prune(history.store, history.logs, RetentionPolicy(max_age=30 * DAY, keep=1), now=NOW)
    assert both.sessions == 2, "either limit removes a session"


def test_what_always_stays(history):
    store = history.store
    running, running_attempt = history.session("wf", 1, done=False)
    waited, waited_attempt = history.session("wf", 2)
    resumed, resumed_attempt = history.session("wf", 3)
    gone, _ = history.session("wf", 4)
    chained, chained_attempt = history.session("wf", 6)
    waiter = history.session("later", 1, done=False)[1]
    retry = history.session("later", 2, done=False)[1]
    next_in_chain = history.session("later", 3, done=False)[1]
    with store.begin() as conn:
        conn.execute(insert(schema.attempt_waits).values(attempt_id=waiter, waits_for=waited_attempt))
        conn.execute(update(schema.attempts).where(schema.attempts.c.id == retry)
                     .values(resume_attempt_id=resumed_attempt))
        conn.execute(update(schema.attempts).where(schema.attempts.c.id == next_in_chain)
                     .values(after_attempt_id=chained_attempt))
    backfilled, _ = history.session("wf", 0)  # created last, with an older session time
    history.session("wf", 7)  # the newest session time of wf
    top, top_attempt = history.session("old", 1)
    history.session("old", 2)
    history.session("old", 1)  # a retry of `top`'s session: the highest attempt id
    keep = {running, waited, resumed, chained, top}
    pruned = prune(store, history.logs, RetentionPolicy(max_age=1), now=NOW)
    assert set(history.session_ids()) >= keep
    assert gone not in history.session_ids() and backfilled not in history.session_ids()
    assert pruned.sessions == 2  # gone and backfilled (old: the newest time, and the highest attempt id)
    assert history.logs.attempt_dir(running_attempt).is_dir() and history.logs.attempt_dir(top_attempt).is_dir()
    with store.begin() as conn:  # once they end, they go too
        conn.execute(update(schema.attempts).values(state_flags=schema.attempts.c.state_flags.op("|")(2),
                                                    finished_at=NOW - DAY))
    history.session("new", 1)  # takes over the highest ids
    assert prune(store, history.logs, RetentionPolicy(max_age=1), now=NOW).sessions == 7  # all but the newest
    assert history.counts()["attempt_waits"] == 0


def test_the_highest_session_id_stays_so_that_sqlite_never_hands_it_out_again(history):
    history.session("wf", 5)
    backfill, _ = history.session("wf", 1)  # the highest session id, an older session time
    history.session("wf", 5)  # a retry in the newest session: the highest attempt id is there
    assert prune(history.store, history.logs, RetentionPolicy(max_age=1), now=NOW) == Pruned()
    assert backfill in history.session_ids()


def test_a_dry_run_counts_and_removes_nothing(history):
    for t in range(1, 5):
        history.session("wf", t)
    before = history.counts()
    pruned = prune(history.store, history.logs, RetentionPolicy(keep=1), now=NOW, dry_run=True)
    assert (pruned.sessions, pruned.attempts, pruned.tasks, pruned.log_dirs) == (3, 3, 9, 3)
    assert history.counts() == before and len(list(history.logs.directory.iterdir())) == 4


def test_a_session_that_got_a_new_attempt_after_it_was_chosen_stays_with_it(history):
    """A retry started between the choice of a session and its removal is not removed, nor its session."""
    chosen, first = history.session("wf", 1)
    history.session("wf", 2)
    with history.store.begin() as conn:
        assert retention.prunable_sessions(conn, RetentionPolicy(keep=1), now=NOW) == [chosen]
    _, retry = history.session("wf", 1, done=False)
    with history.store.begin() as conn:
        removed = retention.remove_sessions(conn, [chosen])
    assert (removed.sessions, removed.attempt_ids) == (0, (first,))
    with history.store.begin() as conn:
        left = [r[0] for r in conn.execute(select(schema.attempts.c.id).where(schema.attempts.c.session_id == chosen))]
    assert left == [retry]


def test_every_reference_to_sessions_and_attempts_is_handled():
    """A table added with a foreign key to sessions or attempts must be handled by the removal."""
    found = {(table.name, fk.parent.name) for table in schema.metadata.sorted_tables
             for fk in table.foreign_keys if fk.column.table.name in ("sessions", "attempts")}
    assert found == set(retention.REFERENCES)
