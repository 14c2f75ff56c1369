"""A PostgreSQL warehouse that behaves like Redshift towards its client: every statement pays a fixed
overhead (Redshift's leader node: queueing, compiling a new query shape, returning through the
leader; hundreds of ms) and at most ``cap`` statements run at once (a WLM queue's slots, 5 by
default), the others wait for a slot. The data, the SQL and the driver are PostgreSQL's.

    python -m bench.readers --warehouse <PostgreSQL URL> --latency-ms 250 --cap 5

Used by ``bench/readers.py`` (``--latency-ms``, ``--cap``) and ``tests/test_replica.py`` to show that,
once the dashboard holds its copy of the marts (dashboard/replica.py), its time per filter change
does not depend on the warehouse's latency. NOTE: a model, not Redshift: no per-slice parallelism,
no result cache, one overhead for every statement whatever its shape.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator

from pipeline.warehouse.postgres_wh import PostgresWarehouse


class Gate:
    """The server side of the model: ``cap`` slots; each statement holds one for ``overhead_s`` + its run."""

    def __init__(self, overhead_s: float, cap: int) -> None:
        self.overhead_s = overhead_s
        self.cap = cap
        self._slots = threading.BoundedSemaphore(cap)
        self.statements = 0
        self._count = threading.Lock()

    @contextmanager
    def statement(self) -> Iterator[None]:
        with self._slots:
            with self._count:
                self.statements += 1
            time.sleep(self.overhead_s)
            yield


class _Cursor:
    def __init__(self, inner: Any, gate: Gate) -> None:
        self._inner, self._gate = inner, gate

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        with self._gate.statement():
            return self._inner.execute(*args, **kwargs)

    @contextmanager
    def copy(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        with self._gate.statement(), self._inner.copy(*args, **kwargs) as copy:
            yield copy

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _Connection:
    def __init__(self, inner: Any, gate: Gate) -> None:
        self._inner, self._gate = inner, gate

    def cursor(self, *args: Any, **kwargs: Any) -> _Cursor:
        return _Cursor(self._inner.cursor(*args, **kwargs), self._gate)

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        with self._gate.statement():
            return self._inner.execute(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class LatencyWarehouse(PostgresWarehouse):
    """:class:`PostgresWarehouse` whose every connection's statements pass through one :class:`Gate`."""

    def __init__(self, url: str, latency_ms: float = 250.0, cap: int = 5, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self.gate = Gate(latency_ms / 1000.0, cap)

    def _connect(self, *, autocommit: bool = False) -> Any:
        return _Connection(super()._connect(autocommit=autocommit), self.gate)
