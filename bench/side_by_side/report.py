"""What a row measured, and the one table they all print into."""

from __future__ import annotations

import math
import sys
from typing import Iterable, Sequence

import attrs


def progress(row: int, text: str) -> None:
    """A line of a row's progress, on stderr (stdout carries the row's measures)."""
    print(f"row {row}: {text}", file=sys.stderr, flush=True)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by the nearest-rank method; NaN when there is none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@attrs.frozen
class Figures:
    """The p50 and p99 of a sample (``p99`` None for a single figure, e.g. a throughput)."""

    p50: float
    p99: float | None = None
    count: int = 1

    @classmethod
    def of(cls, values: Sequence[float]) -> Figures:
        """Of a sample of times or costs."""
        return cls(percentile(values, 50), percentile(values, 99), len(values))

    @classmethod
    def median(cls, values: Sequence[float]) -> Figures:
        """Of repeated rounds of a rate or a count: their median alone (a p99 of a handful of
        rounds would only name the luckiest)."""
        return cls(percentile(values, 50), None, len(values))


@attrs.frozen
class Measure:
    """One line of the table: ours beside a baseline, and whether the target holds.

    ``ratio`` is ours / baseline on p50 (and on p99 where both have one): for a time or a
    cost above 1 is worse, for a rate (``higher_is_better``) below 1 is worse. ``met`` is
    None where the row has no target.
    """

    row: int
    what: str
    unit: str
    ours: Figures
    baseline_name: str
    baseline: Figures | None
    target: str = ""
    met: bool | None = None
    higher_is_better: bool = False

    @property
    def ratio(self) -> float | None:
        return _ratio(self.ours.p50, self.baseline.p50 if self.baseline else None)

    @property
    def ratio_p99(self) -> float | None:
        if self.baseline is None or self.ours.p99 is None:
            return None
        return _ratio(self.ours.p99, self.baseline.p99)


def _ratio(ours: float, base: float | None) -> float | None:
    if base is None or not base or math.isnan(base) or math.isnan(ours):
        return None
    return ours / base


HEADER = (
    "row", "measure", "unit", "ours p50", "ours p99", "baseline", "base p50", "base p99",
    "ratio p50", "ratio p99", "target", "met",
)  # fmt: skip


def cells(m: Measure) -> tuple[str, ...]:
    base = m.baseline
    return (
        str(m.row),
        m.what,
        m.unit,
        _number(m.ours.p50),
        _number(m.ours.p99),
        m.baseline_name,
        _number(base.p50 if base else None),
        _number(base.p99 if base else None),
        _number(m.ratio, ratio=True),
        _number(m.ratio_p99, ratio=True),
        m.target,
        {True: "yes", False: "NO", None: ""}[m.met],
    )


def _number(value: float | None, ratio: bool = False) -> str:
    if value is None:
        return ""
    if math.isnan(value):
        return "n/a"
    if ratio:
        return f"{value:.2f}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def text_table(measures: Iterable[Measure]) -> str:
    """A plain table with aligned columns, for the terminal."""
    rows = [HEADER, *(cells(m) for m in measures)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(r, widths, strict=True)).rstrip()
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def markdown_table(measures: Iterable[Measure]) -> str:
    """The same table in Markdown, for docs/benchmarks.md."""
    rows = [HEADER, *(cells(m) for m in measures)]
    lines = ["| " + " | ".join(r) + " |" for r in rows]
    lines.insert(1, "|" + " --- |" * len(HEADER))
    return "\n".join(lines)
