"""Leases of attempts between server nodes, on SQLite and PostgreSQL: two nodes racing to claim an
attempt (exactly one wins), and a node whose lease was taken cannot write the attempt."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from digpy.core.language.dig.loader import load_text
from digpy.core.spi import TaskResult
from digpy.core.store import catalog
from digpy.core.store.sql import LeaseLost
from digpy.core.workflow.model import TaskState
from digpy.core.workflow.state_machine import AttemptGraph
from digpy.core.workflow.tree import compile_workflow

LEASE = 15.0


def new_attempts(store, count: int) -> list[int]:
    project = store.ensure_project("p")
    first = store.latest_session_time(project, "wf")
    first = 0 if first is None else first + 1
    return [store.create_attempt(store.session_for(project, "wf", i), timezone="UTC", params={}).id
            for i in range(first, first + count)]


def claim(store, owner: str, limit: int = 1) -> list[int]:
    with store.begin() as conn:
        return catalog.claim_attempts(conn, owner=owner, lease_seconds=LEASE, limit=limit)


def lease_of(store, attempt_id: int) -> tuple[str | None, float | None]:
    with store.begin() as conn:
        row = conn.execute(text("SELECT lease_owner, lease_expires_at FROM attempts WHERE id = :a"),
                           {"a": attempt_id}).one()
    return row[0], row[1]


def expire_lease(store, attempt_id: int) -> None:
    """What time does to a lease its node stopped renewing."""
    with store.begin() as conn:
        conn.execute(text("UPDATE attempts SET lease_expires_at = :t WHERE id = :a"),
                     {"t": time.time() - 1, "a": attempt_id})


def rows(store, attempt_id: int) -> list[tuple]:
    with store.begin() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT id, full_name, state, retry_count, started_at, updated_at, store_params, error "
            "FROM tasks WHERE attempt_id = :a ORDER BY id"), {"a": attempt_id})]


def attempt_row(store, attempt_id: int) -> tuple:
    with store.begin() as conn:
        return tuple(conn.execute(text("SELECT state_flags, finished_at, lease_owner FROM attempts WHERE id = :a"),
                                  {"a": attempt_id}).one())


# ----------------------------------------------------------------------------- claiming


def test_two_nodes_claiming_one_attempt_at_once_exactly_one_wins(store):
    """Twenty rounds of two threads, each on its own pooled connection, released together."""
    for _ in range(20):
        (attempt_id,) = new_attempts(store, 1)
        start = threading.Barrier(2)

        def race(owner: str, start: threading.Barrier = start) -> list[int]:
            start.wait()
            return claim(store, owner)

        with ThreadPoolExecutor(2) as pool:
            a, b = pool.map(race, ["node-a", "node-b"])
        assert sorted([a, b]) == [[], [attempt_id]]
        assert lease_of(store, attempt_id)[0] == ("node-a" if a else "node-b")


def test_nodes_claiming_many_attempts_at_once_claim_each_exactly_once(store):
    attempts = new_attempts(store, 60)
    start = threading.Barrier(3)

    def node(owner: str) -> list[int]:
        start.wait()
        mine: list[int] = []
        while claimed := claim(store, owner, limit=2):
            mine += claimed
        return mine

    with ThreadPoolExecutor(3) as pool:
        claims = dict(zip(("a", "b", "c"), pool.map(node, ["a", "b", "c"]), strict=True))
    everything = [i for mine in claims.values() for i in mine]
    assert sorted(everything) == attempts, "every attempt claimed, none twice"
    for owner, mine in claims.items():
        assert {lease_of(store, i)[0] for i in mine} <= {owner}


def test_an_attempt_being_claimed_is_not_claimed_by_another_node(store):
    """Node a claims in a transaction that is still open; node b, on another connection in another
    thread, gets nothing, before a commits (PostgreSQL skips the locked row) or after it (SQLite
    waits for the writer, then finds the lease taken)."""
    (attempt_id,) = new_attempts(store, 1)
    with ThreadPoolExecutor(1) as other_thread, store.begin() as conn:
        assert catalog.claim_attempts(conn, owner="node-a", lease_seconds=LEASE, limit=1) == [attempt_id]
        b = other_thread.submit(claim, store, "node-b")
        if store.dialect == "postgresql":
            assert b.result(timeout=30) == [], "b returns while a's transaction is open"
    assert b.result(timeout=30) == []
    assert lease_of(store, attempt_id)[0] == "node-a"


def test_a_live_lease_is_kept_and_an_expired_one_is_taken_over(store):
    first, second = new_attempts(store, 2)
    assert claim(store, "node-a", limit=1) == [first]
    assert claim(store, "node-b", limit=5) == [second]
    assert claim(store, "node-c", limit=5) == []
    expire_lease(store, first)
    assert claim(store, "node-c", limit=5) == [first]
    owner, expires = lease_of(store, first)
    assert owner == "node-c" and expires > time.time()
    with store.begin() as conn:
        assert catalog.renew_leases(conn, owner="node-a", attempt_ids=[first], lease_seconds=LEASE) == []
        assert catalog.renew_leases(conn, owner="node-c", attempt_ids=[first, second], lease_seconds=LEASE) == [first]


def test_a_finished_attempt_is_never_claimed(store):
    (attempt_id,) = new_attempts(store, 1)
    store.finish_attempt(attempt_id, success=True, canceled=False)
    assert claim(store, "node-a", limit=5) == []


# ----------------------------------------------------------------------------- a lease taken over


@pytest.fixture
def taken_over(store):
    """An attempt that node a ran (its first tasks stored, its next changes in memory) until its
    lease expired and node b claimed it. Returns (attempt id, a's unwritten created and changed tasks)."""
    workflow = compile_workflow("wf", load_text("+a:\n  echo>: a\n+b:\n  echo>: b\n"))
    (attempt_id,) = new_attempts(store, 1)
    assert claim(store, "node-a") == [attempt_id]
    graph = AttemptGraph.new(workflow.tasks, time.time())
    graph.start(time.time())
    store.write_tasks(attempt_id, *graph.take_changes(), owner="node-a")
    task = graph.take_ready()
    graph.mark_running(task, time.time())
    graph.succeed(task, TaskResult(stores={"x": 1}, subtasks={"+s": {"echo>": "s"}}), time.time())
    created, changed = graph.take_changes()
    assert created and changed  # a's next write would add the generated task and change +a
    expire_lease(store, attempt_id)
    assert claim(store, "node-b") == [attempt_id]
    return attempt_id, created, changed


def test_a_node_whose_lease_was_taken_cannot_write_tasks(store, taken_over):
    attempt_id, created, changed = taken_over
    before = rows(store, attempt_id)
    with pytest.raises(LeaseLost) as lost:
        store.write_tasks(attempt_id, created, changed, owner="node-a")
    assert str(lost.value) == f"attempt {attempt_id} is no longer held by node-a"
    assert rows(store, attempt_id) == before, "nothing written: no new task, no changed state"
    assert {name: TaskState(state) for _, name, state, *_ in before}["+wf+a"] == TaskState.READY
    store.write_tasks(attempt_id, created, changed, owner="node-b")  # the node that holds it may
    assert {name: TaskState(state) for _, name, state, *_ in rows(store, attempt_id)}["+wf+a"] == TaskState.PLANNED


def test_a_node_whose_lease_was_taken_cannot_finish_the_attempt(store, taken_over):
    attempt_id, _, _ = taken_over
    with pytest.raises(LeaseLost, match=f"attempt {attempt_id} is no longer held by node-a"):
        store.finish_attempt(attempt_id, success=True, canceled=False, owner="node-a")
    assert attempt_row(store, attempt_id) == (0, None, "node-b")
    store.finish_attempt(attempt_id, success=False, canceled=False, owner="node-b")
    flags, finished_at, _ = attempt_row(store, attempt_id)
    assert flags == 2 and finished_at is not None  # DONE, not SUCCESS


def test_a_node_that_never_held_an_attempt_cannot_write_it(store):
    (attempt_id,) = new_attempts(store, 1)
    workflow = compile_workflow("wf", load_text("+a:\n  echo>: a\n"))
    graph = AttemptGraph.new(workflow.tasks, time.time())
    graph.start(time.time())
    with pytest.raises(LeaseLost):
        store.write_tasks(attempt_id, *graph.take_changes(), owner="node-a")
    assert rows(store, attempt_id) == []
