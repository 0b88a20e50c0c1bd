"""Django end to end: a real project (tests/django_project), a real server, every edit served.

The project is copied into ``tmp_path`` and migrated there (SQLite, with
books and an administrator). Each test starts a real server process and
edits files the way an editor saves them; every edit must show in an HTTP
response, or, for an edit Django cannot take in place (a model, the
settings), be applied by a restart that keeps the data.

One test runs the middleware in a subprocess without a server, with the
integration and without it: without it, the old class-based view keeps
answering and a signal receiver fires once per version of its module.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import WriteProject
from tests.servers import CHANGE_TIMEOUT_S, START_TIMEOUT_S, Server, wait_until, write_module

pytest.importorskip("django")

REPO = Path(__file__).resolve().parents[2]
PROJECT = REPO / "tests" / "django_project"
MIGRATE_TIMEOUT_S = 120.0


def server_environment(folder: Path) -> dict[str, str]:
    """The servers' environment: no inherited settings module (``folder`` is unused,
    kept for benchmarks/django_edit.py, which shares it)."""
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    # catalog/urls.py registers a path converter, and runs again at every edit of a
    # view: Django 5.x warns about a second registration (6.0 refuses it).
    env["PYTHONWARNINGS"] = "error::DeprecationWarning:catalog.urls"
    return env


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project with its database migrated (books, an administrator), made once."""
    site = tmp_path_factory.mktemp("django") / "site"
    shutil.copytree(PROJECT, site, ignore=shutil.ignore_patterns("__pycache__", "*.sqlite3"))
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"],
        cwd=site,
        env=env,
        check=True,
        capture_output=True,
        timeout=MIGRATE_TIMEOUT_S,
    )
    return site


@pytest.fixture
def site(migrated: Path, tmp_path: Path) -> Path:
    """A fresh copy of the migrated project, database included."""
    copy = tmp_path / "site"
    shutil.copytree(migrated, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return server_environment(tmp_path)


class ManagePy(Server):
    """``python manage.py ARGS`` in ``cwd``, ready once it logs ``serving on http://...``."""

    def __enter__(self) -> ManagePy:
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", *self.args],
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.process.stderr = self.process.stdout  # one stream: what Server reads and closes
        return self._started()

    def _started(self) -> ManagePy:
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        if not self._ready.wait(START_TIMEOUT_S) or not self.url:
            self.stop()
            raise AssertionError("server did not start:\n" + "".join(self.lines))
        return self


def edit(path: Path, old: str, new: str) -> None:
    """Replace ``old`` (which must be there) with ``new``, saved as an editor saves."""
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    write_module(path, text.replace(old, new))


def shows(*texts: str, status: int = 200) -> Callable[[int, str], bool]:
    return lambda code, body: code == status and all(text in body for text in texts)


def logged(server: Server, text: str) -> None:
    wait_until(lambda: any(text in line for line in server.lines))


def applied_in_place(server: Server) -> bool:
    """No reload failed and none asked for a restart: every edit so far ran again in place.

    (The supervisor restarts the worker when a reload fails where a cold start
    works: the edit is then served, but the integration did not do its job.)
    """
    bad = [line for line in server.lines if "reload failed" in line or "restart needed" in line]
    assert not bad, "".join(bad)
    return True


def csrf_token(server: Server, path: str) -> str:
    status, body = server.request(path)
    assert status == 200, body[:500]
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body)
    assert found, body[:500]
    return found.group(1)


def audit_of(page: str) -> list[str]:
    """What the receivers recorded about a note, from its page."""
    found = re.search(r'<ul class="audit">(.*?)</ul>', page, re.S)
    assert found, page[:500]
    return re.findall(r"<li>(.*?)</li>", found.group(1))


