"""A readers/writer lock: requests read, a reload writes."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

__all__ = ["ReadWriteLock"]


class ReadWriteLock:
    """Many readers at once, or one writer; a waiting writer goes before new readers.

    Reads are re-entrant per thread (a reader may read again while a writer
    waits). Writes are re-entrant too. A thread that holds a read must not ask
    to write: that would wait for itself, so it raises ``RuntimeError``.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer: int | None = None
        self._write_depth = 0
        self._writers_waiting = 0
        self._local = threading.local()

    @property
    def waiting_writers(self) -> int:
        """How many threads wait to write (for diagnostics and tests)."""
        with self._condition:
            return self._writers_waiting

    def _read_depth(self) -> int:
        depth: int = getattr(self._local, "depth", 0)
        return depth

    @contextlib.contextmanager
    def read(self) -> Iterator[None]:
        """Hold the lock as a reader for the block."""
        self.acquire_read()
        try:
            yield
        finally:
            self.release_read()

    def acquire_read(self, timeout_s: float | None = None) -> bool:
        """Wait until no writer holds or waits for the lock, then read.

        Args:
            timeout_s: give up after this many seconds; None waits as long as it takes.

        Returns:
            True once reading; False if ``timeout_s`` passed first (nothing is held then).
        """
        me = threading.get_ident()
        with self._condition:
            if self._read_depth() == 0 and self._writer != me:
                free = self._condition.wait_for(
                    lambda: self._writer is None and self._writers_waiting == 0, timeout_s
                )
                if not free:
                    return False
            self._readers += 1
        self._local.depth = self._read_depth() + 1
        return True

    def release_read(self) -> None:
        """Stop reading."""
        self._local.depth = self._read_depth() - 1
        with self._condition:
            self._readers -= 1
            if self._readers == 0:
                self._condition.notify_all()

    @contextlib.contextmanager
    def write(self) -> Iterator[None]:
        """Hold the lock as the only writer for the block, once readers are done.

        Raises:
            RuntimeError: the calling thread holds a read.
        """
        me = threading.get_ident()
        with self._condition:
            if self._writer == me:
                self._write_depth += 1
            else:
                if self._read_depth():
                    raise RuntimeError("a thread holding a read cannot wait to write")
                self._writers_waiting += 1
                try:
                    self._condition.wait_for(lambda: self._writer is None and self._readers == 0)
                finally:
                    self._writers_waiting -= 1
                self._writer, self._write_depth = me, 1
        try:
            yield
        finally:
            with self._condition:
                self._write_depth -= 1
                if self._write_depth == 0:
                    self._writer = None
                    self._condition.notify_all()
