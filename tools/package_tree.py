"""The installed ``treadle`` package as a folder tree of symlinks, for tools that read files.

pyproject.toml's ``package-dir`` maps folders to dotted names (``core/`` -> ``treadle.core``,
``src/treadle`` -> ``treadle``). Python follows that map through the editable install's import
hook, but mypy and import-linter (grimp) find modules by walking folders: from the repository they
see ``src/treadle`` with no ``core`` inside it, hence mypy's "Cannot find implementation or library
stub for module named 'treadle.core'" and import-linter's "Missing layer 'treadle.compat'".

``build_tree()`` writes ``build/typecheck/treadle/`` (build/ is git-ignored): a real folder holding
links to each entry of ``src/treadle`` plus one link per mapped subpackage (``core``,
``structured``, ``compat``). The map is read from pyproject.toml, so a new package needs no edit
here. The tree is updated in place (stale links removed, each link swapped atomically), so two
runs at once do not trip over each other. It must never be a top-level ``treadle/`` folder: that
would shadow the installed package for ``python -m pytest`` (docs/design.md, "Packaging").
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TREE = ROOT / "build" / "typecheck"


def package_dirs() -> dict[str, Path]:
    """pyproject's ``package-dir``: dotted package name -> absolute folder."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    mapping: dict[str, str] = config["tool"]["setuptools"]["package-dir"]
    return {name: (ROOT / folder).resolve() for name, folder in mapping.items()}


def wanted_links(packages: dict[str, Path]) -> dict[Path, Path]:
    """Link path in the tree -> real target, for every entry the tree must contain."""
    links: dict[Path, Path] = {}
    for name, folder in sorted(packages.items()):
        parts = name.split(".")
        if len(parts) == 1:
            # The root package: link its entries one by one, so subpackage links fit beside them.
            for entry in folder.iterdir():
                if entry.name != "__pycache__":
                    links[TREE.joinpath(*parts, entry.name)] = entry
            continue
        parent = ".".join(parts[:-1])
        if packages.get(parent) is not None and packages[parent] / parts[-1] == folder:
            continue  # already reachable through its parent's link (core/poll under core)
        links[TREE.joinpath(*parts)] = folder
    return links


def build_tree() -> Path:
    """Create or refresh the tree; return the folder to put on MYPYPATH / PYTHONPATH."""
    links = wanted_links(package_dirs())
    for folder in {link.parent for link in links}:
        folder.mkdir(parents=True, exist_ok=True)
    for folder in {link.parent for link in links}:
        for entry in folder.iterdir():
            if entry.is_symlink() and entry not in links:
                entry.unlink(missing_ok=True)  # a file removed from src/treadle
    for link, target in links.items():
        if link.is_symlink() and Path(os.readlink(link)) == target:
            continue
        temporary = link.with_name(f".{link.name}.{os.getpid()}")
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(target, target_is_directory=target.is_dir())
        temporary.replace(link)
    return TREE


def real_path(text: str) -> str:
    """Rewrite tree paths in a tool's output to the repository paths a reader can open."""
    prefixes: list[tuple[str, str]] = []
    for name, folder in package_dirs().items():
        in_tree = TREE.joinpath(*name.split("."))
        real = os.path.relpath(folder, Path.cwd()) + os.sep
        prefixes += [(shown + os.sep, real) for shown in (str(in_tree), os.path.relpath(in_tree))]
    # Longest first: treadle/core/ must win over treadle/.
    for shown, real in sorted(prefixes, key=lambda pair: len(pair[0]), reverse=True):
        text = text.replace(shown, real)
    return text


if __name__ == "__main__":
    print(build_tree())
