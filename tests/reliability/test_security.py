"""The development server's exposure: error details, bind address, what the watcher may import.

(``staticreload map`` never executing analysed code is tested in
tests/functional/test_cli_map.py.)
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from staticreload import HotReloadMiddleware, Reloader
from staticreload.live import LiveReload
from tests.conftest import WriteProject
from tests.functional.test_watcher import ReloadLog
from tests.servers import Server, wait_until

APP = {
    "webapp/__init__.py": "",
    "webapp/views.py": "SECRET_SOURCE_LINE = 'token-123'\n",
    "webapp/main.py": (
        "from webapp import views\n"
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [])\n"
        "    return [views.SECRET_SOURCE_LINE.encode()]\n"
    ),
}


def call(app: Any, remote_addr: str) -> tuple[str, bytes]:
    status: list[str] = []
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "REMOTE_ADDR": remote_addr}
    response = app(environ, lambda s, headers: status.append(s))
    body = b"".join(response)
    response.close()
    return status[0], body


@pytest.fixture
def broken_app(project: WriteProject) -> Iterator[HotReloadMiddleware]:
    root = project(APP)
    with HotReloadMiddleware("webapp.main:app", autostart=False) as middleware:
        views = root / "webapp/views.py"
        views.write_text("SECRET_SOURCE_LINE = 'token-456'\nraise ValueError('boom')\n")
        assert not middleware.reloader.reload_paths([views]).ok
        yield middleware


@pytest.mark.parametrize("address", ["127.0.0.1", "127.5.0.1", "::1"])
def test_error_details_go_to_loopback_clients(
    broken_app: HotReloadMiddleware, address: str
) -> None:
    status, body = call(broken_app, address)
    assert status.startswith("500")
    assert b"views.py" in body and b"ValueError" in body
    assert b"raise ValueError(&#x27;boom&#x27;)" in body  # the source line itself


@pytest.mark.parametrize("address", ["192.0.2.10", "10.1.2.3", "", "not-an-address"])
def test_other_clients_get_a_plain_500(broken_app: HotReloadMiddleware, address: str) -> None:
    status, body = call(broken_app, address)
    assert status.startswith("500")
    assert body == b"Internal Server Error\n"


def test_serve_binds_loopback_unless_told_and_warns(project: WriteProject) -> None:
    root = project(APP)
    with Server("webapp.main:app", cwd=root) as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert not any("WARNING" in line for line in server.lines)
    with Server("webapp.main:app", "--host", "0.0.0.0", cwd=root) as server:
        wait_until(lambda: any("WARNING" in line for line in server.lines))
        assert any("other machines can reach" in line for line in server.lines)


def test_watcher_never_imports_files_outside_the_targets(
    project: WriteProject, tmp_path: Path
) -> None:
    root = project({**APP, "webapp/sentinel.py": "N = 0\n"})
    outside = tmp_path / "outside.py"
    outside.write_text("X = 1\n")
    (root / "webapp/link.py").symlink_to(outside)
    (root / "webapp/venv/lib").mkdir(parents=True)
    (root / "webapp/.venv").mkdir()
    reloader = Reloader.from_targets("webapp", root=root)
    reloader.install()
    log = ReloadLog(reloader)
    with LiveReload(reloader):
        __import__("webapp.main")
        __import__("webapp.sentinel")
        trap = "raise SystemExit('must never be imported')\n"
        outside.write_text(trap)  # through the symlink
        (root / "webapp/venv/lib/evil.py").write_text(trap)
        (root / "webapp/.venv/evil.py").write_text(trap)
        direct = reloader.reload_paths(
            [root / "webapp" / ".." / ".." / "outside.py", root / "webapp/link.py", outside]
        )
        assert direct.changed == () and direct.reloaded == ()
        (root / "webapp/sentinel.py").write_text("N = 1\n")
        log.wait_for(lambda _: sys.modules["webapp.sentinel"].N == 1)
    assert [r.changed for r in log.results] == [("webapp.sentinel",)]
    assert "webapp.link" not in sys.modules and "outside" not in sys.modules
