"""Every docs example runs and prints what it says it prints; every page shows its example as is.

The convention (docs/index.md, "How the examples are checked"):

- An example is a complete program, ``docs/examples/<name>.py``.
- It ends with a ``# Expected output:`` line followed only by comment lines: the exact stdout, each
  line prefixed with ``# `` (a blank output line is a lone ``#``).
- It must exit 0 with nothing on stderr, under ``-W error``.
- A page shows an example by putting ``<!-- example: examples/<name>.py -->`` on the line before
  a ```` ```python ```` block holding the file verbatim; every page leads with one.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
EXAMPLES = sorted((DOCS / "examples").glob("*.py"))
PAGES = sorted(DOCS.glob("*.md"))

MARKER = "# Expected output:"
EXAMPLE_BLOCK = re.compile(
    r"^<!-- example: (?P<path>examples/[\w-]+\.py) -->\n```python\n(?P<code>.*?)^```$",
    re.MULTILINE | re.DOTALL,
)
FIRST_BLOCK = re.compile(r"^```", re.MULTILINE)


def expected_output(source: str) -> str:
    """The stdout an example promises, read from its trailing comment block."""
    _, marker, tail = source.rpartition(MARKER + "\n")
    assert marker, f"no {MARKER!r} line"
    lines = []
    for line in tail.splitlines():
        assert line == "#" or line.startswith("# "), f"not an output line: {line!r}"
        lines.append(line[2:])
    return "".join(line + "\n" for line in lines)


@pytest.mark.parametrize("example", EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_example_prints_expected_output(example: Path, tmp_path: Path) -> None:
    expected = expected_output(example.read_text())
    done = subprocess.run(
        [sys.executable, "-W", "error", str(example)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,  # away from the repository, so the installed treadle is what runs
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout == expected


@pytest.mark.parametrize("page", PAGES, ids=[path.stem for path in PAGES])
def test_page_leads_with_its_example_verbatim(page: Path) -> None:
    text = page.read_text()
    blocks = list(EXAMPLE_BLOCK.finditer(text))
    assert blocks, f"{page.name} shows no example (<!-- example: examples/NAME.py --> + block)"
    first_fence = FIRST_BLOCK.search(text)
    assert first_fence is not None
    assert first_fence.start() == blocks[0].start("code") - len("```python\n"), (
        f"{page.name}: the first code block must be its example"
    )
    for block in blocks:
        source = (DOCS / block["path"]).read_text()
        assert block["code"] == source, f"{page.name}: {block['path']} differs from the file"


def test_expected_output_reads_comment_block() -> None:
    source = 'print("a")\nprint()\n\n# Expected output:\n# a\n#\n'
    assert expected_output(source) == "a\n\n"
