"""``python -m bench.side_by_side``: run the rows, each in a fresh process, print one table."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import attrs

from .plan import Plan
from .report import Figures, Measure, markdown_table, text_table

REPOSITORY = Path(__file__).resolve().parents[2]

#: Row number -> the module (in this package) that measures it.
ROWS = {
    1: "event_latency",
    2: "parsing",
    3: "capture",
    4: "handshake",
    5: "cpu",
    6: "memory",
    7: "resampling",
    8: "sessions",
}
#: A row's process is stopped past this (its own budget is far below it).
ROW_TIMEOUT = 300.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.side_by_side", description=__doc__)
    parser.add_argument("--rows", default=",".join(map(str, ROWS)), help="e.g. 1,4 (default all)")
    parser.add_argument("--smoke", action="store_true", help="every row briefly (CI)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--row", type=int, help=argparse.SUPPRESS)  # one row, JSON out (child)
    args = parser.parse_args(argv)
    plan = Plan(smoke=args.smoke)
    if args.row is not None:
        return _run_one(args.row, plan)
    rows = [int(r) for r in args.rows.split(",") if r.strip()]
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        parser.error(f"no row {unknown[0]} (rows are {min(ROWS)}-{max(ROWS)})")
    started = time.monotonic()
    measures: list[Measure] = []
    failed: list[int] = []
    for row in rows:
        got = _run_in_child(row, plan)
        if got is None:
            failed.append(row)
        else:
            measures.extend(got)
    table = markdown_table(measures) if args.markdown else text_table(measures)
    print(table)
    print(f"\n{machine()}; {time.monotonic() - started:.0f} s in all", flush=True)
    if failed:
        print(f"rows that failed: {', '.join(map(str, failed))} (see above)", file=sys.stderr)
        return 1
    return 0


def _run_one(row: int, plan: Plan) -> int:
    module = importlib.import_module(f"{__package__}.{ROWS[row]}")
    for measure in module.run(plan):
        print("MEASURE " + json.dumps(attrs.asdict(measure)), flush=True)
    return 0


def _run_in_child(row: int, plan: Plan) -> list[Measure] | None:
    """One row in a fresh interpreter: nothing an earlier row left (threads, memory, a loaded
    GIL) weighs on it. Its progress goes to our stderr; its measures come back as JSON."""
    command = [sys.executable, "-m", __package__ or "bench.side_by_side", "--row", str(row)]
    if plan.smoke:
        command.append("--smoke")
    print(f"row {row} ({ROWS[row]})...", file=sys.stderr, flush=True)
    started = time.monotonic()
    try:
        done = subprocess.run(
            command, cwd=REPOSITORY, stdout=subprocess.PIPE, text=True, timeout=ROW_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        print(f"row {row}: stopped after {ROW_TIMEOUT:.0f} s", file=sys.stderr)
        return None
    measures = [
        _measure(json.loads(line[len("MEASURE ") :]))
        for line in done.stdout.splitlines()
        if line.startswith("MEASURE ")
    ]
    took = time.monotonic() - started
    print(f"row {row}: {len(measures)} measures in {took:.0f} s", file=sys.stderr, flush=True)
    if done.returncode != 0 or not measures:
        print(f"row {row}: failed (exit {done.returncode})", file=sys.stderr)
        return None
    return measures


def _measure(data: dict[str, object]) -> Measure:
    figures = {k: Figures(**v) for k, v in data.items() if isinstance(v, dict)}  # type: ignore[arg-type]
    return Measure(**{**data, **figures})  # type: ignore[arg-type]


def machine() -> str:
    """What the figures were measured on."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import aiortc
    import websocket
    import websockets

    return (
        f"{os.cpu_count()} x {model}, Linux {platform.release()}, Python "
        f"{platform.python_version()}, aiortc {aiortc.__version__}, websockets "
        f"{websockets.__version__}, websocket-client {websocket.__version__}"
    )


if __name__ == "__main__":
    sys.exit(main())
