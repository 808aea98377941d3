"""The events table, settings signature and grouped-settings table of docs/guides/sessions.md
are generated from the code, so they cannot drift: the events table from the event classes, the
signature from ``NavTalkClient``'s keyword arguments (which a test holds to
``config.Settings``), the grouped settings from the fields of ``navtalk_sync.options``' value
objects, where each is declared.

Regenerate them after changing the code: ``python -m tests.project.test_generated_tables --write``.
"""

from __future__ import annotations

import inspect
import sys
import textwrap
from pathlib import Path
from typing import Any, Callable

import attrs

import navtalk_sync as nt
from navtalk_sync import events, options
from navtalk_sync.config import Settings

PAGE = Path(__file__).resolve().parents[2] / "docs" / "guides" / "sessions.md"


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


def _client_arguments() -> list[inspect.Parameter]:
    """The client's named arguments (not ``self``, not the flat ``**`` ones)."""
    parameters = inspect.signature(nt.NavTalkClient.__init__).parameters.values()
    return [p for p in parameters if p.name != "self" and p.kind is not p.VAR_KEYWORD]


def _default(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)


def settings_signature() -> str:
    parts = []
    for argument in _client_arguments():
        if argument.kind is argument.KEYWORD_ONLY and "*" not in parts:
            parts.append("*")
        parts.append(f"{argument.name}={_default(argument.default)}")
    call = "`NavTalkClient(" + ", ".join(parts) + ", **flat_settings)`"
    return textwrap.fill(call, 96, break_long_words=False, break_on_hyphens=False)


def grouped_settings_table() -> str:
    lines = [
        "| setting | flat keyword | default | what it is |",
        "| --- | --- | --- | --- |",
    ]
    for cls in options.GROUPS.values():
        defaults = cls()
        for field in attrs.fields(cls):
            name = f"`{cls.__name__}.{field.name}`"
            default = _default(getattr(defaults, field.name))
            doc = field.metadata["doc"].replace("``", "`").replace("|", "\\|")
            lines.append(f"| {name} | `{field.metadata['flat']}` | `{default}` | {doc} |")
    return "\n".join(lines)


#: The generated blocks: the page's marker name, and what goes between its markers.
BLOCKS: dict[str, Callable[[], str]] = {
    "events table": events_table,
    "settings signature": settings_signature,
    "grouped settings": grouped_settings_table,
}


def _span(text: str, name: str) -> tuple[int, int]:
    begin, end = f"<!-- {name}: begin -->", f"<!-- {name}: end -->"
    return text.index(begin) + len(begin), text.index(end)


def _page_block(name: str) -> str:
    text = PAGE.read_text(encoding="utf-8")
    start, end = _span(text, name)
    return text[start:end].strip()


REGENERATE = "run: python -m tests.project.test_generated_tables --write"


def test_the_events_table_matches_the_event_classes():
    assert _page_block("events table") == events_table(), REGENERATE


def test_the_settings_signature_matches_the_client():
    assert _page_block("settings signature") == settings_signature(), REGENERATE


def test_the_grouped_settings_table_matches_the_value_objects():
    assert _page_block("grouped settings") == grouped_settings_table(), REGENERATE


def test_the_client_takes_each_setting_once_with_its_declared_default():
    """``Settings`` declares each setting; the client's keyword arguments are the same names in
    the same order, and leaving them all out gives the settings' own defaults."""
    assert [a.name for a in _client_arguments()] == [f.name for f in attrs.fields(Settings)]
    made = nt.NavTalkClient("sk_test_123456", avatar_name="a")
    assert made.settings == Settings.create("sk_test_123456", avatar_name="a")
    made.close()


def _write() -> None:
    text = PAGE.read_text(encoding="utf-8")
    for name, block in BLOCKS.items():
        start, end = _span(text, name)
        text = f"{text[:start]}\n{block()}\n{text[end:]}"
    PAGE.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        _write()
    else:
        for block in BLOCKS.values():
            print(block(), end="\n\n")
