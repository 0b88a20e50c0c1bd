"""``HotReloadASGIMiddleware``: a FastAPI app under a real uvicorn, and the gate in-process.

The end-to-end tests copy ``tests/asgi_app`` into ``tmp_path``, serve it with
uvicorn in a subprocess (the middleware as the application) and edit it the
way an editor saves; the lifespan appends a line per start and stop to a
file, so each test counts the lifespan's runs.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("fastapi")
pytest.importorskip("sqlmodel")
httpx = pytest.importorskip("httpx")
websockets_client = pytest.importorskip("websockets.sync.client")

from staticreload import AppLoadError  # noqa: E402
from staticreload.asgi import HotReloadASGIMiddleware, is_asgi_application  # noqa: E402
from tests.conftest import WriteProject  # noqa: E402
from tests.servers import wait_until, write_module  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "tests" / "asgi_app"
START_TIMEOUT_S = 60.0
CHANGE_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 15.0

# uvicorn's command line has no --port 0: bind the socket here, say where once serving.
RUN_SERVER = """\
import socket
import sys

import uvicorn


class Server(uvicorn.Server):
    async def startup(self, sockets=None):
        await super().startup(sockets=sockets)
        if not self.should_exit:
            print(f"serving on http://127.0.0.1:{sockets[0].getsockname()[1]}", flush=True)


sock = socket.socket()
sock.bind(("127.0.0.1", 0))
sys.path.insert(0, ".")
Server(uvicorn.Config(sys.argv[1], log_level="info", access_log=False)).run(sockets=[sock])
"""

ENTRY = """\
import logging
import os

from staticreload.asgi import HotReloadASGIMiddleware

logging.basicConfig(level=logging.INFO)
app = HotReloadASGIMiddleware(
    "asgi_app.main:app", debounce_s=0.01, on_error=os.environ.get("ON_ERROR", "page")
)
"""


class Uvicorn:
    """The copied app under uvicorn, with the middleware, in a subprocess of its own."""

    def __init__(self, folder: Path, env: dict[str, str] | None = None) -> None:
        self.folder = folder
        self.app = folder / "asgi_app"
        self.log = folder / "lifespan.log"
        self.env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
            "ASGI_APP_DB": str(folder / "app.sqlite3"),
            "ASGI_APP_LIFESPAN_LOG": str(self.log),
            "ASGI_APP_MODEL_LOAD_S": "0.2",
            **(env or {}),
        }
        self.lines: list[str] = []
        self.url = ""
        self._ready = threading.Event()

    def __enter__(self) -> Uvicorn:
        self.process = subprocess.Popen(
            [sys.executable, "run_server.py", "entry:app"],
            cwd=self.folder,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._ready.wait(START_TIMEOUT_S) or not self.url:
            self.stop()
            raise AssertionError("uvicorn did not start:\n" + self.output)
        self.client = httpx.Client(base_url=self.url, timeout=CHANGE_TIMEOUT_S)
        return self

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            found = re.search(r"serving on (http://\S+)", line)
            if found:
                self.url = found.group(1)
                self._ready.set()
        self._ready.set()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def stop(self) -> None:
        """Ctrl-C (uvicorn shuts the lifespan down), then a kill after a bounded wait."""
        if hasattr(self, "client"):
            self.client.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT_S)
        self._reader.join(STOP_TIMEOUT_S)
        assert self.process.stdout is not None
        self.process.stdout.close()

    def lifespan(self) -> list[str]:
        """The lifespan's events so far: ``"start"`` and ``"stop"``."""
        if not self.log.exists():
            return []
        return [line.split()[0] for line in self.log.read_text().splitlines()]

    def get(self, path: str) -> tuple[int, str]:
        response = self.client.get(path)
        return response.status_code, response.text

    def wait_for(self, path: str, predicate: Callable[[int, str], bool]) -> tuple[int, str]:
        """Poll ``path`` until ``predicate(status, body)``; fail after a bounded wait."""
        deadline = time.monotonic() + CHANGE_TIMEOUT_S
        status, body = 0, ""
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "uvicorn died:\n" + self.output
            status, body = self.get(path)
            if predicate(status, body):
                return status, body
            time.sleep(0.01)  # a polling interval, not a wait for an outcome
        raise AssertionError(f"timed out on {path}; last {status}: {body[:500]}\n{self.output}")

    def edit(self, relative: str, old: str, new: str) -> None:
        path = self.app / relative
        source = path.read_text()
        assert old in source, f"{old!r} not in {relative}"
        write_module(path, source.replace(old, new))

    def websocket(self) -> Any:
        return websockets_client.connect(self.url.replace("http://", "ws://") + "/ws")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Uvicorn]:
    folder = tmp_path / "site"
    shutil.copytree(APP, folder / "asgi_app", ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "run_server.py").write_text(RUN_SERVER)
    (folder / "entry.py").write_text(ENTRY)
    with Uvicorn(folder) as running:
        yield running


