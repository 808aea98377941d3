"""The README's events table is generated from the event classes, so it cannot drift.

Regenerate it after changing an event class: ``python -m tests.test_readme --write``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import attrs

from navtalk_sync import events

README = Path(__file__).resolve().parent.parent / "README.md"
BEGIN, END = "<!-- events table: begin -->", "<!-- events table: end -->"


def _summary(cls: type) -> str:
    """The first sentence of a class's docstring, on one line."""
    text = " ".join((cls.__doc__ or "").split()).replace("``", "`")
    first = text.split(". ")[0].rstrip(".")
    if first.startswith("`client."):  # "`client.state`: the connection moved..."
        first = first.split(": ", 1)[-1]
    return first[:1].upper() + first[1:].replace("|", "\\|")


def _fields(cls: type) -> str:
    names = [f.name for f in attrs.fields(cls) if f.name not in ("type", "raw")]
    return ", ".join(f"`{name}`" for name in names) or "—"


def events_table() -> str:
    legacy: dict[str, list[str]] = {}
    for old, new in events.LEGACY_NAMES.items():
        legacy.setdefault(new, []).append(old)
    lines = ["| type | class | fields | what it is |", "| --- | --- | --- | --- |"]
    for name, cls in {**events.EVENT_TYPES, **events.CLIENT_EVENT_TYPES}.items():
        also = f" (also `{'`, `'.join(sorted(legacy[name]))}`)" if name in legacy else ""
        row = f"| `{name}`{also} | `{cls.__name__}` | {_fields(cls)} | {_summary(cls)} |"
        lines.append(row)
    return "\n".join(lines)


def _readme_table() -> str:
    text = README.read_text(encoding="utf-8")
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[start:end].strip()


def test_the_readme_events_table_matches_the_event_classes():
    assert _readme_table() == events_table(), "run: python -m tests.test_readme --write"


def _write() -> None:
    text = README.read_text(encoding="utf-8")
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    README.write_text(f"{text[:start]}\n{events_table()}\n{text[end:]}", encoding="utf-8")


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        _write()
    else:
        print(events_table())
