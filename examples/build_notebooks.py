"""Write the notebooks of this folder from their cells, and execute them.

    python examples/build_notebooks.py            # write and execute, outputs saved (moderate settings)
    python examples/build_notebooks.py --no-run   # write the cells only

One notebook per lecture topic; the cells live in ``cells_foundations.py`` (01-04),
``cells_practice.py`` (05-08) and ``cells_building.py`` (09-10). Each notebook opens in Colab, installs nnlect in its first
cell when it is missing (:func:`install_cell`), and reads ``NNLECT_SMALL=1`` (set by
tests/test_notebooks.py in CI) to use small settings; the code is the same either way.
The repository URL and the version come from ``pyproject.toml`` (``[project.urls]``
``Source`` and ``[project] version``), the one place they live.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
PYPROJECT = HERE.parent / "pyproject.toml"
sys.path.insert(0, str(HERE))
from cells_building import NOTEBOOKS as _BUILDING  # noqa: E402
from cells_foundations import NOTEBOOKS as _FOUNDATIONS  # noqa: E402
from cells_practice import NOTEBOOKS as _PRACTICE  # noqa: E402

NOTEBOOKS = {**_FOUNDATIONS, **_PRACTICE, **_BUILDING}


def project_metadata(path: str | os.PathLike = PYPROJECT) -> tuple[str, str]:
    """``(source_url, version)`` from pyproject's ``[project.urls] Source`` and ``[project] version``.

    The source must be a ``https://github.com/OWNER/NAME`` URL (Colab opens notebooks from GitHub).
    """
    with open(path, "rb") as f:
        project = tomllib.load(f).get("project", {})
    source = project.get("urls", {}).get("Source")
    if not source:
        raise ValueError(f"{path}: expected [project.urls] to have a Source URL, got {project.get('urls')!r}")
    source = source.rstrip("/").removesuffix(".git")
    owner_name = source.removeprefix("https://github.com/")
    if owner_name == source or owner_name.count("/") != 1:
        raise ValueError(f"{path}: expected [project.urls] Source to be https://github.com/OWNER/NAME, got {source!r}")
    if "version" not in project:
        raise ValueError(f"{path}: expected a [project] version (the notebooks name the version they need)")
    return source, project["version"]


def install_cell(source_url: str, version: str) -> str:
    """The code of every notebook's first cell.

    Uses nnlect when ``import nnlect`` works (local Jupyter, an editable install); else
    ``pip install "nnlect[notebooks]>=version"`` from the package index, then from
    ``git+source_url``; when both fail, one paragraph says what to do and which version
    is needed. pip runs through ``subprocess.run`` (tests/test_colab_cell.py fakes it).
    """
    return f'''# Setup: use the installed nnlect, else install it (on Colab this takes a minute).
NEEDED, SOURCE = "{version}", "{source_url}"
import importlib, subprocess, sys

def pip_install(requirement):
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", requirement], capture_output=True, text=True)
    if pip.returncode != 0:
        print(f"pip install '{{requirement}}' failed:", (pip.stderr.strip() or "no message").splitlines()[-1])
    return pip.returncode == 0

try:
    import nnlect
    print(f"using the installed nnlect {{nnlect.__version__}} (these notebooks need {{NEEDED}} or newer)")
except ImportError:
    if pip_install(f"nnlect[notebooks]>={{NEEDED}}") or pip_install(f"nnlect[notebooks] @ git+{{SOURCE}}"):
        importlib.invalidate_caches()  # let this running Python see the new package
        import nnlect
        print(f"installed nnlect {{nnlect.__version__}}")
    else:
        print(f"Could not install nnlect: pip failed from the package index and from {{SOURCE}} "
              f"(pip's last words are above). These notebooks need nnlect {{NEEDED}} or newer, on Python 3.11+. "
              f"On Colab, check that the runtime is connected to the internet, then run this cell again. "
              f"Elsewhere, install it into this kernel's environment with  pip install 'nnlect[notebooks]>={{NEEDED}}'  "
              f"(or, in a clone of {{SOURCE}}:  pip install -e '.[notebooks]'), then restart the kernel.")'''


BETWEEN = ("The cell above sets up nnlect: it uses the installed one, or installs it (Colab). The next one imports "
           "nnlect as `nl` and prints the versions and the device JAX computes on (`cpu`, `gpu` or `tpu`). "
           "`SMALL` is true only under the tests (CI), which run every notebook with fewer steps.")

IMPORTS = '''%matplotlib inline
import os
import jax, numpy as np
import nnlect as nl

SMALL = os.environ.get("NNLECT_SMALL") == "1"  # CI sets this: same code, fewer steps
print(f"nnlect {nl.__version__}, jax {jax.__version__} on {jax.devices()[0].platform}" + (", small settings" if SMALL else ""))'''


def colab_badge(name: str, source_url: str) -> str:
    """Markdown for the "Open in Colab" badge of ``examples/<name>.ipynb`` on the main branch."""
    owner_name = source_url.removeprefix("https://github.com/")
    return (f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"(https://colab.research.google.com/github/{owner_name}/blob/main/examples/{name}.ipynb)")


def build(name: str) -> nbformat.NotebookNode:
    """The notebook ``name`` (a key of :data:`NOTEBOOKS`), unexecuted."""
    title, text, cells = NOTEBOOKS[name]
    source_url, version = project_metadata()
    nb = new_notebook(cells=[new_markdown_cell(f"# {title}\n\n{colab_badge(name, source_url)}\n\n{text}"),
                             new_code_cell(install_cell(source_url, version)), new_markdown_cell(BETWEEN),
                             new_code_cell(IMPORTS)]
                      + [new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["colab"] = {"provenance": []}
    return nb


def execute(nb: nbformat.NotebookNode, *, cwd: str | os.PathLike, timeout: int = 900) -> None:
    """Run every cell in a fresh ``python3`` kernel started in ``cwd``; outputs are stored in ``nb``."""
    from nbclient import NotebookClient

    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"notebooks to build (default all): {', '.join(NOTEBOOKS)}")
    parser.add_argument("--no-run", action="store_true", help="write the cells without executing them")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(NOTEBOOKS))
    if unknown:
        parser.error(f"unknown notebooks {unknown}; expected some of {list(NOTEBOOKS)}")
    for name in args.names or NOTEBOOKS:
        nb = build(name)
        if not args.no_run:
            tic = time.perf_counter()
            with tempfile.TemporaryDirectory() as scratch:  # files a notebook writes land here
                execute(nb, cwd=scratch)
            print(f"{name}: executed in {time.perf_counter() - tic:.0f} s", file=sys.stderr)
        nbformat.write(nb, HERE / f"{name}.ipynb")
    return 0


if __name__ == "__main__":
    sys.exit(main())
