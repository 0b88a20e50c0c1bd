"""``serve`` as supervisor and worker: restarts that refuse nothing, failures that wait for a fix.

Each test runs a real ``staticreload serve`` and real HTTP. Every wait is
bounded; none is a fixed sleep.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import time
from pathlib import Path

import pytest

from staticreload import HotReloadMiddleware
from tests.conftest import WriteProject
from tests.servers import (
    TORN_RESPONSE_APP,
    Clients,
    Server,
    process_gone,
    wait_until,
    write_files,
    write_module,
)

MAIN = (
    "from webapp import config, settings, views\n"
    "def app(environ, start_response):\n"
    "    body = f'{settings.NAME} {config.COLOR} v{views.VERSION}'.encode()\n"
    "    start_response('200 OK', [('Content-Length', str(len(body)))])\n"
    "    return [body]\n"
)
SETTINGS = (
    "import time\n"
    "__staticreload_decline__ = True\n"
    "time.sleep(0.3)  # a slow start: the old worker answers meanwhile\n"
    "NAME = {name!r}\n"
)
APP = {
    "webapp/__init__.py": "",
    "webapp/views.py": "VERSION = 0\n",
    "webapp/config.py": "COLOR = 'red'\n",
    "webapp/settings.py": SETTINGS.format(name="a"),
    "webapp/main.py": MAIN,
}


def test_declined_changes_restart_while_the_old_worker_answers(tmp_path: Path) -> None:
    write_files(tmp_path, APP)
    with (
        Server("webapp.main:app", "--restart-on", "*/config.py", cwd=tmp_path) as server,
        Clients(server, count=2) as clients,
    ):
        wait_until(lambda: len(clients.responses) >= 2)
        first = server.worker_pid

        write_module(tmp_path / "webapp/settings.py", SETTINGS.format(name="b"))
        server.wait_for_line(
            r"restart needed for webapp.settings: webapp.settings sets __staticreload_decline__"
        )
        requested = time.monotonic()
        server.wait_for("/", lambda status, body: body == "b red v0")
        wait_until(lambda: server.worker_pid != first)  # logged once it serves
        second = server.worker_pid
        assert "a red v0" in clients.bodies_after(requested)  # the old one kept answering
        wait_until(lambda: process_gone(first))

        write_module(tmp_path / "webapp/views.py", "VERSION = 1\n")  # hot again
        server.wait_for("/", lambda status, body: body == "b red v1")
        assert server.worker_pid == second

        write_module(tmp_path / "webapp/config.py", "COLOR = 'blue'\n")
        server.wait_for_line(r"restart needed for webapp.config: .* matches --restart-on")
        server.wait_for("/", lambda status, body: body == "b blue v1")
        wait_until(lambda: server.worker_pid != second)

    assert not clients.failures, clients.failures[:3]
    assert {status for _, status, _ in clients.responses} == {200}
    bodies = {body for _, _, body in clients.responses}
    assert bodies <= {"a red v0", "b red v0", "b red v1", "b blue v1"}, bodies
    restarts = [line for line in server.lines if "restart needed" in line]
    assert len(restarts) == 2, restarts  # one line each, saying why


def test_on_error_keep_keeps_the_old_worker_when_the_new_one_cannot_load(tmp_path: Path) -> None:
    write_files(tmp_path, APP)
    settings = tmp_path / "webapp/settings.py"
    with Server("webapp.main:app", "--on-error", "keep", cwd=tmp_path) as server:
        first = server.worker_pid
        write_module(settings, SETTINGS.format(name="b") + "1 / 0\n")
        server.wait_for_line(r"cannot load webapp.main:app: .*settings.py:5: ZeroDivisionError")
        server.wait_for_line(r"cannot serve: the previous one keeps serving")
        assert server.request("/") == (200, "a red v0")
        assert server.worker_pid == first
        write_module(settings, SETTINGS.format(name="c"))
        server.wait_for("/", lambda status, body: body == "c red v0")


def test_a_dead_worker_is_replaced_and_a_waiting_connection_answered(tmp_path: Path) -> None:
    write_files(tmp_path, APP)
    with Server("webapp.main:app", cwd=tmp_path) as server:
        first = server.worker_pid
        os.kill(first, signal.SIGKILL)  # as the OOM killer does
        wait_until(lambda: process_gone(first))
        # No worker accepts now: the connection waits in the socket's backlog.
        assert server.request("/") == (200, "a red v0")
        server.wait_for_line(rf"worker {first} died \(SIGKILL\); starting another")
        wait_until(lambda: server.worker_pid != first)  # logged once it serves


REGISTRY_APP = {
    "webapp/__init__.py": "",
    # State outside the reloaded modules: it refuses to run views a second time.
    "webapp/registry.py": (
        "NAMES = set()\n"
        "def register(name):\n"
        "    if name in NAMES:\n"
        "        raise ValueError(f'{name!r} is already registered')\n"
        "    NAMES.add(name)\n"
    ),
    "webapp/views.py": "from webapp import registry\nregistry.register('home')\nVERSION = 0\n",
    "webapp/other.py": "TEXT = 'x'\n",
    "webapp/main.py": (
        "from webapp import other, views\n"
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [])\n"
        "    return [f'v{views.VERSION} {other.TEXT}'.encode()]\n"
    ),
}


def test_a_reload_that_fails_where_a_cold_start_works_restarts(tmp_path: Path) -> None:
    write_files(tmp_path, REGISTRY_APP)
    views = tmp_path / "webapp/views.py"
    with Server("webapp.main:app", cwd=tmp_path) as server:
        first = server.worker_pid
        write_module(views, REGISTRY_APP["webapp/views.py"].replace("= 0", "= 1"))
        server.wait_for_line(r"'home' is already registered")  # the hot reload failed
        server.wait_for("/", lambda status, body: body == "v1 x")  # the restart applied it
        wait_until(lambda: server.worker_pid != first)
        server.wait_for_line(
            r"reload of webapp.views failed where a cold start works: restart needed"
        )

        second = server.worker_pid
        write_module(tmp_path / "webapp/other.py", "TEXT = 'y'\n")
        server.wait_for("/", lambda status, body: body == "v1 y")
        assert server.worker_pid == second  # later edits are hot again


@pytest.mark.parametrize(
    ("broken", "shown"),
    [
        ("VERSION = (\n", "SyntaxError"),
        ("VERSION = 1 / 0\n", "ZeroDivisionError"),
        ("import webapp.helpers\nVERSION = 0\n", "No module named &#x27;webapp.helpers&#x27;"),
    ],
    ids=["syntax error", "exception", "missing module of the project"],
)
def test_a_start_up_failure_shows_the_page_until_an_edit_fixes_it(
    tmp_path: Path, broken: str, shown: str
) -> None:
    write_files(tmp_path, {**APP, "webapp/views.py": broken})
    with Server("webapp.main:app", cwd=tmp_path) as server:
        status, body = server.request("/")
        assert status == 500 and shown in body, body[:2000]
        assert "views.py, line 1" in body and "Traceback" in body, body[:2000]
        server.wait_for_line(r"cannot load webapp.main:app: .*views.py:1: .*waiting for an edit")
        write_module(tmp_path / "webapp/views.py", "VERSION = 0\n")
        server.wait_for("/", lambda status, body: body == "a red v0")


LOOP = "import time\nwhile True:\n    time.sleep(0.001)\n"


def test_runaway_imports_get_a_503_page_and_the_next_edit_restarts(tmp_path: Path) -> None:
    views = tmp_path / "webapp/views.py"
    write_files(tmp_path, {**APP, "webapp/views.py": "VERSION = 0\n" + LOOP})
    with Server("webapp.main:app", "--import-timeout", "1", cwd=tmp_path) as server:
        # At start: the import never ends.
        status, body = server.request("/")
        assert status == 503 and re.search(r"views\.py, line [34]", body), body[:2000]
        write_module(views, "VERSION = 1\n")
        server.wait_for("/", lambda status, body: body == "a red v1")
        first = server.worker_pid

        # In a reload: requests wait for it, up to the limit, then get the page.
        write_module(views, "VERSION = 2\n" + LOOP)
        status, body = server.wait_for("/", lambda status, body: status == 503)
        assert re.search(r"views\.py, line [34]", body), body[:2000]
        write_module(views, "VERSION = 3\n")
        server.wait_for("/", lambda status, body: body == "a red v3")
        wait_until(lambda: server.worker_pid != first)
        wait_until(lambda: process_gone(first))


def test_a_worker_that_keeps_crashing_at_start_waits_for_an_edit(tmp_path: Path) -> None:
    crash = "import ctypes\nctypes.string_at(0)\nVERSION = 0\n"  # a segfault in an extension
    write_files(tmp_path, {**APP, "webapp/views.py": crash})
    with Server("webapp.main:app", cwd=tmp_path) as server:
        assert "(no worker: see the error page)" in server.wait_for_line("serving on")
        server.wait_for_line(r"died \(SIGSEGV at .*views.py:2\), 3 times in a row")
        status, body = server.request("/")  # the supervisor answers itself
        assert status == 500 and "SIGSEGV" in body and "views.py, line 2" in body, body[:2000]
        write_module(tmp_path / "webapp/views.py", "VERSION = 0\n")
        server.wait_for("/", lambda status, body: body == "a red v0")
    deaths = [line for line in server.lines if "died (SIGSEGV" in line]
    assert len(deaths) == 3, deaths  # backed off, then stopped trying


# The load test: clients without pause while edits alternate between hot
# reloads and restarts (every third edit touches the declined module).
LOAD_APP = {
    **TORN_RESPONSE_APP,
    "shop/flag.py": "__staticreload_decline__ = True\nFLAG = 0\n",
    "shop/app.py": TORN_RESPONSE_APP["shop/app.py"]
    .replace("import shop.pages\n", "import shop.flag\nimport shop.pages\n")
    .replace("/v{shop.pages.VERSION}'", "/v{shop.pages.VERSION}/f{shop.flag.FLAG}'"),
}
LOAD_CLIENTS = 4
LOAD_EDITS = 9


def test_load_no_refused_connection_no_torn_response_no_lost_request(tmp_path: Path) -> None:
    write_files(tmp_path, LOAD_APP)
    version = flag = 0
    with (
        Server("shop.app:application", cwd=tmp_path) as server,
        Clients(server, count=LOAD_CLIENTS) as clients,
    ):
        wait_until(lambda: len(clients.responses) >= LOAD_CLIENTS)
        for edit in range(1, LOAD_EDITS + 1):
            if edit % 3 == 0:
                flag += 1
                declined = f"__staticreload_decline__ = True\nFLAG = {flag}\n"
                write_module(tmp_path / "shop/flag.py", declined)
            else:
                version += 1
                write_module(tmp_path / "shop/prices.py", f"VERSION = {version}\n")
            expected = f"v{version}/v{version}/f{flag}"
            server.wait_for("/", lambda status, body, e=expected: body == e)
    restarts = sum("restart needed" in line for line in server.lines)
    torn = [
        body
        for _, status, body in clients.responses
        if status != 200 or not re.fullmatch(r"v(\d+)/v\1/f\d+", body)
    ]
    print(
        f"\nload: {len(clients.responses)} answered, {len(clients.failures)} unanswered, "
        f"{len(torn)} torn, {LOAD_EDITS} edits ({restarts} restarts)"
    )
    assert not clients.failures, clients.failures[:3]
    assert not torn, torn[:5]
    assert restarts == LOAD_EDITS // 3, "".join(
        line for line in server.lines if "restart" in line or "worker" in line or "reload" in line
    )
    assert len(clients.responses) > LOAD_EDITS * LOAD_CLIENTS


# The same decision in process: HotReloadMiddleware in someone else's server.


def test_the_middleware_says_when_only_a_restart_applies_a_change(
    project: WriteProject, caplog: pytest.LogCaptureFixture
) -> None:
    root = project(
        {
            **REGISTRY_APP,
            "webapp/flag.py": "__staticreload_decline__ = True\n",
            "webapp/main.py": REGISTRY_APP["webapp/main.py"] + "import webapp.flag\n",
        }
    )
    views, good = root / "webapp/views.py", REGISTRY_APP["webapp/views.py"]
    reasons: list[str] = []
    caplog.set_level(logging.DEBUG, logger="staticreload.wsgi")
    with HotReloadMiddleware("webapp.main:app", autostart=False) as middleware:
        middleware.add_restart_handler(reasons.append)
        reload = middleware.reloader.reload_paths

        # The code's own error: a cold start fails too.
        views.write_text(good.replace("VERSION = 0", "VERSION = 1 / 0"))
        assert not reload([views]).ok
        wait_until(lambda: "a cold start fails too" in caplog.text)
        assert not middleware.needs_restart and reasons == []

        # State outside the closure refuses the reload; a cold start works.
        views.write_text(good.replace("VERSION = 0", "VERSION = 1"))
        assert not reload([views]).ok
        wait_until(lambda: middleware.needs_restart)
        assert reasons == [middleware.restart_reason]
        assert reasons[0] == "the reload of webapp.views failed where a cold start works"

        # A module that declines hot reload: decided at once.
        (root / "webapp/flag.py").write_text("__staticreload_decline__ = True\nX = 1\n")
        declined = "webapp.flag sets __staticreload_decline__"
        assert reload([root / "webapp/flag.py"]).restart == declined
        assert reasons[-1] == middleware.restart_reason == declined
