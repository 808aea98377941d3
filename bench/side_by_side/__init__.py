"""Side by side: the library against the code a user would otherwise write, in one run.

Reproduce:  make bench            (about 8 minutes; prints one table)
            .venv/bin/python -m bench.side_by_side [--rows 1,4] [--smoke] [--markdown]

Each row module (``rows``) measures ``navtalk_sync`` and a baseline written in the bench
itself, one after the other in the same run, against the same local server (in a child
process, so its work is not counted), and returns ``Measure``s: the ratio to the baseline
and absolute p50/p99. ``--smoke`` runs every row for a second or two (CI does, so the bench
cannot rot); its figures mean nothing.
"""
