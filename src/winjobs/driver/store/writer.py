"""One thread commits the worker protocol's writes, many per transaction (group commit).

Claims and reports arrive by the hundred per second. Each used to take a thread of the
pool, wait there for the store's write lock, and open, run and commit its own
transaction through SQLAlchemy. Here they queue for one writer thread instead, which
takes whatever has queued, runs it on its own DBAPI connection in ONE transaction (each
operation in a savepoint, so a refused report rolls back alone), commits, writes the
job-log lines the operations left, and only then answers them all: one commit, one
thread wake-up and one event-loop wake-up per batch instead of per request. Nothing is
answered before its commit, so a driver killed at any moment has answered only what is
stored.

On SQLite the writer holds the store's write lock for each batch, so the SQLAlchemy
writers (submissions, cancels, the sweeper, the collector) still take turns with it. On
PostgreSQL a batch is one operation: operations of a batch would lock rows of several
workers and jobs in no common order, and could deadlock with the other writers, which
lock worker, job, tasks in that order.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import Engine

from winjobs.driver.errors import Unavailable
from winjobs.driver.store.records import Clock
from winjobs.driver.store.sql import Sql

log = logging.getLogger(__name__)

T = TypeVar("T")

#: where the job-log lines of committed operations go: [(job id, text)]
Journal = Callable[[list[tuple[int, str]]], None]


@dataclass
class Tx:
    """What an operation gets: the cursor of the batch's transaction, the dialect, the
    clock; `log` for job-log lines and `after` for actions, both carried out once the
    batch is committed (by the writer thread, before the operations are answered)."""

    cursor: Any
    sql: Sql
    clock: Clock
    lines: list[tuple[int, str]] = field(default_factory=list)
    actions: list[Callable[[], None]] = field(default_factory=list)

    def execute(self, statement: str, params: dict[str, Any] | None = None) -> Any:
        return self.cursor.execute(self.sql.text(statement), params or {})

    def one(self, statement: str, params: dict[str, Any] | None = None) -> Any:
        """The first row, or None."""
        return self.execute(statement, params).fetchone()

    def log(self, job_id: int, text: str) -> None:
        self.lines.append((job_id, text))

    def after(self, action: Callable[[], None]) -> None:
        self.actions.append(action)


Operation = Callable[[Tx], T]


@dataclass
class _Pending(Generic[T]):
    """An operation waiting for its batch; answered through `future` (a thread's) or
    `waiting` (an event loop's future, set from that loop)."""

    operation: Operation[T]
    future: concurrent.futures.Future[T] | None = None
    waiting: tuple[asyncio.AbstractEventLoop, asyncio.Future[T]] | None = None
    result: T | None = None
    error: BaseException | None = None
    lines: list[tuple[int, str]] = field(default_factory=list)
    actions: list[Callable[[], None]] = field(default_factory=list)


class Writer:
    def __init__(
        self,
        engine: Engine,
        sql: Sql,
        clock: Clock,
        lock: AbstractContextManager[Any],
        max_batch: int,
    ) -> None:
        self.engine, self.sql, self.clock = engine, sql, clock
        self._lock = lock
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Pending[Any] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._connection: Any = None
        self._stopped = False
        self.journal: Journal | None = None

    # ------------------------------------------------------------------ callers

    async def run(self, operation: Operation[T]) -> T:
        """Run `operation` in the next batch, from the event loop; its result once
        committed (or its exception)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._submit(_Pending(operation, waiting=(loop, future)))
        return await future

    def call(self, operation: Operation[T]) -> T:
        """The same from a thread (blocks until committed)."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._submit(_Pending(operation, future=future))
        return future.result()

    def _submit(self, pending: _Pending[Any]) -> None:
        if self._thread is None:
            self._start()
        if self._stopped:
            raise Unavailable("the driver is stopping")
        self._queue.put(pending)

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None and not self._stopped:
                self._thread = threading.Thread(
                    target=self._loop, name="winjobs-store-writer", daemon=True
                )
                self._thread.start()

    def stop(self) -> None:
        """Finish what is queued, then close the connection."""
        with self._start_lock:
            self._stopped = True
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=60)
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    # ------------------------------------------------------------------ the thread

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)  # stop after this batch
                    break
                batch.append(more)
            self._commit(batch)
            self._after_commit(batch)
            _answer(batch)

    def _commit(self, batch: list[_Pending[Any]]) -> None:
        with self._lock:
            try:
                connection = self._dbapi()
                cursor = connection.cursor()
                if self.sql.sqlite:
                    cursor.execute("BEGIN IMMEDIATE")
                for pending in batch:
                    self._apply(cursor, pending, savepoint=len(batch) > 1)
                connection.commit()
            except Exception as exc:
                self._abandon(exc)
                error = Unavailable(f"the database did not take the change: {exc}")
                for pending in batch:
                    if pending.error is None:
                        pending.error, pending.lines, pending.actions = error, [], []

    def _apply(self, cursor: Any, pending: _Pending[Any], savepoint: bool) -> None:
        tx = Tx(cursor, self.sql, self.clock)
        if savepoint:
            cursor.execute("SAVEPOINT winjobs_op")
        try:
            pending.result = pending.operation(tx)
        except Exception as exc:
            pending.error = exc
            if not savepoint:
                raise
            cursor.execute("ROLLBACK TO SAVEPOINT winjobs_op")
        else:
            pending.lines, pending.actions = tx.lines, tx.actions
        if savepoint:
            cursor.execute("RELEASE SAVEPOINT winjobs_op")

    def _dbapi(self) -> Any:
        if self._connection is None:
            self._connection = self.engine.raw_connection()
        return self._connection.driver_connection

    def _abandon(self, exc: Exception) -> None:
        """Roll back; a connection that failed is dropped (the next batch opens another)."""
        try:
            self._connection.rollback()
        except Exception:
            log.warning("dropping the writer's database connection after: %s", exc)
            try:
                self._connection.invalidate()
            finally:
                self._connection = None

    def _after_commit(self, batch: list[_Pending[Any]]) -> None:
        lines = [line for pending in batch for line in pending.lines]
        if lines and self.journal is not None:
            try:
                self.journal(lines)
            except Exception:
                log.exception("job log lines could not be written")
        for pending in batch:
            for action in pending.actions:
                try:
                    action()
                except Exception:
                    log.exception("an action after a commit failed")


def _answer(batch: list[_Pending[Any]]) -> None:
    """Settle every operation of a committed batch: one wake-up per event loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Pending[Any]]] = {}
    for pending in batch:
        if pending.waiting is not None:
            by_loop.setdefault(pending.waiting[0], []).append(pending)
        elif pending.future is not None:
            if pending.error is not None:
                pending.future.set_exception(pending.error)
            else:
                pending.future.set_result(pending.result)
    for loop, answers in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            loop.call_soon_threadsafe(_settle_futures, answers)


def _settle_futures(answers: list[_Pending[Any]]) -> None:
    for pending in answers:
        assert pending.waiting is not None
        future = pending.waiting[1]
        if future.done():  # its request was cancelled (client gone, shut-down)
            continue
        if pending.error is not None:
            future.set_exception(pending.error)
        else:
            future.set_result(pending.result)
