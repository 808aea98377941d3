"""The side-by-side benchmark runs end to end (``--smoke``: every row briefly), so it cannot rot.

Its figures are not checked here: timing belongs to ``bench/``, and a smoke run's numbers mean
nothing. What is checked is what a reader of ``make bench`` sees: every row of the table, each
with our figures and a baseline's, and the machine line.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(400)
def test_every_row_of_the_table_comes_out() -> None:
    from bench.side_by_side.__main__ import ROWS

    done = subprocess.run(
        [sys.executable, "-m", "bench.side_by_side", "--smoke", "--markdown"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=380,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    header, *rows = lines
    assert header.startswith("| row | measure | unit | ours p50")
    cells = [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[1:]]
    assert {int(c[0]) for c in cells} == set(ROWS), done.stdout
    for c in cells:
        assert re.fullmatch(r"[\d,.]+", c[3]), c  # ours p50 is a number
    for row in ROWS:  # every row has a baseline with a figure beside ours
        assert any(int(c[0]) == row and c[5] and c[6] for c in cells), (row, done.stdout)
    assert re.search(r"\d+ x .*, Python 3\.\d+", done.stdout), done.stdout
