"""A very small Markdown -> HTML converter for the analysis notes in reports.

Handles what ``analysis/*.md`` files use: ``#`` headings, ``-`` and ``1.`` lists,
``|`` tables (the ``|---|`` line is dropped), paragraphs, ``**bold**``, ``*italic*`` and
```code```. Everything else is escaped text; no dependency.
"""
from __future__ import annotations

import html
import re


def _inline(text: str) -> str:
    t = html.escape(text)
    t = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", t)
    t = re.sub(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])", r"<i>\1</i>", t)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", t)


def to_html(md: str, shift: int = 1) -> str:
    """HTML for the Markdown text ``md``; headings are demoted by ``shift`` levels."""
    out: list[str] = []
    para: list[str] = []
    items: list[str] = []
    ordered = [False]  # the current list is numbered
    rows: list[list[str]] = []

    def flush():
        if para:
            out.append(f"<p>{_inline(' '.join(para))}</p>")
            para.clear()
        if items:
            tag = "ol" if ordered[0] else "ul"
            out.append(f"<{tag}>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + f"</{tag}>")
            items.clear()
        if rows:
            cells = "".join("<tr>" + "".join(f"<{t}>{_inline(c)}</{t}>" for c in r) + "</tr>"
                            for r, t in zip(rows, ["th"] + ["td"] * (len(rows) - 1)))
            out.append(f"<table>{cells}</table>")
            rows.clear()

    for line in md.splitlines():
        s = line.strip()
        m = re.match(r"^(#{1,6})\s+(.*)$", s)
        if not s:
            flush()
        elif m:
            flush()
            level = min(len(m.group(1)) + shift, 6)
            out.append(f"<h{level}>{_inline(m.group(2))}</h{level}>")
        elif s.startswith("|"):
            if para or items:
                flush()
            if not re.fullmatch(r"\|[\s:|-]+\|?", s):
                rows.append([c.strip() for c in s.strip("|").split("|")])
        elif re.match(r"^([-*]|\d+\.)\s+", s):
            numbered = bool(re.match(r"^\d+\.", s))
            if para or rows or (items and numbered != ordered[0]):
                flush()
            ordered[0] = numbered
            items.append(re.sub(r"^([-*]|\d+\.)\s+", "", s))
        elif items and line.startswith("  "):
            items[-1] += " " + s  # continuation of a bullet
        else:
            if items or rows:
                flush()
            para.append(s)
    flush()
    return "\n".join(out)
