"""docs/protocol.md and the references to it.

Code, tests, examples, the README and the docs cite the protocol document as ``protocol.md#<anchor>``.
These tests fail when a cited anchor is not defined in docs/protocol.md (an ``<a id="...">``),
and when the package still cites the old numbered sections ("protocol 4.1", "design D7", a
bare "C3" or "U4" label) in a comment or a string.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import navtalk_sync

ROOT = Path(__file__).resolve().parents[2]
#: The package under test: this tree's, or the installed wheel's when the suite runs against it.
PACKAGE = Path(navtalk_sync.__file__).parent
DOC = ROOT / "docs" / "protocol.md"

ANCHOR = re.compile(r'<a id="([a-z0-9-]+)"></a>')
REFERENCE = re.compile(r"protocol\.md#([a-z0-9-]+)")
#: "protocol 4.1", "Protocol 16.1-16.3", "protocol section 6", "design D7", "(C3)", "(U4)"
OLD_REFERENCE = re.compile(r"(?i:\bprotocol (?:section )?§?\d|\bdesign §?D\d)|\b[CU]\d{1,2}\b")
#: Comments that match OLD_REFERENCE but are no protocol reference (JPEG marker names).
NOT_REFERENCES = ("C4 (Huffman tables), C8 (reserved)",)


def _citing_files() -> list[Path]:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    files += sorted(PACKAGE.rglob("*.py"))
    for folder in ("examples", "bench", "tests"):
        files += sorted((ROOT / folder).rglob("*.py"))
    return files


def _shown(path: Path) -> str:
    root = PACKAGE.parent if path.is_relative_to(PACKAGE) else ROOT
    return str(path.relative_to(root))


def _comments_and_strings(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every comment and string literal (docstrings included) in ``path``."""
    source = path.read_text(encoding="utf-8")
    kinds = (tokenize.COMMENT, tokenize.STRING)
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return [(tok.start[0], tok.string) for tok in tokens if tok.type in kinds]


def test_the_document_defines_each_anchor_once():
    anchors = ANCHOR.findall(DOC.read_text(encoding="utf-8"))
    assert anchors, "docs/protocol.md defines no anchors"
    assert sorted(a for a in set(anchors) if anchors.count(a) > 1) == []


def test_every_cited_anchor_exists():
    anchors = set(ANCHOR.findall(DOC.read_text(encoding="utf-8")))
    missing = []
    for path in _citing_files():
        text = path.read_text(encoding="utf-8")
        for number, line in enumerate(text.splitlines(), 1):
            for anchor in REFERENCE.findall(line):
                if anchor not in anchors:
                    missing.append(f"{_shown(path)}:{number}: protocol.md#{anchor}")
    assert missing == [], "anchors not defined in docs/protocol.md:\n" + "\n".join(missing)


def test_the_package_cites_no_numbered_sections():
    old = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for number, text in _comments_and_strings(path):
            if any(allowed in text for allowed in NOT_REFERENCES):
                continue
            for match in OLD_REFERENCE.finditer(text):
                old.append(f"{_shown(path)}:{number}: {match.group()!r}")
    assert old == [], "cite protocol.md#<anchor> instead of:\n" + "\n".join(old)
