"""``staticreload map``: through ``main()`` and as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from staticreload.cli import EXIT_ERROR, EXIT_OK, main
from tests.conftest import WriteProject

FILES = {
    "app.py": "import views\n",
    "views.py": "from shop import models\n",
    "shop/__init__.py": "",
    "shop/models.py": "from . import db\n",
    "shop/db.py": "",
}


@pytest.fixture
def root(project: WriteProject) -> Path:
    return project(FILES)


def run_map(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, object, str]:
    code = main(["map", *args])
    out, err = capsys.readouterr()
    return code, json.loads(out) if code == EXIT_OK and out else out, err


def test_map_finds_everything_under_the_root(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output, _ = run_map(capsys, "--root", str(root))
    assert code == EXIT_OK
    assert output == {
        "app.py": ["views.py"],
        "shop/__init__.py": [],
        "shop/db.py": [],
        "shop/models.py": ["shop/db.py"],
        "views.py": ["shop/models.py"],
    }


def test_map_options(root: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, output, _ = run_map(
        capsys, "shop", "--root", str(root), "--keys", "modules", "--direction", "dependents"
    )
    assert output == {"shop": [], "shop.db": ["shop.models"], "shop.models": []}
    code, output, _ = run_map(capsys, "--root", str(root), "--closure", str(root / "shop/db.py"))
    assert code == EXIT_OK
    assert output == ["app.py", "shop/db.py", "shop/models.py", "views.py"]
    code, output, _ = run_map(
        capsys, "--root", str(root), "--closure", "views", "--keys", "modules"
    )
    assert output == ["app", "views"]
    target = tmp_path / "map.json"
    assert main(["map", "--root", str(root), "-o", str(target)]) == EXIT_OK
    assert json.loads(target.read_text())["app.py"] == ["views.py"]


def test_errors_are_one_line_without_traceback(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["map", "nonexistent_pkg", "--root", str(root)]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nonexistent_pkg" in err and "Traceback" not in err

    assert main(["--debug", "map", "nonexistent_pkg", "--root", str(root)]) == EXIT_ERROR
    assert "Traceback" in capsys.readouterr().err
    assert main(["map", "--closure", "nope", "--root", str(root)]) == EXIT_ERROR
    assert main(["map", "--direction", "sideways"]) == 2


def test_an_unparsable_file_is_a_one_line_warning_and_the_rest_is_mapped(root: Path) -> None:
    (root / "shop" / "db.py").write_text("def broken(:\n")
    result = subprocess.run(
        [sys.executable, "-m", "staticreload", "map", "--root", str(root), "--keys", "modules"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == EXIT_OK
    assert result.stderr.count("\n") == 1 and "db.py" in result.stderr
    assert "WARNING" in result.stderr and "Traceback" not in result.stderr
    mapped = json.loads(result.stdout)
    assert "shop.db" not in mapped and "shop.models" in mapped


def test_map_never_executes_the_analysed_code(project: WriteProject, tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    trap = f"open({str(marker)!r}, 'w').write('ran')\nraise SystemExit('imported!')\n"
    root = project(
        {"evil/__init__.py": trap, "evil/sub.py": trap + "import evil\n", "loose.py": trap}
    )
    for args in (["evil"], [], ["loose"]):
        result = subprocess.run(
            [sys.executable, "-m", "staticreload", "map", *args, "--root", str(root)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=root,
        )
        assert result.returncode == 0, result.stderr
        assert not marker.exists()
    assert json.loads(result.stdout) == {"loose.py": []}


def test_output_is_byte_for_byte_stable(root: Path) -> None:
    outputs = {
        subprocess.run(
            [sys.executable, "-m", "staticreload", "map"],
            capture_output=True,
            timeout=60,
            cwd=root,
            check=True,
        ).stdout
        for _ in range(3)
    }
    assert len(outputs) == 1
