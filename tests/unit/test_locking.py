from __future__ import annotations

import threading

import pytest

from staticreload.locking import ReadWriteLock
from tests.servers import wait_until


def test_a_waiting_writer_goes_before_new_readers() -> None:
    lock = ReadWriteLock()
    order: list[str] = []
    first_read = threading.Event()
    release_first = threading.Event()

    def first_reader() -> None:
        with lock.read():
            first_read.set()
            release_first.wait(10)
            order.append("first reader done")

    def writer() -> None:
        with lock.write():
            order.append("writer")

    def late_reader() -> None:
        with lock.read():
            order.append("late reader")

    threads = [threading.Thread(target=first_reader)]
    threads[0].start()
    assert first_read.wait(10)
    threads.append(threading.Thread(target=writer))
    threads[1].start()
    wait_until(lambda: lock.waiting_writers == 1)
    threads.append(threading.Thread(target=late_reader))
    threads[2].start()
    release_first.set()
    for thread in threads:
        thread.join(10)
    assert order == ["first reader done", "writer", "late reader"]


def test_reads_nest_and_a_reader_cannot_wait_to_write() -> None:
    lock = ReadWriteLock()
    with lock.read(), lock.read(), pytest.raises(RuntimeError), lock.write():
        pass
    with lock.write(), lock.write(), lock.read():  # the writer may also read
        pass
    assert lock.waiting_writers == 0