def test_code_edits_are_served(site: Path, env: dict[str, str]) -> None:
    with Server("mysite.wsgi:application", cwd=site, env=env) as server:
        assert server.request("/")[0] == 200
        # A function view, and a class-based view in another app.
        edit(site / "pages/views.py", '"Welcome"', '"Hello, readers"')
        server.wait_for("/", shows("Hello, readers"))
        edit(site / "catalog/views.py", '"All books"', '"Every book"')
        server.wait_for("/books/", shows("Every book"))
        assert "A Wizard of Earthsea" in server.request("/books/year/1968/")[1]
        # urls.py: a new path is served, a removed one is gone.
        assert server.request("/about/")[0] == 404
        assert server.request("/contact/")[0] == 200
        edit(
            site / "pages/urls.py",
            '    path("contact/", views.contact, name="contact"),\n',
            '    path("about/", views.contact, name="about"),\n',
        )
        server.wait_for("/about/", shows("Write to the bookshop."))
        assert server.request("/contact/")[0] == 404
        # A form, a middleware, a context processor.
        edit(site / "notes/forms.py", '{"title": "Title"}', '{"title": "Headline"}')
        server.wait_for("/notes/", shows("Headline"))
        edit(site / "pages/middleware.py", '"Open every day"', '"Open late"')
        server.wait_for("/", shows("Open late"))
        edit(
            site / "pages/context_processors.py",
            '{"site_name": settings.SITE_NAME',
            '{"site_name": settings.SITE_NAME + ", since 1999"',
        )
        server.wait_for("/", shows("Bookshop, since 1999"))
        assert applied_in_place(server)
        # A syntax error: the error page names the file; its fix is served.
        views = site / "pages/views.py"
        good = views.read_text()
        write_module(views, good.replace("def home(", "def home(("))
        _, page = server.wait_for("/", lambda code, body: code == 500)
        line = good[: good.index("def home(")].count("\n") + 1
        assert f"pages/views.py, line {line}" in page, page[:1000]
        write_module(views, good.replace('"Hello, readers"', '"Hello again"'))
        server.wait_for("/", shows("Hello again"))


def test_template_and_tag_edits_are_served(site: Path, env: dict[str, str]) -> None:
    book_list = site / "catalog/templates/catalog/book_list.html"
    with Server("mysite.wsgi:application", cwd=site, env=env) as server:
        assert "$10.99" in server.request("/books/")[1]
        # A template: the very next request shows it (no reload is involved).
        edit(book_list, "<h1>{{ heading }}</h1>", "<h1>{{ heading }}, on the shelf</h1>")
        assert "All books, on the shelf" in server.request("/books/")[1]
        edit(book_list, "on the shelf", "in the shop")
        assert "All books, in the shop" in server.request("/books/")[1]
        # A template tag library's filter.
        edit(site / "catalog/templatetags/catalog_tags.py", 'f"${cents', 'f"USD {cents')
        server.wait_for("/books/", shows("USD 10.99"))
        # A new library, then a template that loads it.
        write_module(
            site / "catalog/templatetags/shelf_tags.py",
            "from django import template\n\nregister = template.Library()\n\n\n"
            "@register.filter\ndef shelf(title: str) -> str:\n"
            '    return f"shelf {title[0]}"\n',
        )
        edit(book_list, "{% load catalog_tags %}", "{% load catalog_tags shelf_tags %}")
        edit(book_list, "{{ book.label }}</a>", "{{ book.label }}</a> ({{ book.title|shelf }})")
        server.wait_for("/books/", shows("(shelf A)", "(shelf I)"))
        # A template that extends another: the base's edit reaches every page.
        edit(site / "templates/base.html", '<p class="site">', '<p class="site">Welcome to ')
        assert "Welcome to Bookshop" in server.request("/books/1/")[1]
        assert applied_in_place(server)


def test_signal_receiver_fires_once_after_an_edit(site: Path, env: dict[str, str]) -> None:
    with Server("mysite.wsgi:application", cwd=site, env=env) as server:
        token = csrf_token(server, "/notes/")

        def add(title: str) -> str:
            status, page = server.request("/notes/", {"csrfmiddlewaretoken": token, "title": title})
            assert status == 200, page[:500]
            return page

        assert audit_of(add("First note")) == ["created First note"]
        edit(site / "notes/receivers.py", 'f"created {', 'f"audited {')
        deadline = time.monotonic() + CHANGE_TIMEOUT_S
        number = 0
        while True:  # each note before the reload is audited the old way
            number += 1
            page = add(f"Note {number}")
            if "audited" in page or time.monotonic() > deadline:
                break
        assert audit_of(page) == [f"audited Note {number}"]
        assert audit_of(add("Last note")) == ["audited Last note"]
        assert applied_in_place(server)


