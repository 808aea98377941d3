"""Figures of this tree beside an earlier commit's, in one run: the runner the issue benches
(``hardening.py``, ``ordering.py``) share.

A bench module names its measures in ``MEASURES`` (name -> a function returning a dict of
figures). Each measure runs in a fresh interpreter importing ``navtalk_sync`` from this tree,
and, with ``--baseline REF``, from that commit checked out into a temporary worktree. One
table: ours, the baseline, and the ratio (ours / baseline).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def run_child(module: str, name: str, code: Path) -> dict[str, Any]:
    """Measure ``name`` of ``bench/<module>.py`` in a fresh interpreter using ``code``'s
    ``navtalk_sync``."""
    script = (
        "import sys, json\n"
        f"sys.path[:0] = [{str(code)!r}]\n"
        "import navtalk_sync\n"
        f"sys.path.insert(1, {str(ROOT / 'bench')!r})\n"
        f"import {module}\n"
        f"print(json.dumps({module}.MEASURES[{name!r}]()))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600, cwd=code
    )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"failed": last[:60]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def baseline_tree(ref: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="navtalk-baseline-"))
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(folder), ref],
                   check=True, capture_output=True)  # fmt: skip
    return folder


def shown(value: Any) -> str:
    if isinstance(value, float):
        return "inf" if value == float("inf") else f"{value:.3f}"
    return str(value)


def main(module: str, description: str, measures: dict[str, Any]) -> None:
    """Parse ``--baseline`` / ``--only``, run every measure of ``module``, print the table."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--baseline", help="a git commit to measure beside this tree")
    parser.add_argument("--only", help="run the measures whose name starts with this")
    args = parser.parse_args()
    base = baseline_tree(args.baseline) if args.baseline else None
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    print(f"{module} figures: ours ({ROOT}) beside {args.baseline or 'nothing'}\n")
    print("| measure | figure | ours | baseline | ratio |\n| --- | --- | --- | --- | --- |")
    try:
        for name in measures:
            if args.only and not name.startswith(args.only):
                continue
            ours = run_child(module, name, ROOT)
            theirs = run_child(module, name, base) if base else {}
            for key in ours | theirs:
                mine, other = ours.get(key, ""), theirs.get(key, "")
                ratio = ""
                if isinstance(mine, (int, float)) and isinstance(other, (int, float)) and other:
                    ratio = f"{mine / other:.2f}"
                print(f"| {name} | {key} | {shown(mine)} | {shown(other)} | {ratio} |",
                      flush=True)  # fmt: skip
    finally:
        if base is not None:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)],
                           capture_output=True)  # fmt: skip
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit("run a bench module (hardening.py, ordering.py), not this one")
