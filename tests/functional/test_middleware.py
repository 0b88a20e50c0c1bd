"""``HotReloadMiddleware`` in-process: the read lock per request, loading, clean failures."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from staticreload import AppLoadError, HotReloadMiddleware, ReloadResult
from staticreload.exceptions import ConfigError
from tests.conftest import WriteProject
from tests.servers import wait_until

WAIT_S = 20.0  # every wait below is bounded by this

APP = {
    "webapp/__init__.py": "",
    "webapp/views.py": "VERSION = 0\n",
    "webapp/main.py": """\
        import threading
        from webapp import views

        STREAMING = threading.Event()  # a response has started
        PROCEED = threading.Event()  # the test lets a streaming response finish
        CLOSED = []

        class Streaming:
            def __init__(self):
                self.version = views.VERSION

            def __iter__(self):
                yield b"v%d " % self.version
                STREAMING.set()
                assert PROCEED.wait(20)
                yield b"done"

            def close(self):
                CLOSED.append(views.VERSION)  # app code: must run before a reload

        def app(environ, start_response):
            start_response("200 OK", [])
            if environ.get("PATH_INFO") == "/stream":
                return Streaming()
            return [b"v%d" % views.VERSION]

        def create_app():
            return app
        """,
}


def call(app: Any, path: str = "/") -> bytes:
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "REMOTE_ADDR": "127.0.0.1"}
    response = app(environ, lambda status, headers: None)
    try:
        return b"".join(response)
    finally:
        response.close()


class Reload(threading.Thread):
    """``reload_paths`` in its own thread, as the watcher runs it."""

    def __init__(self, middleware: HotReloadMiddleware, path: Path) -> None:
        super().__init__(daemon=True)
        self.middleware = middleware
        self.path = path
        self.result: ReloadResult | None = None

    def run(self) -> None:
        self.result = self.middleware.reloader.reload_paths([self.path])


@pytest.fixture
def webapp(project: WriteProject) -> Iterator[tuple[Path, HotReloadMiddleware]]:
    root = project(APP)
    with HotReloadMiddleware("webapp.main:app", autostart=False) as middleware:
        yield root, middleware


def test_a_reload_waits_for_the_request_in_flight(
    webapp: tuple[Path, HotReloadMiddleware],
) -> None:
    root, middleware = webapp
    main = sys.modules["webapp.main"]
    bodies: list[bytes] = []
    request = threading.Thread(
        target=lambda: bodies.append(call(middleware, "/stream")), daemon=True
    )
    request.start()  # a server thread, blocked in the application's response
    assert main.STREAMING.wait(WAIT_S)

    (root / "webapp/views.py").write_text("VERSION = 1\n")
    reload = Reload(middleware, root / "webapp/views.py")
    reload.start()
    wait_until(lambda: middleware.reloader.lock.waiting_writers == 1, WAIT_S)
    assert reload.is_alive() and middleware.reloader.generation == 0

    main.PROCEED.set()
    request.join(WAIT_S)
    reload.join(WAIT_S)
    assert not reload.is_alive()
    assert reload.result is not None and reload.result.ok, reload.result
    assert bodies == [b"v0 done"]  # wholly the old code
    assert call(middleware) == b"v1"


def test_the_read_lock_is_held_until_the_response_is_closed(
    webapp: tuple[Path, HotReloadMiddleware],
) -> None:
    root, middleware = webapp
    main = sys.modules["webapp.main"]
    main.PROCEED.set()
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/stream", "REMOTE_ADDR": "127.0.0.1"}
    response = middleware(environ, lambda status, headers: None)
    assert b"".join(response) == b"v0 done"  # used up, not yet closed

    (root / "webapp/views.py").write_text("VERSION = 1\n")
    reload = Reload(middleware, root / "webapp/views.py")
    reload.start()
    wait_until(lambda: middleware.reloader.lock.waiting_writers == 1, WAIT_S)

    response.close()  # as the server does: the application's close() runs, then the reload
    reload.join(WAIT_S)
    assert reload.result is not None and reload.result.ok, reload.result
    assert main.CLOSED == [0]  # close() (Flask's teardown, say) ran against the old code
    assert call(middleware) == b"v1"


def test_a_bad_target_leaves_no_import_recorder_and_no_watcher(project: WriteProject) -> None:
    project(APP)
    meta_path = list(sys.meta_path)
    threads = set(threading.enumerate())
    with pytest.raises(AppLoadError, match="has no 'missing'"):
        HotReloadMiddleware("webapp.main:missing")
    assert sys.meta_path == meta_path
    wait_until(lambda: set(threading.enumerate()) <= threads, WAIT_S)


def test_a_bad_debounce_fails_before_the_application_is_imported(
    project: WriteProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    project(APP)
    meta_path = list(sys.meta_path)
    with pytest.raises(ConfigError, match=r"^debounce_s="):
        HotReloadMiddleware("webapp.main:app", debounce_s=-1)
    monkeypatch.setenv("STATICRELOAD_DEBOUNCE_S", "soon")
    with pytest.raises(ConfigError, match=r"^STATICRELOAD_DEBOUNCE_S="):
        HotReloadMiddleware("webapp.main:app")
    assert "webapp.main" not in sys.modules
    assert sys.meta_path == meta_path


def test_a_factory_given_as_a_callable_is_called(project: WriteProject) -> None:
    root = project(APP)
    __import__("webapp.main")
    create_app = sys.modules["webapp.main"].create_app
    with HotReloadMiddleware(
        create_app, targets=[root / "webapp"], factory=True, autostart=False
    ) as middleware:
        assert middleware.application is sys.modules["webapp.main"].app
        assert call(middleware) == b"v0"
        (root / "webapp/views.py").write_text("VERSION = 3\n")
        assert middleware.reloader.reload_paths([root / "webapp/views.py"]).ok
        assert call(middleware) == b"v3"


def test_a_save_during_a_slow_start_is_applied(project: WriteProject, tmp_path: Path) -> None:
    started, go = tmp_path / "started", tmp_path / "go"
    slow = f"""\
        import pathlib, time
        pathlib.Path({str(started)!r}).write_text("")
        deadline = time.monotonic() + {WAIT_S}
        while not pathlib.Path({str(go)!r}).exists() and time.monotonic() < deadline:
            time.sleep(0.01)  # a polling interval: the model is loading
        """
    root = project({**APP, "webapp/slow.py": slow})
    main = root / "webapp/main.py"
    main.write_text(main.read_text() + "import webapp.slow\n")
    made: list[HotReloadMiddleware] = []
    loading = threading.Thread(
        target=lambda: made.append(HotReloadMiddleware("webapp.main:app", debounce_s=0.01)),
        daemon=True,
    )
    loading.start()
    wait_until(started.exists, WAIT_S)
    (root / "webapp/views.py").write_text("VERSION = 4\n")  # views is already imported
    go.write_text("")
    loading.join(WAIT_S)
    assert made, "the middleware did not load"
    with made[0] as middleware:
        wait_until(lambda: call(middleware) == b"v4", WAIT_S)


def test_an_app_in_a_namespace_package_reloads(project: WriteProject) -> None:
    root = project(
        {
            "nsweb/views.py": "VERSION = 0\n",  # no __init__.py anywhere
            "nsweb/main.py": APP["webapp/main.py"].replace("from webapp", "from nsweb"),
        }
    )
    with HotReloadMiddleware("nsweb.main:app", autostart=False) as middleware:
        assert call(middleware) == b"v0"
        (root / "nsweb/views.py").write_text("VERSION = 5\n")
        assert middleware.reloader.reload_paths([root / "nsweb/views.py"]).ok
        assert call(middleware) == b"v5"
