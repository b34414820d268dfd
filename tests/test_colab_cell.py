"""Every notebook's first cell (examples/build_notebooks.py: install_cell) takes the right
path, run here with a fake pip: nnlect already importable; installed from the package
index; the index fails and the repository URL works; everything fails. No network."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))
import build_notebooks  # noqa: E402

import nnlect as ORIGINAL_NNLECT  # noqa: E402

with open(ROOT / "pyproject.toml", "rb") as _f:
    PROJECT = tomllib.load(_f)["project"]
SOURCE, VERSION = PROJECT["urls"]["Source"], PROJECT["version"]


class FakePip:
    """Stands in for ``subprocess.run``: records each ``pip install`` requirement and
    succeeds for the requirements in ``works``. A success makes ``import nnlect`` work
    again, as a real install would."""

    def __init__(self, monkeypatch, works: tuple[str, ...]):
        self.monkeypatch, self.works, self.calls = monkeypatch, works, []

    def __call__(self, argv, *args, **kwargs):
        assert argv[:4] == [sys.executable, "-m", "pip", "install"], argv
        requirement = argv[-1]
        self.calls.append(requirement)
        ok = any(requirement.startswith(w) for w in self.works)
        if ok:
            self.monkeypatch.setitem(sys.modules, "nnlect", ORIGINAL_NNLECT)
        assert kwargs.get("capture_output") and kwargs.get("text"), "pip's messages should come back as text"
        stderr = "" if ok else f"ERROR: No matching distribution found for {requirement}\n"
        return subprocess.CompletedProcess(argv, 0 if ok else 1, stdout="", stderr=stderr)

INDEX = f"nnlect[notebooks]>={VERSION}"
GIT = f"nnlect[notebooks] @ git+{SOURCE}"


def run_cell(monkeypatch, capsys, *, installed: bool, works: tuple[str, ...] = ()) -> tuple[list[str], str]:
    """Exec the install cell; returns the requirements pip was asked for and what the cell printed."""
    pip = FakePip(monkeypatch, works)
    monkeypatch.setattr(subprocess, "run", pip)
    if not installed:
        monkeypatch.setitem(sys.modules, "nnlect", None)  # `import nnlect` raises ImportError
    exec(build_notebooks.install_cell(*build_notebooks.project_metadata()), {})
    return pip.calls, capsys.readouterr().out


def test_the_cell_takes_its_url_and_version_from_pyproject():
    assert build_notebooks.project_metadata() == (SOURCE.rstrip("/"), VERSION)
    for name in build_notebooks.NOTEBOOKS:
        nb = build_notebooks.build(name)
        assert nb.cells[1].source == build_notebooks.install_cell(SOURCE.rstrip("/"), VERSION)
        owner_name = SOURCE.removeprefix("https://github.com/").rstrip("/")
        assert f"colab.research.google.com/github/{owner_name}/blob/main/examples/{name}.ipynb" in nb.cells[0].source


def test_already_installed_runs_no_pip_and_names_the_version(monkeypatch, capsys):
    calls, out = run_cell(monkeypatch, capsys, installed=True)
    assert calls == []
    assert f"using the installed nnlect {ORIGINAL_NNLECT.__version__}" in out and VERSION in out


def test_missing_installs_from_the_package_index(monkeypatch, capsys):
    calls, out = run_cell(monkeypatch, capsys, installed=False, works=(INDEX,))
    assert calls == [INDEX]
    assert f"installed nnlect {ORIGINAL_NNLECT.__version__}" in out


def test_index_failing_falls_back_to_the_repository(monkeypatch, capsys):
    calls, out = run_cell(monkeypatch, capsys, installed=False, works=(GIT,))
    assert calls == [INDEX, GIT]
    failed, installed = out.strip().splitlines()
    assert failed == f"pip install '{INDEX}' failed: ERROR: No matching distribution found for {INDEX}"
    assert installed == f"installed nnlect {ORIGINAL_NNLECT.__version__}"


def test_everything_failing_prints_one_paragraph_of_what_to_do(monkeypatch, capsys):
    calls, out = run_cell(monkeypatch, capsys, installed=False)
    assert calls == [INDEX, GIT]
    *failures, paragraph = out.strip().splitlines()  # pip's last line for each try, then one paragraph
    assert [line.split(" failed:")[0] for line in failures] == [f"pip install '{INDEX}'", f"pip install '{GIT}'"]
    assert paragraph.startswith("Could not install nnlect")
    assert f"nnlect {VERSION} or newer" in paragraph and SOURCE.rstrip("/") in paragraph
    assert f"pip install 'nnlect[notebooks]>={VERSION}'" in paragraph and "Colab" in paragraph


@pytest.mark.parametrize("urls, expected", [
    ({}, "to have a Source URL"),
    ({"Source": "https://gitlab.com/nnlect/nnlect"}, "https://github.com/OWNER/NAME"),
])
def test_a_missing_or_non_github_source_is_refused(tmp_path, urls, expected):
    lines = ["[project]", 'name = "nnlect"', 'version = "0.1.0"', "[project.urls]"]
    lines += [f'{k} = "{v}"' for k, v in urls.items()]
    (tmp_path / "pyproject.toml").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=expected.replace(".", r"\.")):
        build_notebooks.project_metadata(tmp_path / "pyproject.toml")
