"""Every notebook in examples/ runs top to bottom (small settings: NNLECT_SMALL=1),
and the committed copies are current, explain each code cell and carry their figures.
(The first cell's install paths: tests/test_colab_cell.py.)"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
sys.path.insert(0, str(EXAMPLES))
import build_notebooks  # noqa: E402

NAMES = list(build_notebooks.NOTEBOOKS)


def test_there_is_one_notebook_per_lecture_topic():
    assert sorted(p.stem for p in EXAMPLES.glob("*.ipynb")) == sorted(NAMES)
    assert len(NAMES) == 10


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_matches_its_source_and_shows_its_outputs(name):
    committed = nbformat.read(EXAMPLES / f"{name}.ipynb", as_version=4)
    fresh = build_notebooks.build(name)
    assert [c.source for c in committed.cells] == [c.source for c in fresh.cells], \
        f"examples/{name}.ipynb is stale: rerun python examples/build_notebooks.py {name}"
    code = [c for c in committed.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), "committed without running every cell"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors
    assert any("image/png" in o.get("data", {}) or "text/markdown" in o.get("data", {})
               for c in code for o in c.outputs), "no figure saved in the notebook"
    assert "colab.research.google.com" in committed.cells[0].source
    assert "import nnlect" in code[0].source and "pip" in code[0].source


@pytest.mark.parametrize("name", NAMES)
def test_markdown_sits_between_any_two_code_cells(name):
    kinds = [c.cell_type for c in build_notebooks.build(name).cells]
    assert kinds[0] == "markdown" and kinds[-1] == "markdown", "a notebook opens and ends with prose"
    adjacent = [i for i in range(1, len(kinds)) if kinds[i - 1] == kinds[i] == "code"]
    assert not adjacent, f"code cells {adjacent} follow a code cell with no markdown between"


@pytest.mark.long
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_top_to_bottom(name, tmp_path, monkeypatch):
    monkeypatch.setenv("NNLECT_SMALL", "1")
    nb = build_notebooks.build(name)
    build_notebooks.execute(nb, cwd=tmp_path, timeout=600)  # raises CellExecutionError on any failing cell
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert any("small settings" in o.get("text", "") for o in outputs), "NNLECT_SMALL was not seen"
    assert any("image/png" in o.get("data", {}) for o in outputs), "no figure was drawn"
