"""The catalog's attempt queries behind the web UI, on SQLite and PostgreSQL: the status filter, the
attempts that changed, the task versions a live page compares, and the store's change listeners."""

from __future__ import annotations

import itertools
import json

from sqlalchemy import update

from digpy.client.model import attempt_status
from digpy.core.store import CANCEL_REQUESTED, DONE, QUEUED, SUCCESS, catalog
from digpy.core.store import schema as s
from digpy.server.services import live


def _attempts(store, flags: list[int]) -> list[int]:
    project = store.ensure_project("p")
    ids = []
    for i, value in enumerate(flags):
        session = store.session_for(project, "wf", 1_700_000_000 + i)
        attempt = store.create_attempt(session, timezone="UTC", params={})
        with store.begin() as conn:
            conn.execute(update(s.attempts).where(s.attempts.c.id == attempt.id).values(state_flags=value))
        ids.append(attempt.id)
    return ids


def test_the_status_filter_agrees_with_the_status_the_api_shows(store):
    every = [sum(bits) for bits in itertools.product((0, CANCEL_REQUESTED), (0, DONE), (0, SUCCESS))
             if not (bits[2] and not bits[1])]  # success only once done
    every.append(QUEUED)  # only ever alone: admission clears it, a kill ends a queued attempt
    ids = dict(zip(_attempts(store, every), every, strict=True))
    with store.begin() as conn:
        for status in ("queued", "running", "killing", "success", "error", "killed"):
            found = {r["id"] for r in catalog.list_attempts(conn, status=status, include_retried=True)}
            expected = {i for i, f in ids.items()
                        if attempt_status(bool(f & DONE), bool(f & SUCCESS), bool(f & CANCEL_REQUESTED),
                                          bool(f & QUEUED)) == status}
            assert found and found == expected, status


def test_keyset_pages_of_one_status_follow_each_other(store):
    ids = _attempts(store, [DONE | SUCCESS, DONE, DONE | SUCCESS] * 5)
    with store.begin() as conn:
        first = [r["id"] for r in catalog.list_attempts(conn, status="success", page_size=4)]
        second = [r["id"] for r in catalog.list_attempts(conn, status="success", page_size=4, last_id=first[-1])]
    successes = sorted((i for i, f in zip(ids, [DONE | SUCCESS, DONE, DONE | SUCCESS] * 5, strict=True)
                        if f & SUCCESS), reverse=True)
    assert first + second == successes[:8]


def test_the_attempts_follower_says_which_attempts_started_or_ended(store):
    follower = live.AttemptsFollower(store)
    assert follower.read() == []
    (first,) = _attempts(store, [0])
    assert [a["id"] for a in follower.read()] == [str(first)]
    assert follower.read() == []
    store.finish_attempt(first, success=True, canceled=False)
    assert [(a["id"], a["status"]) for a in follower.read()] == [(str(first), "success")]


def test_listeners_hear_of_a_change_after_its_commit(store):
    heard: list[frozenset[int]] = []
    store.listeners.append(heard.append)
    (attempt,) = _attempts(store, [0])
    assert frozenset({attempt}) in heard
    heard.clear()
    with store.begin() as conn:
        store.finish_attempt(attempt, success=False, canceled=False)  # joins this transaction
        assert heard == [], "not before the commit"
        catalog.get_attempt(conn, attempt)
    assert heard == [frozenset({attempt})]


def test_a_done_attempts_snapshot_is_kept_for_the_next_page_and_a_running_ones_is_not(store):
    (attempt,) = _attempts(store, [0])
    cache = live.SnapshotCache()
    opened, text, done = live.AttemptFollower(store, attempt).first(cache)
    assert (opened["status"], json.loads(text), done) == ("running", {"tasks": []}, False)
    assert cache.size == 0, "a running attempt's tasks still change"
    store.finish_attempt(attempt, success=True, canceled=False)
    opened, text, done = live.AttemptFollower(store, attempt).first(cache)
    assert (opened["status"], done) == ("success", True)
    assert cache.size == len(text)
    assert live.AttemptFollower(store, attempt).first(cache) == (opened, text, True)


def test_the_snapshot_cache_keeps_the_most_recently_opened_within_its_limit():
    cache = live.SnapshotCache(limit=10)
    cache.put((1, 0.0), "aaaa")
    cache.put((2, 0.0), "bbbb")
    assert cache.get((1, 0.0)) == "aaaa"  # now the most recent
    cache.put((3, 0.0), "cccc")
    assert (cache.get((1, 0.0)), cache.get((2, 0.0)), cache.get((3, 0.0)), cache.size) == ("aaaa", None, "cccc", 8)
    cache.put((4, 0.0), "x" * 11)
    assert cache.get((4, 0.0)) is None, "larger than the whole cache"


def test_a_large_attempt_that_ended_has_its_snapshot_made_before_its_first_page(store):
    (attempt,) = _attempts(store, [DONE | SUCCESS])
    cache = live.SnapshotCache()
    assert live.warm(store, cache, attempt) is False, "no task: not worth it"
    assert cache.size == 0
    assert live.warm(store, cache, attempt, min_tasks=0) is True
    assert cache.size == len(live.AttemptFollower(store, attempt).first(cache)[1])
