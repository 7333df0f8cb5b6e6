"""The Markdown notes of an analysis (``analysis/*.md``) as HTML, through markdown-it-py.

CommonMark plus tables (GitHub's pipe tables); raw HTML in the notes is escaped, not passed
through. Headings are demoted by ``shift`` levels so a note's ``#`` title sits under the
report's own headings.
"""
from __future__ import annotations

from markdown_it import MarkdownIt

_MD = MarkdownIt("commonmark", {"html": False}).enable("table")


def to_html(md: str, shift: int = 1) -> str:
    """HTML for the Markdown text ``md``; headings are demoted by ``shift`` levels (at most h6)."""
    tokens = _MD.parse(md)
    for tok in tokens:
        if tok.type in ("heading_open", "heading_close"):
            tok.tag = f"h{min(int(tok.tag[1]) + shift, 6)}"
    return _MD.renderer.render(tokens, _MD.options, {})
