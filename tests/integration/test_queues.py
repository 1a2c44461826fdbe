"""Admission of queued attempts on SQLite and PostgreSQL: the oldest first, within a queue's limit
and a workflow's, as others finish; killing a queued attempt; and nodes admitting at once never
exceed a limit."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import text

from digpy.core.store import CANCEL_REQUESTED, DONE, QUEUED, catalog, queues


class Attempts:
    """Attempts of project `p` in a store, each of its own session."""

    def __init__(self, store) -> None:
        self.store = store
        self.project = store.ensure_project("p")
        self.sessions = 0

    def new(self, workflow: str = "wf", *, queue: str | None = None, most: int | None = None,
            queued: bool = True) -> int:
        self.sessions += 1
        session = self.store.session_for(self.project, workflow, self.sessions)
        return self.store.create_attempt(session, timezone="UTC", params={}, queue=queue, max_active_attempts=most,
                                         queued=queued).id

    def admit(self, limits: dict[str, int] | Callable[[str], int], **kw) -> list[int]:
        limit_of = limits if callable(limits) else limits.__getitem__
        with self.store.begin() as conn:
            return queues.admit(conn, limit_of, **kw)

    def finish(self, *attempt_ids: int) -> None:
        for attempt_id in attempt_ids:
            self.store.finish_attempt(attempt_id, success=True, canceled=False)

    def flags(self, attempt_id: int) -> int:
        with self.store.begin() as conn:
            return int(catalog.get_attempt(conn, attempt_id)["state_flags"])

    def claim(self, owner: str = "node", limit: int = 100) -> list[int]:
        with self.store.begin() as conn:
            return catalog.claim_attempts(conn, owner=owner, lease_seconds=60, limit=limit)


def test_the_oldest_are_admitted_within_the_queues_limit_as_others_finish(store):
    a = Attempts(store)
    ids = [a.new(f"wf{i % 2}", queue="q") for i in range(5)]
    assert a.claim() == [], "no node runs a queued attempt"
    assert a.admit({"q": 2}) == ids[:2]
    assert a.admit({"q": 2}) == [], "the queue is full"
    assert sorted(a.claim()) == ids[:2]
    a.finish(ids[1])
    assert a.admit({"q": 2}) == [ids[2]]
    a.finish(ids[0], ids[2])
    assert a.admit({"q": 2}) == ids[3:]
    assert a.admit({"q": 2}) == []


def test_a_workflows_limit_holds_back_its_own_attempts_only(store):
    a = Attempts(store)
    first = [a.new("a", queue="q", most=1) for _ in range(3)]
    other = a.new("b", queue="q", most=1)
    assert a.admit({"q": 3}) == [first[0], other], "b's attempt goes before a's younger ones"
    a.finish(first[0])
    assert a.admit({"q": 3}) == [first[1]]
    no_queue = [a.new("c", most=2) for _ in range(3)]
    assert a.admit({"q": 3}) == no_queue[:2]


def test_a_full_queue_holds_back_every_younger_attempt_in_it_but_not_other_queues(store):
    a = Attempts(store)
    running = a.new("a", queue="q", queued=False)  # started with bypass: it counts in its queue
    waiting = a.new("b", queue="q")
    elsewhere = a.new("b", queue="r")
    assert a.admit({"q": 1, "r": 1}) == [elsewhere]
    a.finish(running)
    assert a.admit({"q": 1, "r": 1}) == [waiting]


def test_every_active_attempt_of_a_workflow_counts_against_its_limit(store):
    a = Attempts(store)
    unlimited = a.new("wf", queued=False)  # started before the workflow had a limit
    waiting = a.new("wf", most=1)
    assert a.admit({}) == []
    with store.begin() as conn:  # a kill requested: still active until it ends
        catalog.request_kill(conn, unlimited)
    assert a.admit({}) == []
    a.finish(unlimited)
    assert a.admit({}) == [waiting]


def test_a_workflow_with_more_waiting_than_read_keeps_the_queues_order(store):
    """An admission reads the oldest `per_workflow` waiting attempts of each workflow: one of a
    workflow's unread attempts may be older than another workflow's, so the queue waits for it."""
    a = Attempts(store)
    many = [a.new("a", queue="q") for _ in range(4)]
    later = a.new("b", queue="q")
    assert a.admit({"q": 10}, per_workflow=2) == many[:2]
    assert a.admit({"q": 10}, per_workflow=2) == [*many[2:], later]

    held = [a.new("c", queue="r", most=1) for _ in range(4)]  # c can take one: its unread ones can't go
    after = a.new("d", queue="r")
    assert a.admit({"q": 10, "r": 10}, per_workflow=2) == [held[0], after]


def test_a_queued_attempt_killed_ends_at_once_and_is_never_admitted(store):
    a = Attempts(store)
    running = a.new(queue="q")
    assert a.admit({"q": 1}) == [running]
    waiting = a.new(queue="q")
    with store.begin() as conn:
        killed = catalog.request_kill(conn, waiting)
    assert killed["state_flags"] == DONE | CANCEL_REQUESTED and killed["finished_at"] is not None
    a.finish(running)
    assert a.admit({"q": 1}) == []
    assert a.claim() == []
    assert a.flags(waiting) == DONE | CANCEL_REQUESTED
    admitted = a.new(queue="q")
    assert a.admit({"q": 1}) == [admitted]
    with store.begin() as conn:  # an admitted attempt is asked to stop, as any running one
        assert catalog.request_kill(conn, admitted)["state_flags"] == CANCEL_REQUESTED


def test_nodes_admitting_at_once_never_exceed_the_limits(store):
    """Four nodes (threads, each on its own connection) admit, claim and finish 60 attempts of two
    workflows in queue q (limit 2; workflow b also at most 1 at a time). After every admission, the
    active attempts are counted: never more than the limits; every attempt runs once."""
    a = Attempts(store)
    ids = [a.new("b" if i % 3 == 0 else "a", queue="q", most=1 if i % 3 == 0 else None) for i in range(60)]
    ran: list[int] = []
    seen: list[tuple[int, int]] = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def active() -> tuple[int, int]:
        with store.begin() as conn:
            rows = conn.execute(text("SELECT workflow_name FROM attempts WHERE queue_name = 'q' "
                                     "AND state_flags IN (0, 1)")).all()
        return len(rows), sum(1 for (name,) in rows if name == "b")

    def node(owner: str) -> None:
        start.wait()
        while True:
            with store.begin() as conn:
                queues.admit(conn, {"q": 2}.__getitem__)
                claimed = catalog.claim_attempts(conn, owner=owner, lease_seconds=60, limit=2)
            counted = active()
            with lock:
                seen.append(counted)
                ran.extend(claimed)
                if len(ran) == len(ids):
                    return
            for attempt_id in claimed:
                store.finish_attempt(attempt_id, success=True, canceled=False, owner=owner)
            with store.begin() as conn:
                if not claimed and conn.execute(text(f"SELECT COUNT(*) FROM attempts WHERE state_flags = {QUEUED}"
                                                     )).scalar() == 0:
                    return

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(node, ["n1", "n2", "n3", "n4"]))
    assert sorted(ran) == ids, "every attempt ran once"
    assert max(total for total, _ in seen) <= 2 and max(b for _, b in seen) <= 1, seen
