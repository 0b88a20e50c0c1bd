"""``staticreload serve`` under concurrent clients while edits land, some of them broken.

Loopback only, bounded in threads, requests and time.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest

from tests.reliability.conftest import LONG, STATS
from tests.servers import TORN_RESPONSE_APP, Server, write_files, write_module

CLIENTS = 8
DURATION_S = 60.0 if LONG else 8.0
EDIT_INTERVAL_S = 0.3
BROKEN_EVERY = 5  # every fifth edit is a syntax error, fixed by the next one


@pytest.mark.timeout(DURATION_S + 240)
def test_load_while_reloading(tmp_path: Path) -> None:
    write_files(tmp_path, TORN_RESPONSE_APP)
    responses: list[tuple[int, str]] = []
    failures: list[BaseException] = []
    done = threading.Event()
    edits = broken = 0
    with Server("shop.app:application", cwd=tmp_path) as server:

        def client() -> None:
            deadline = time.monotonic() + DURATION_S + 30
            while not done.is_set() and time.monotonic() < deadline:
                try:
                    responses.append(server.request("/", timeout_s=10))
                except Exception as error:
                    failures.append(error)

        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        try:
            ends = time.monotonic() + DURATION_S
            while time.monotonic() < ends:
                edits += 1
                if edits % BROKEN_EVERY == 0:
                    broken += 1
                    write_module(tmp_path / "shop/prices.py", "VERSION = (\n")
                    server.wait_for("/", lambda s, b: s == 500)
                else:
                    write_module(tmp_path / "shop/prices.py", f"VERSION = {edits}\n")
                    server.wait_for("/", lambda s, b, v=edits: b == f"v{v}/v{v}")
                time.sleep(EDIT_INTERVAL_S)  # pacing of the edits; asserts nothing
        finally:
            done.set()
            for thread in threads:
                thread.join(60)
        assert server.alive

    assert not failures, failures[:3]
    errors = [body for status, body in responses if status != 200]
    assert all("Reload failed" in body for body in errors), errors[:2]
    torn = [
        body
        for status, body in responses
        if status == 200 and not re.fullmatch(r"v(\d+)/v\1", body)
    ]
    assert not torn, torn[:5]
    STATS["requests served during edits"] += len(responses)
    STATS["error pages for broken edits"] += len(errors)
    STATS["edits under load"] += edits
    STATS["broken edits under load"] += broken
