"""A small pool of read connections, so concurrent dashboard sessions don't queue on one connection.

A DB-API connection runs one statement at a time. Streamlit runs every session's script in a thread
of one server process, and ``dashboard.queries.gather`` runs a page's queries on threads of their
own; with one shared connection behind a lock every query of every session waited for the one
before it (bench/readers.py measures the difference). Connections are made on demand up to
``size``, reused newest first, and a closed or broken one is dropped instead of being returned.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator


class ConnectionPool:
    def __init__(self, connect: Callable[[], Any], size: int, usable: Callable[[Any], bool] | None = None) -> None:
        if size < 1:
            raise ValueError("a pool needs at least one connection")
        self.size = size
        self._connect = connect
        self._usable = usable or _usable
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._idle: list[tuple[Any, int]] = []
        self._generation = 0  # bumped by close(): connections of an older one are not reused

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """A connection for one statement; waits while ``size`` are in use. A connection is not
        reused when the statement raised, when it was closed, or when ``usable`` says so."""
        with self._slots:
            with self._lock:
                conn, generation = self._idle.pop() if self._idle else (None, self._generation)
            if conn is None:
                conn = self._connect()
            failed = True
            try:
                yield conn
                failed = False
            finally:
                # A statement that raised may have left the connection in any state: not reused.
                usable = not failed and self._usable(conn)
                with self._lock:
                    keep = usable and generation == self._generation
                    if keep:
                        self._idle.append((conn, generation))
                if not keep and not getattr(conn, "closed", False):
                    conn.close()

    def close(self) -> None:
        """Close the idle connections now and those in use when they come back."""
        with self._lock:
            idle, self._idle = self._idle, []
            self._generation += 1
        for conn, _ in idle:
            conn.close()


def _usable(conn: Any) -> bool:
    return not getattr(conn, "closed", False) and not getattr(conn, "broken", False)
