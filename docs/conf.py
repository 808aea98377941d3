"""The documentation site: Sphinx, with MyST for the Markdown pages and autodoc for the API.

Built by ``make docs`` (``sphinx-build -W``: every warning fails the build) into build/docs.
Sphinx over MkDocs: its autodoc is part of Sphinx itself and reads the same docstrings the
package ships, ``-W`` checks every page, toctree and reference, and MyST lets the guides stay
the Markdown they were written in.
"""

from __future__ import annotations

import re
from typing import Any

import navtalk_sync

project = "navtalk_sync"
author = "the navtalk_sync authors"
copyright = "2026, the navtalk_sync authors"
release = navtalk_sync.__version__
version = release

extensions = ["myst_parser", "sphinx.ext.autodoc"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build"]

myst_heading_anchors = 3  # "guides/voice.md#echo-headsets-loudspeakers-..." links resolve
myst_enable_extensions = ["colon_fence"]

# The API reference lists what each public name takes and returns, in the order of the source.
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True, "show-inheritance": True}
autoclass_content = "both"  # a class's docstring and its __init__'s

html_theme = "furo"
html_title = f"navtalk_sync {release}"


#: protocol.md marks its sections with HTML anchors (``<a id="session-open"></a>``), which GitHub
#: and the tests read; MyST cross-references need targets, so each becomes one when read.
_ANCHOR = re.compile(r'^<a id="([a-z0-9-]+)"></a>$', re.MULTILINE)


def _anchors_as_targets(app: Any, docname: str, source: list[str]) -> None:
    source[0] = _ANCHOR.sub(r"(\1)=", source[0])


def setup(app: Any) -> None:
    app.connect("source-read", _anchors_as_targets)