def test_route_dependency_and_schema_edits_are_served_with_one_lifespan(server: Uvicorn) -> None:
    assert server.get("/greet/ada") == (200, '{"message":"Hello, ada!"}')
    server.edit("routers/greet.py", '{word}, {name}!"', '{word}, {name}, welcome!"')
    server.wait_for("/greet/ada", lambda status, body: "welcome" in body)
    server.edit("dependencies.py", '"Hello"', '"Hi"')
    server.wait_for("/greet/ada", lambda status, body: body == '{"message":"Hi, ada, welcome!"}')
    server.edit("schemas.py", "    message: str\n", "    message: str\n    version: int = 2\n")
    server.wait_for("/greet/ada", lambda status, body: '"version":2' in body)
    # main.py ran again (it imports the routers): a new app object, the same lifespan state.
    assert server.get("/health") == (200, '{"state":"model-1","app_state":"model-1"}')
    assert server.lifespan() == ["start"]
    server.stop()
    assert server.lifespan() == ["start", "stop"]


def test_a_models_edit_is_served_and_rows_written_before_are_read_after(server: Uvicorn) -> None:
    created = server.client.post("/items", json={"name": "pen", "price": 2.5})
    assert created.status_code == 200, created.text
    server.edit("models.py", "{self.name} costs {self.price}", "{self.name}: {self.price:.2f} EUR")
    status, body = server.wait_for("/items", lambda status, body: "EUR" in body)
    assert (status, body) == (200, '[{"id":1,"name":"pen","label":"pen: 2.50 EUR"}]')
    created = server.client.post("/items", json={"name": "ink", "price": 1})
    assert created.json()["label"] == "ink: 1.00 EUR"
    server.edit("models.py", "EUR", "USD")  # and again: the MetaData stays clean
    server.wait_for("/items", lambda status, body: body.count("USD") == 2)
    assert "already defined" not in server.output
    assert server.lifespan() == ["start"]


def test_a_lifespan_edit_restarts_the_lifespan_once(server: Uvicorn) -> None:
    server.edit("lifespan.py", 'name="model-1"', 'name="model-2"')
    _, body = server.wait_for("/health", lambda status, body: "model-2" in body)
    assert body == '{"state":"model-2","app_state":"model-2"}'
    assert server.lifespan() == ["start", "stop", "start"]
    server.edit("routers/greet.py", '{word}, {name}!"', '{word}, {name}?"')
    server.wait_for("/greet/ada", lambda status, body: "ada?" in body)
    assert server.get("/health") == (200, body)
    assert server.lifespan() == ["start", "stop", "start"]


def test_a_syntax_error_shows_the_error_page_then_its_fix_is_served(server: Uvicorn) -> None:
    greet = server.app / "routers/greet.py"
    good = greet.read_text()
    write_module(greet, good.replace("def greet(", "def greet((", 1))
    _, body = server.wait_for("/greet/ada", lambda status, body: status == 500)
    assert "Reload failed" in body and "greet.py" in body and "SyntaxError" in body
    assert server.get("/health")[0] == 500  # every request, until the code is fixed
    with pytest.raises(Exception, match="HTTP 500"):  # a WebSocket is refused with the page
        server.websocket().__enter__()
    write_module(greet, good.replace("{name}!", "{name}, fixed!"))
    server.wait_for("/greet/ada", lambda status, body: body == '{"message":"Hello, ada, fixed!"}')
    assert server.get("/health")[0] == 200
    assert server.lifespan() == ["start"]


def test_an_open_websocket_keeps_its_code_and_a_new_one_gets_the_new_code(
    server: Uvicorn,
) -> None:
    with server.websocket() as old:
        old.send("a")
        assert old.recv(timeout=CHANGE_TIMEOUT_S) == "live-1 a"
        server.edit("routers/live.py", 'VERSION = "live-1"', 'VERSION = "live-2"')

        def new_code_served() -> bool:
            with server.websocket() as new:
                new.send("b")
                return bool(new.recv(timeout=CHANGE_TIMEOUT_S) == "live-2 b")

        wait_until(new_code_served, CHANGE_TIMEOUT_S)  # while the old connection is open
        old.send("c")
        assert old.recv(timeout=CHANGE_TIMEOUT_S) == "live-1 c"
    assert server.lifespan() == ["start"]


