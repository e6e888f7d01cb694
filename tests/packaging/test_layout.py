"""The packaging map covers every package folder, so wheels ship what the editable install sees.

An editable install finds subpackages by path even when pyproject.toml forgets them; a wheel does
not. This test fails when a folder with an __init__.py is missing from ``packages``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYERS = {"core": "treadle.core", "structured": "treadle.structured", "compat": "treadle.compat"}


def _configured() -> tuple[set[str], dict[str, str]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    return set(config["packages"]), dict(config["package-dir"])


def _package_folders() -> set[str]:
    names = {"treadle"}
    for folder, dotted in LAYERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder)
            names.add(".".join([dotted, *relative.parts]) if relative.parts else dotted)
    return names


def test_every_package_folder_is_listed() -> None:
    packages, _ = _configured()
    assert _package_folders() - packages == set()


def test_every_listed_package_maps_to_an_existing_folder() -> None:
    packages, package_dir = _configured()
    for name in packages:
        assert name in package_dir, f"{name} has no package-dir entry"
        assert (ROOT / package_dir[name] / "__init__.py").is_file(), name
