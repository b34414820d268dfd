"""mkdocs hook: the site shows files that live outside docs/, and their links keep working.

- ``docs/index.md`` is the README: its marker line is replaced by README.md's text.
- The notebooks (``examples/*.ipynb``), CHANGELOG.md, CONTRIBUTING.md and the benchmark
  write-ups are added as pages (the notebooks before mkdocs-jupyter sees the file list).
- Relative links are written for the repository (README.md links ``docs/tour.md``,
  docs/benchmarks.md links ``../benchmarks/README.md``). Each one is resolved against its
  file's place in the repository: a file that is on the site becomes a link to its page;
  any other file of the repository becomes a link to it on the Source URL of
  ``[project.urls]``; a link to nothing is left alone, so ``mkdocs build --strict`` fails
  on it.
"""

from __future__ import annotations

import posixpath
import re
import tomllib
from pathlib import Path

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]
README_MARKER = "<!-- README.md -->"
# repository path -> path on the site (relative to docs/)
EXTRA = {
    "CHANGELOG.md": "changelog.md",
    "CONTRIBUTING.md": "contributing.md",
    "benchmarks/README.md": "benchmarks/suite.md",
    "benchmarks/results/results.md": "benchmarks/results.md",
    "benchmarks/results/ratios.png": "benchmarks/ratios.png",
    **{f"examples/{p.name}": f"examples/{p.name}" for p in sorted((ROOT / "examples").glob("*.ipynb"))},
}
_LINK = re.compile(r"(\]\()([^)\s]+)(\))")


def _source_url() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Source"].rstrip("/")


def on_config(config):
    """The site's and the repository's addresses from [project.urls]; the notebooks in the nav."""
    urls = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]
    config.site_url = config.site_url or urls["Documentation"]
    config.repo_url = config.repo_url or urls["Source"]
    listed = set(_nav_paths(config.nav or []))
    for section in config.nav or []:
        if isinstance(section, dict) and section.get("Notebooks") == []:
            section["Notebooks"] = [path for path in EXTRA if path.startswith("examples/")]
        if isinstance(section, dict) and isinstance(section.get("Guide"), list):
            # a write-up added to docs/ without a nav entry still gets one
            section["Guide"] += [p.name for p in sorted((ROOT / "docs").glob("*.md"))
                                 if p.name != "index.md" and p.name not in listed]
    return config


def _nav_paths(nav):
    for item in nav:
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            for value in item.values():
                yield from _nav_paths(value) if isinstance(value, list) else [value]


@event_priority(100)  # before mkdocs-jupyter turns .ipynb files into pages
def on_files(files: Files, config) -> Files:
    for repo_path, site_path in EXTRA.items():
        if repo_path == site_path:  # the notebooks: a plain File, which mkdocs-jupyter can wrap
            files.append(File(repo_path, str(ROOT), config.site_dir, config.use_directory_urls))
        else:
            files.append(File.generated(config, site_path, abs_src_path=str(ROOT / repo_path)))
    return files


def _repo_path_of(page) -> str:
    """Where the page's markdown lives in the repository."""
    if page.file.src_uri == "index.md":
        return "README.md"  # its text is README.md's, links and all
    for repo_path, site_path in EXTRA.items():
        if page.file.src_uri == site_path:
            return repo_path
    return f"docs/{page.file.src_uri}"


def _rewrite(target: str, page_repo_path: str, page_site_path: str) -> str:
    if re.match(r"^[a-z][a-z0-9+.-]*:|^#|^/", target):  # a URL, an anchor, a site-absolute path
        return target
    path, _, anchor = target.partition("#")
    repo_path = posixpath.normpath(posixpath.join(posixpath.dirname(page_repo_path), path))
    site_path = EXTRA.get(repo_path)
    if site_path is None and repo_path.startswith("docs/"):
        site_path = repo_path.removeprefix("docs/")
    on_site = repo_path in EXTRA or (site_path is not None and (ROOT / "docs" / site_path).exists())
    if site_path is not None and on_site:
        new = posixpath.relpath(site_path, posixpath.dirname(page_site_path) or ".")
    elif (ROOT / repo_path).exists() and not repo_path.startswith(".."):
        new = f"{_source_url()}/blob/main/{repo_path}"
    else:
        return target  # broken: mkdocs reports it
    return new + (f"#{anchor}" if anchor else "")


def on_page_markdown(markdown: str, page, config, files) -> str:
    if page.file.src_uri == "index.md":
        markdown = markdown.replace(README_MARKER, (ROOT / "README.md").read_text())
    repo_path, site_path = _repo_path_of(page), page.file.src_uri
    return _LINK.sub(lambda m: m[1] + _rewrite(m[2], repo_path, site_path) + m[3], markdown)
