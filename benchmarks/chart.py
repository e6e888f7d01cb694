"""Draw the echo and scheduling ratios of one run as an SVG bar chart, from the runner's JSON.

    python benchmarks/run.py --json results.json ...
    python benchmarks/chart.py results.json docs/performance-chart.svg

One group per workload, one bar per loop: throughput relative to asyncio's default loop (1.0 =
asyncio's speed, drawn as a line), from the medians in the JSON's summary. By default the bars
use CPU-time throughput where the benchmark has it (less disturbed on a shared machine) and
wall-clock otherwise (echo, where work spans processes); ``--wall`` uses wall-clock throughout.
No plotting library: the SVG is a few rectangles and labels written here.
"""

from __future__ import annotations

import argparse
import json
import sys
from html import escape
from pathlib import Path
from typing import Any

# Bar colours per loop, in legend order; other loops get grey.
_COLOURS = {
    "asyncio": "#9e9e9e",
    "uvloop": "#5b8ff9",
    "treadle-pure": "#f6903d",
    "treadle-compiled": "#d4380d",
    "treadle": "#f6903d",
    "epoll-floor": "#52c41a",
}
_BAR = 14
_GAP = 26
_LEFT = 230
_WIDTH = 520
_TOP = 50


def ratios(document: dict[str, Any], *, wall: bool) -> dict[str, dict[str, float]]:
    """workload -> loop -> throughput / asyncio's throughput (skips what cannot be computed)."""
    table: dict[str, dict[str, float]] = {}
    for name, entry in document["summary"].items():
        medians = entry["median"] if wall else (entry.get("cpu_median") or {})
        if wall or not medians.get("asyncio"):
            medians = entry["median"]
        base = medians.get("asyncio")
        if not base:
            continue
        table[name] = {loop: value / base for loop, value in medians.items() if value}
    return table


def render(table: dict[str, dict[str, float]], title: str, cap: float = 4.0) -> str:
    """The SVG text; bars longer than ``cap`` are cut there and end in a notch, labelled in full."""
    loops = [loop for loop in _COLOURS if any(loop in row for row in table.values())]
    loops += sorted({loop for row in table.values() for loop in row} - set(loops))
    top = min(cap, max((value for row in table.values() for value in row.values()), default=1.0))
    scale = _WIDTH / max(top * 1.1, 1.5)
    group = _BAR * len(loops) + _GAP
    height = _TOP + group * len(table) + 40
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_LEFT + _WIDTH + 80}" '
        f'height="{height}" font-family="sans-serif" font-size="11">',
        f'<text x="10" y="18" font-size="14" font-weight="bold">{escape(title)}</text>',
    ]
    for index, loop in enumerate(loops):  # the legend
        x = _LEFT + index * 120
        out.append(f'<rect x="{x}" y="28" width="10" height="10" fill="{_colour(loop)}"/>')
        out.append(f'<text x="{x + 14}" y="37">{escape(loop)}</text>')
    y = _TOP
    for name, row in table.items():
        out.append(
            f'<text x="{_LEFT - 8}" y="{y + group / 2 - 6}" text-anchor="end">{escape(name)}</text>'
        )
        for index, loop in enumerate(loops):
            value = row.get(loop)
            if value is None:
                continue
            bar_y = y + index * _BAR
            out.append(
                f'<rect x="{_LEFT}" y="{bar_y}" width="{value * scale:.1f}" '
                f'height="{_BAR - 2}" fill="{_colour(loop)}"/>'
            )
            out.append(
                f'<text x="{_LEFT + value * scale + 4:.1f}" y="{bar_y + _BAR - 4}">'
                f"{value:.2f}x</text>"
            )
        y += group
    one = _LEFT + scale
    out.append(
        f'<line x1="{one:.1f}" y1="{_TOP - 6}" x2="{one:.1f}" y2="{y}" stroke="black" '
        'stroke-dasharray="3,3"/>'
    )
    out.append(f'<text x="{one:.1f}" y="{y + 14}" text-anchor="middle">asyncio = 1.0</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _colour(loop: str) -> str:
    return _COLOURS.get(loop, "#bfbfbf")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json_path", type=Path)
    parser.add_argument("svg_path", type=Path)
    parser.add_argument("--wall", action="store_true", help="wall-clock throughput only")
    parser.add_argument("--title", default="Throughput relative to asyncio (higher is faster)")
    parser.add_argument("--cap", type=float, default=4.0, help="longest bar drawn, in x asyncio")
    parser.add_argument(
        "--skip",
        nargs="*",
        default=["idle_connections", "pending_timers"],
        help="benchmarks left out (memory figures are not speeds)",
    )
    args = parser.parse_args(argv)
    document = json.loads(args.json_path.read_text())
    table = {
        name: row for name, row in ratios(document, wall=args.wall).items() if name not in args.skip
    }
    args.svg_path.write_text(render(table, args.title, args.cap))
    print(f"wrote {args.svg_path} ({len(table)} workloads)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
