"""End to end on an application nobody here wrote: Flask's tutorial app, flaskr.

Its source comes from Flask's source distribution, fetched with pip into
pytest's cache folder (never committed) on the first run: hence the
``network`` marker (``pytest -m "not network"`` runs the suite offline).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.servers import Server, write_module

pytest.importorskip("flask")

pytestmark = pytest.mark.network


@pytest.fixture(scope="session")
def flaskr_source(pytestconfig: pytest.Config) -> Path:
    cache = pytestconfig.cache
    assert cache is not None
    folder = cache.mkdir("flask-sdist")
    tutorial = folder / "tutorial"
    if not (tutorial / "flaskr" / "__init__.py").is_file():
        download = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-binary",
                ":all:",
                "--no-deps",
                "--quiet",
                "flask",
                "-d",
                str(folder),
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        archives = sorted(folder.glob("flask-*.tar.gz"))
        if download.returncode != 0 or not archives:
            pytest.skip(f"cannot download Flask's source distribution: {download.stderr[-300:]}")
        with tarfile.open(archives[-1]) as archive:
            prefix = archive.getnames()[0].split("/")[0] + "/examples/tutorial/"
            members = [m for m in archive.getmembers() if m.name.startswith(prefix)]
            for member in members:
                member.name = member.name[len(prefix) :]
            archive.extractall(tutorial, members=members, filter="data")
    return tutorial


@pytest.fixture
def flaskr(flaskr_source: Path, tmp_path: Path) -> Path:
    shutil.copytree(flaskr_source / "flaskr", tmp_path / "flaskr")
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "flaskr", "init-db"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=60,
    )
    return tmp_path


def test_flaskr_edits_keep_users_and_posts(flaskr: Path) -> None:
    blog = flaskr / "flaskr" / "blog.py"
    package = flaskr / "flaskr" / "__init__.py"
    with Server("flaskr:create_app", "--factory", cwd=flaskr) as server:
        assert server.request("/hello") == (200, "Hello, World!")
        server.request("/auth/register", {"username": "ada", "password": "pw"})
        status, body = server.request("/auth/login", {"username": "ada", "password": "pw"})
        assert status == 200 and "Log Out" in body
        server.request("/create", {"title": "First post", "body": "kept across reloads"})
        assert "First post" in server.request("/")[1]

        source = blog.read_text()
        anchor = 'return render_template("blog/index.html", posts=posts)'
        assert anchor in source
        write_module(blog, source.replace(anchor, "return 'EDITED VIEW ' + " + anchor[7:]))
        status, body = server.wait_for("/", lambda s, b: "EDITED VIEW" in b)
        assert status == 200 and "First post" in body and "ada" in body

        write_module(package, package.read_text().replace("Hello, World!", "Hello, reload!"))
        server.wait_for("/hello", lambda s, b: b == "Hello, reload!")
        status, body = server.request("/")
        assert "EDITED VIEW" in body and "First post" in body and "Log Out" in body
        assert server.alive
