"""Sphinx configuration of statvae's documentation site.

Build: ``pip install '.[docs]' && sphinx-build docs docs/_build/html`` (``-W`` turns warnings into errors, as
``tests/test_sphinx.py`` does).  Pages are Markdown (MyST) and reStructuredText; the API reference is
generated from the docstrings (numpydoc) by autodoc; formulas render with MathJax.  Nothing here refers to
anything outside the repository.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # document the working tree, installed or not

from statvae._version import __version__  # noqa: E402 - after the path is set

project = "statvae"
author = "the statvae developers"
copyright = "2026, the statvae developers"
version = release = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**/__pycache__"]
# Markdown pages: $...$ and $$...$$ math (MathJax), headings get anchors for cross-references.
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
# Pages refer to files of the repository by path in backticks (``tests/...``, ``statvae/...``); links between
# pages are relative Markdown links, which MyST resolves.
suppress_warnings = ["myst.xref_missing"]

# -- API reference ------------------------------------------------------------------------------------------
autosummary_generate = False  # the reference pages in docs/api/ are written out, nothing is generated into docs/
autodoc_default_options = {"members": True, "show-inheritance": False}
autodoc_member_order = "bysource"
autodoc_typehints = "none"  # signatures as written; the types are in the numpydoc Parameters sections
numpydoc_show_class_members = False  # autodoc lists the members; numpydoc would list them again
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# -- HTML ---------------------------------------------------------------------------------------------------
# The PyData theme (the ``docs`` extra); furo, or Sphinx's own theme, build the same pages without it.
if importlib.util.find_spec("pydata_sphinx_theme") is not None:
    html_theme = "pydata_sphinx_theme"
    html_theme_options = {"navigation_depth": 2, "show_toc_level": 2, "secondary_sidebar_items": ["page-toc"]}
else:
    html_theme = "furo" if importlib.util.find_spec("furo") is not None else "alabaster"
html_title = f"statvae {release}"
html_static_path: list[str] = []
html_show_sourcelink = False


# -- Pages that are still being written --------------------------------------------------------------------
def _validation_page(app, docname, source):
    """Link ``validation`` (issue 12's page) if it exists, else the stub that says it is coming."""
    if docname == "index" and not (DOCS / "validation.md").exists():
        source[0] = source[0].replace("\nvalidation\n", "\ntutorials/validation-coming\n")


def setup(app):
    app.connect("source-read", _validation_page)