def test_admin_edit_is_served(site: Path, env: dict[str, str]) -> None:
    with Server("mysite.wsgi:application", cwd=site, env=env) as server:
        token = csrf_token(server, "/admin/login/")
        form = {"csrfmiddlewaretoken": token, "username": "admin", "password": "admin"}
        assert server.request("/admin/login/?next=/admin/", form)[0] == 200
        status, page = server.request("/admin/catalog/book/")
        assert status == 200 and "Published" in page and "Price cents" not in page, page[:500]
        edit(site / "catalog/admin.py", '"published")', '"published", "price_cents")')
        server.wait_for("/admin/catalog/book/", shows("Price cents", "1099"))
        assert applied_in_place(server)


def test_model_and_settings_edits_restart_and_keep_the_data(
    site: Path, env: dict[str, str]
) -> None:
    with Server("mysite.wsgi:application", cwd=site, env=env) as server:
        token = csrf_token(server, "/notes/")
        server.request("/notes/", {"csrfmiddlewaretoken": token, "title": "Kept note"})
        edit(site / "catalog/models.py", 'f"{self.title} by {self.author}"', 'f"{self.title} (!)"')
        logged(server, "restart needed for catalog.models: catalog/models.py matches")
        server.wait_for("/books/", shows("A Wizard of Earthsea (!)", "Invisible Cities (!)"))
        assert "Kept note" in server.request("/notes/")[1]
        edit(site / "mysite/settings.py", 'SITE_NAME = "Bookshop"', 'SITE_NAME = "Bookstore"')
        logged(server, "restart needed for mysite.settings: mysite/settings.py matches")
        server.wait_for("/", shows("<title>Bookstore</title>"))
        assert "Kept note" in server.request("/notes/")[1]


def test_hotrunserver_keeps_runservers_habits(site: Path, env: dict[str, str]) -> None:
    with ManagePy("hotrunserver", "127.0.0.1:0", cwd=site, env=env) as server:
        output = "".join(server.lines)
        assert "System check identified no issues (0 silenced)." in output, output
        assert "using settings 'mysite.settings'" in output, output
        status, css = server.request("/static/pages/site.css")
        assert status == 200 and "font-family" in css
        # An app outside the WSGI module's package is watched; its URLs were resolved
        # (and cached by Django) before the edit.
        assert "All books" in server.request("/books/")[1]
        edit(site / "catalog/views.py", '"All books"', '"Every book"')
        server.wait_for("/books/", shows("Every book"))
        assert applied_in_place(server)
        # A models edit restarts, with the reason logged once.
        edit(site / "catalog/models.py", 'f"{self.title} by {self.author}"', 'f"{self.title} (!)"')
        server.wait_for("/books/", shows("A Wizard of Earthsea (!)", "Every book"))
        reasons = [line for line in server.lines if "restart needed for catalog.models" in line]
        assert len(reasons) == 1, server.lines


def test_a_django_project_is_recognised_without_running_it(
    project: WriteProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    from staticreload.integrations import django

    root = project(
        {
            "mysite/__init__.py": "",
            "mysite/settings.py": "",
            "mysite/wsgi.py": """\
                import os
                os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
                raise SystemExit("the project's code must not run")
                """,
            "custom/__init__.py": "",
            "custom/wsgi.py": "from django.core.wsgi import get_wsgi_application\n",
            "flaskapp.py": "from flask import Flask\napp = Flask(__name__)\n",
        }
    )
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
    assert django.settings_module_for("mysite.wsgi") == "mysite.settings"
    assert django.settings_module_for("custom.wsgi") is None
    assert django.settings_module_for("flaskapp") is None
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "config.dev")
    assert django.settings_module_for("mysite.wsgi") == "mysite.settings"  # as Django would
    assert django.settings_module_for("custom.wsgi") == "config.dev"
    assert django.settings_module_for("flaskapp") is None  # a variable left in the shell
    assert not {"mysite", "mysite.wsgi", "custom", "flaskapp"} & set(sys.modules)
    *patterns, settings = django.restart_patterns(settings_module="mysite.settings")
    assert patterns == list(django.RESTART_PATTERNS)
    assert settings == str((root / "mysite/settings.py").resolve())


