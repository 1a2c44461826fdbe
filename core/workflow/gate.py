"""The pacing of one group's children: `_parallel: {running: N}` and `_start_interval`.

A group with either has a gate. A child that the state machine would start (make ready, or plan
if it is a group) passes the gate first: it starts at once if fewer than N children are active
(started and not done) and the previous start is at least the interval ago; otherwise it waits,
in the order it became startable, and the gate lets the next one through when an active child
ends or when the interval has passed (the state machine's timer). A child that ends without
starting (canceled, disabled) takes no slot. Groups without these directives have no gate and
pay nothing for it.
"""

from __future__ import annotations

from collections import deque


class Gate:
    """The children of one group that hold a slot, the ones waiting for one, and the last start."""

    __slots__ = ("active", "granted", "interval", "last_start", "opening", "running", "waiting")

    def __init__(self, running: int | None, interval: float) -> None:
        self.running = running  # at most this many active children; None: no limit
        self.interval = interval  # seconds between two starts; 0: none
        self.active: set[int] = set()  # children let through and not done yet
        self.granted: set[int] = set()  # let through by `open`, not yet started by the state machine
        self.waiting: deque[int] = deque()  # children that may start, in the order they could
        self.last_start: float | None = None
        self.opening: float | None = None  # when the state machine's timer is set to open the gate

    def may_start(self, now: float) -> bool:
        """Whether one more child may start at `now`."""
        if self.running is not None and len(self.active) >= self.running:
            return False
        return self.last_start is None or now >= self.last_start + self.interval

    def take(self, task_id: int, now: float) -> None:
        """`task_id` starts now: it holds a slot until `release`."""
        self.active.add(task_id)
        self.last_start = now

    def release(self, task_id: int) -> None:
        """`task_id` is done (or never started): its slot is free."""
        self.active.discard(task_id)
        self.granted.discard(task_id)

    def next_opening(self) -> float | None:
        """When the interval lets a waiting child start, if only the interval holds it back (a full
        group opens when a child ends, not at a time)."""
        if not self.waiting or self.interval <= 0 or self.last_start is None:
            return None
        if self.running is not None and len(self.active) >= self.running:
            return None
        return self.last_start + self.interval


__all__ = ["Gate"]