class _EventReader(threading.Thread):
    """Reads the ``data:`` lines of a server-sent event stream until told to stop."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.events: list[str] = []
        self.stopping = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with httpx.stream("GET", self.url, timeout=CHANGE_TIMEOUT_S) as response:
                for line in response.iter_lines():
                    if line.startswith("data: "):
                        self.events.append(line.removeprefix("data: ").strip('"'))
                    if self.stopping.is_set():
                        return
        except BaseException as error:  # reported by the test
            self.error = error


def test_an_open_event_stream_does_not_hold_back_a_reload(server: Uvicorn) -> None:
    stream = _EventReader(server.url + "/events")
    stream.start()
    try:
        wait_until(lambda: len(stream.events) >= 1, CHANGE_TIMEOUT_S)
        server.edit("routers/greet.py", '{word}, {name}!"', '{word}, {name}, streamed!"')
        server.edit("routers/live.py", 'VERSION = "live-1"', 'VERSION = "live-2"')
        server.wait_for("/greet/ada", lambda status, body: "streamed" in body)
        assert server.get("/health")[0] == 200
        seen = len(stream.events)
        wait_until(lambda: len(stream.events) > seen + 2, CHANGE_TIMEOUT_S)  # still streaming
        assert stream.error is None and stream.is_alive()
        assert all(event.startswith("live-1 ") for event in stream.events)  # the old code
        fresh = _EventReader(server.url + "/events")
        fresh.start()
        wait_until(lambda: len(fresh.events) >= 1, CHANGE_TIMEOUT_S)
        fresh.stopping.set()
        assert fresh.events[0] == "live-2 0"
    finally:
        stream.stopping.set()
        stream.join(CHANGE_TIMEOUT_S)
    assert server.lifespan() == ["start"]


# In-process: the gate, the error modes, and what is refused.

RAW_APP = {
    "rawapp/__init__.py": "",
    "rawapp/views.py": "VERSION = 0\n",
    "rawapp/main.py": """\
        import asyncio

        from rawapp import views

        RELEASE = {}  # path -> asyncio.Event the test sets to let a response go on

        async def app(scope, receive, send):
            path = scope["path"]
            version = views.VERSION
            if path == "/held":  # no headers until released: in flight
                await RELEASE.setdefault(path, asyncio.Event()).wait()
            headers = [(b"content-type", b"text/plain")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            if path == "/stream":  # headers sent, body held: streaming
                await send({"type": "http.response.body", "body": b"v%d " % version,
                            "more_body": True})
                await RELEASE.setdefault(path, asyncio.Event()).wait()
            await send({"type": "http.response.body", "body": b"v%d" % views.VERSION})

        def wsgi(environ, start_response):
            start_response("200 OK", [])
            return [b"wsgi"]
        """,
}


async def _get(
    app: Callable[..., Awaitable[None]], path: str = "/", client: str = "127.0.0.1"
) -> tuple[int, bytes]:
    """One GET through an ASGI application; the status and the body."""
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "headers": [], "client": (client, 1)}
    await app(scope, receive, send)
    return messages[0]["status"], b"".join(m.get("body", b"") for m in messages[1:])


async def _until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` on the loop (the loop keeps running); fail after a bounded wait."""
    deadline = time.monotonic() + CHANGE_TIMEOUT_S
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for a condition"
        await asyncio.sleep(0.005)  # a polling interval, not a wait for an outcome


@pytest.fixture
def raw(project: WriteProject) -> Iterator[tuple[Path, HotReloadASGIMiddleware]]:
    root = project(RAW_APP)
    with HotReloadASGIMiddleware("rawapp.main:app", autostart=False) as middleware:
        yield root, middleware


def test_a_request_during_a_reload_waits_without_blocking_the_loop(
    raw: tuple[Path, HotReloadASGIMiddleware], tmp_path: Path
) -> None:
    root, middleware = raw
    started, go = tmp_path / "started", tmp_path / "go"
    (root / "rawapp/views.py").write_text(
        "import pathlib, time\n"
        f"pathlib.Path({str(started)!r}).write_text('')\n"
        f"deadline = time.monotonic() + {CHANGE_TIMEOUT_S}\n"
        f"while not pathlib.Path({str(go)!r}).exists() and time.monotonic() < deadline:\n"
        "    time.sleep(0.005)  # the import is slow\n"
        "VERSION = 1\n"
    )

    async def scenario() -> None:
        reload = asyncio.ensure_future(
            asyncio.to_thread(middleware.reloader.reload_paths, [root / "rawapp/views.py"])
        )
        await _until(started.exists)  # modules evicted, the import is running
        request = asyncio.ensure_future(_get(middleware))
        ticks = 0
        while ticks < 20:  # the loop runs on while the request waits at the gate
            await asyncio.sleep(0.001)
            ticks += 1
        assert not request.done()
        go.write_text("")
        assert (await reload).ok
        assert await request == (200, b"v1")  # the new code, never a half-reloaded one

    asyncio.run(scenario())


def test_a_reload_waits_for_requests_in_flight_but_not_for_streams(
    raw: tuple[Path, HotReloadASGIMiddleware],
) -> None:
    root, middleware = raw
    main = sys.modules["rawapp.main"]

    async def scenario() -> None:
        stream = asyncio.ensure_future(_get(middleware, "/stream"))
        held = asyncio.ensure_future(_get(middleware, "/held"))
        await _until(lambda: "/stream" in main.RELEASE and "/held" in main.RELEASE)
        assert middleware.in_flight == 1  # the stream sent its headers: not counted
        (root / "rawapp/views.py").write_text("VERSION = 1\n")
        reload = asyncio.ensure_future(
            asyncio.to_thread(middleware.reloader.reload_paths, [root / "rawapp/views.py"])
        )
        await _until(lambda: middleware.reloading)  # the gate is closed, waiting for /held
        assert not reload.done() and middleware.reloader.generation == 0
        main.RELEASE["/held"].set()
        assert await held == (200, b"v0")  # wholly the old code
        assert (await reload).ok
        assert await _get(middleware) == (200, b"v1")  # while the stream is still open
        assert not stream.done()
        main.RELEASE["/stream"].set()
        assert await stream == (200, b"v0 v0")  # the stream ran on its old modules

    asyncio.run(scenario())


@pytest.mark.parametrize("on_error", ["page", "keep"])
def test_after_a_failed_reload_page_shows_details_to_loopback_only_and_keep_serves(
    project: WriteProject, on_error: Any
) -> None:
    root = project(RAW_APP)
    views = root / "rawapp/views.py"
    with HotReloadASGIMiddleware(
        "rawapp.main:app", autostart=False, on_error=on_error
    ) as middleware:
        views.write_text("VERSION = 1\nraise RuntimeError('broken view')\n")
        assert not middleware.reloader.reload_paths([views]).ok
        local = asyncio.run(_get(middleware))
        remote = asyncio.run(_get(middleware, client="203.0.113.9"))
        if on_error == "page":
            assert local[0] == 500 and b"broken view" in local[1] and b"views.py" in local[1]
            assert remote == (500, b"Internal Server Error\n")
        else:
            assert local == remote == (200, b"v0")
        views.write_text("VERSION = 2\n")
        assert middleware.reloader.reload_paths([views]).ok
        assert asyncio.run(_get(middleware)) == (200, b"v2")


def test_a_wsgi_application_is_refused_in_one_line(project: WriteProject) -> None:
    project(RAW_APP)
    meta_path = list(sys.meta_path)
    with pytest.raises(AppLoadError) as refused:
        HotReloadASGIMiddleware("rawapp.main:wsgi", autostart=False)
    assert str(refused.value) == (
        "cannot load application 'rawapp.main:wsgi': is a WSGI application; "
        "serve it with HotReloadMiddleware"
    )
    assert sys.meta_path == meta_path


def test_is_asgi_application() -> None:
    async def asgi(scope: Any, receive: Any, send: Any) -> None: ...

    def wsgi(environ: Any, start_response: Any) -> list[bytes]:
        return []

    class App:
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None: ...

    class Double:  # ASGI 2: the class is called with the scope
        def __init__(self, scope: Any) -> None: ...

    async def two(scope: Any, receive: Any) -> None: ...

    assert is_asgi_application(asgi) and is_asgi_application(App())
    assert not any(map(is_asgi_application, [wsgi, App, Double, two, "app", None]))
