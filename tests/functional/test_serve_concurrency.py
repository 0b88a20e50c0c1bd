"""Requests keep flowing while edits land: no errors, no response from a half-reloaded app."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

from tests.servers import TORN_RESPONSE_APP, Server, wait_until, write_files, write_module

CLIENTS = 6
EDITS = 15
EDIT_INTERVAL_S = 0.1


def test_every_response_is_wholly_old_or_wholly_new(tmp_path: Path) -> None:
    write_files(tmp_path, TORN_RESPONSE_APP)
    responses: list[str] = []
    failures: list[BaseException] = []
    done = threading.Event()

    with Server("shop.app:application", cwd=tmp_path) as server:

        def client() -> None:
            deadline = time.monotonic() + 60  # bounded in time as well as by `done`
            while not done.is_set() and time.monotonic() < deadline:
                try:
                    status, body = server.request("/", timeout_s=10)
                    responses.append(f"{status} {body}")
                except Exception as error:  # a refused or reset connection
                    failures.append(error)

        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        try:
            wait_until(lambda: len(responses) >= CLIENTS)  # version 0 seen before any edit
            for version in range(1, EDITS + 1):
                write_module(tmp_path / "shop/prices.py", f"VERSION = {version}\n")
                server.wait_for("/", lambda s, b, v=version: b == f"v{v}/v{v}")
                time.sleep(EDIT_INTERVAL_S)  # pacing of the edits; asserts nothing
        finally:
            done.set()
            for thread in threads:
                thread.join(30)

    assert not failures, failures[:3]
    assert len(responses) > EDITS * CLIENTS
    torn = [r for r in responses if not re.fullmatch(r"200 v(\d+)/v\1", r)]
    assert not torn, torn[:5]
    versions = {int(r.split("v")[1].split("/")[0]) for r in responses}
    assert versions >= {0, EDITS}