# Without a server: the middleware, driven by hand in a subprocess (Django's
# settings are process-wide), with and without the integration.


def drive(integration: bool) -> dict[str, Any]:
    """Load the project under ``HotReloadMiddleware``, edit it, record what is served."""
    import io

    from staticreload import HotReloadMiddleware
    from staticreload.integrations import django

    sys.path.insert(0, os.getcwd())

    def get(path: str) -> str:
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": path,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "HTTP_HOST": "127.0.0.1",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(),
        }
        response = middleware(environ, lambda status, headers: None)
        try:
            return b"".join(response).decode()
        finally:
            response.close()  # type: ignore[attr-defined]

    def edit_and_reload(name: str, old: str, new: str) -> Any:
        edit(Path(name), old, new)
        return middleware.reloader.reload_paths([name])

    settings_module = django.settings_module_for("mysite.wsgi")
    targets = django.targets(settings_module=settings_module)
    patterns = django.restart_patterns(settings_module=settings_module)
    if not integration:  # the middleware installs it by itself: switch it off
        django.install = lambda *args, **kwargs: None  # type: ignore[assignment]
    middleware = HotReloadMiddleware(
        "mysite.wsgi:application", targets=targets, restart_on=patterns, autostart=False
    )
    if integration:
        django.install(middleware.reloader, application=lambda: middleware.application)
    get("/notes/")  # imports the receivers
    from notes.models import Note

    def audit(title: str) -> list[str]:
        return [entry.message for entry in Note.objects.create(title=title).audit.all()]

    first = audit("one")
    edit_and_reload("catalog/views.py", '"All books"', '"Every book"')
    edit_and_reload("notes/receivers.py", 'f"created {', 'f"audited {')
    model = edit_and_reload("catalog/models.py", "by {self.author}", "(!)")
    return {
        "settings_module": settings_module,
        "targets": targets,
        "patterns": patterns,
        "first": first,
        "book_list": get("/books/"),
        "after_edit": audit("two"),
        "model_restart": model.restart,
        "model_reloaded": list(model.reloaded),
    }


def _driven(site: Path, integration: bool) -> dict[str, Any]:
    code = textwrap.dedent(
        f"""\
        import json, sys
        from tests.functional.test_django import drive
        print("RESULT " + json.dumps(drive({integration})))
        """
    )
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=site,
        env=env,
        capture_output=True,
        text=True,
        timeout=MIGRATE_TIMEOUT_S,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert result.returncode == 0 and lines, result.stdout + result.stderr
    found: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
    return found


def test_without_the_integration_the_old_view_answers(migrated: Path, tmp_path: Path) -> None:
    without = _driven(_copy(migrated, tmp_path / "without"), integration=False)
    assert "All books" in without["book_list"]  # Django's cached URL resolver: the old view
    assert without["after_edit"] == ["created two", "audited two"]  # both receivers fire

    with_it = _driven(_copy(migrated, tmp_path / "with"), integration=True)
    assert "Every book" in with_it["book_list"] and "All books" not in with_it["book_list"]
    assert with_it["first"] == ["created one"]
    assert with_it["after_edit"] == ["audited two"]
    assert with_it["model_restart"] == "catalog/models.py matches --restart-on */models.py"
    assert with_it["model_reloaded"] == []
    assert with_it["settings_module"] == "mysite.settings"
    assert with_it["targets"] == ["mysite", "catalog", "notes", "pages"]
    models, models_package, apps, migrations, settings = with_it["patterns"]
    assert [models, models_package, apps, migrations] == [
        "*/models.py",
        "*/models/*.py",
        "*/apps.py",
        "*/migrations/*.py",
    ]
    assert settings.endswith("with/mysite/settings.py")


def _copy(migrated: Path, into: Path) -> Path:
    shutil.copytree(migrated, into, ignore=shutil.ignore_patterns("__pycache__"))
    return into
