"""README.md: the two commands first, every docs page linked, its programs run as written.

Blocks marked ``<!-- readme-test: program -->`` run as complete programs under ``-W error``;
the serving blocks are run as real servers by tests/compat/test_serving.py.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = sorted(path.name for path in DOCS.glob("*.md"))

# .ci/run runs these verbatim: the README must start with exactly them.
DEMO_COMMAND = "python3 -m venv .venv && .venv/bin/pip install -q . && .venv/bin/python -m treadle"
TEST_COMMAND = (
    "python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]' && .venv/bin/python -m pytest"
)
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
PROGRAM = re.compile(r"^<!-- readme-test: program -->\n```python\n(.*?)^```$", re.M | re.S)


def test_readme_starts_with_the_two_commands() -> None:
    text = README.read_text()
    first, second = list(FENCE.finditer(text))[:2]
    assert (first[1], first[2]) == ("bash", DEMO_COMMAND + "\n")
    assert (second[1], second[2]) == ("bash", TEST_COMMAND + "\n")
    assert text.index(DEMO_COMMAND) < text.index("\n## ")  # before any section
    ci = (ROOT / ".ci" / "run").read_text()
    assert ".venv/bin/pip install -q . && .venv/bin/python -m treadle" in ci
    assert ".venv/bin/pip install -q -e '.[test]' && .venv/bin/python -m pytest" in ci


@pytest.mark.parametrize("page", PAGES)
def test_readme_links_every_docs_page(page: str) -> None:
    assert f"](docs/{page})" in README.read_text()


@pytest.mark.parametrize("page", [page for page in PAGES if page != "index.md"])
def test_docs_index_links_every_page(page: str) -> None:
    assert f"]({page})" in (DOCS / "index.md").read_text()


def test_readme_says_what_is_not_there_yet_in_one_section() -> None:
    """The section names only what is really missing: features that landed leave it."""
    text = README.read_text()
    section = text.split("\n## Not yet in treadle\n", 1)[1].split("\n## ", 1)[0]
    assert "**kqueue**" in section
    for landed in ("**TLS**", "**Subprocesses**", "**An AnyIO backend**", "NotImplementedError"):
        assert landed not in section


def test_readme_pollers_carry_the_kqueue_caveat() -> None:
    text = README.read_text()
    assert "kqueue poller (macOS, BSD) is written but has not\nyet run on macOS or a BSD" in text


def test_readme_contributor_notes_explain_the_namespace_shadow() -> None:
    notes = README.read_text().split("\n## Contributor notes\n", 1)[1]
    assert "empty namespace package" in notes
    assert "editable_mode=strict" in notes


@pytest.mark.parametrize("index", range(len(PROGRAM.findall(README.read_text()))))
def test_readme_program_runs(index: int, tmp_path: Path) -> None:
    source = PROGRAM.findall(README.read_text())[index]
    script = tmp_path / "readme_program.py"
    script.write_text(source)
    done = subprocess.run(
        [sys.executable, "-W", "error", str(script)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
