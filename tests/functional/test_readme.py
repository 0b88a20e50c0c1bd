"""The README's Python examples run, against a small ``myapp`` project, so they never rot."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from staticreload import HotReloadASGIMiddleware, HotReloadMiddleware, LiveReload, Reloader
from tests.conftest import WriteProject

README = Path(__file__).resolve().parents[2] / "README.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)

MYAPP = {
    "myapp/__init__.py": "",
    "myapp/model.py": "WEIGHTS = [1, 2, 3]\n",
    "myapp/views.py": "from myapp import model\n"
    "def hello():\n    return f'hello {sum(model.WEIGHTS)}'\n",
    "myapp/main.py": "from myapp import views\nGREETING = views.hello()\n",
    "myapp/asgi.py": (
        "from myapp import views\n"
        "async def app(scope, receive, send):\n"
        "    await send({'type': 'http.response.start', 'status': 200, 'headers': []})\n"
        "    await send({'type': 'http.response.body', 'body': views.hello().encode()})\n"
    ),
    "myapp/wsgi.py": (
        "from myapp import views\n"
        "def application(environ, start_response):\n"
        "    start_response('200 OK', [])\n"
        "    return [views.hello().encode()]\n"
    ),
}


def test_the_readme_has_python_examples() -> None:
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize("number", range(len(EXAMPLES)))
def test_readme_example_runs(
    number: int,
    project: WriteProject,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = project(MYAPP)
    monkeypatch.chdir(root)
    namespace: dict[str, object] = {"__name__": "readme_example"}
    try:
        exec(compile(EXAMPLES[number], f"README.md example {number + 1}", "exec"), namespace)
    finally:
        for value in namespace.values():
            if isinstance(value, (HotReloadMiddleware, HotReloadASGIMiddleware)):
                value.close()
            elif isinstance(value, LiveReload):
                value.stop()
            elif isinstance(value, Reloader):
                value.uninstall()
    if "reload_paths" in EXAMPLES[number]:
        # views was saved unchanged: it and its importer main run again, in start order
        assert capsys.readouterr().out.startswith("True ('myapp.main', 'myapp.views') ")
