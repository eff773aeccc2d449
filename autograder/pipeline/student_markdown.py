"""A submission's own Markdown, made safe to show to the instructor and back to the learner.

nbgrader's formgrade and feedback templates render Markdown cells with raw HTML passed through
and links unchecked, so a written answer holding `<script>`, `<img onerror=...>` or
`[x](javascript:...)` would run in the instructor's browser. Each Markdown cell the release did
not hold is therefore rendered here, as nbconvert renders it, then cleaned to an allowlist of
tags, attributes and link schemes (bleach). The result is written back as one HTML block with
no blank line, which Markdown passes through verbatim, so the templates show exactly the
cleaned page.
"""

from __future__ import annotations

import html
import re

import bleach
from nbconvert.filters.markdown import markdown2html

TAGS = frozenset({"p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "em", "strong", "b", "i", "del", "sup", "sub",
                  "code", "pre", "blockquote", "ul", "ol", "li", "a", "span", "div",
                  "table", "thead", "tbody", "tr", "th", "td"})  # fmt: skip
ATTRIBUTES = {"a": ["href", "title"], "th": ["align"], "td": ["align"], "ol": ["start"]}
PROTOCOLS = frozenset({"http", "https", "mailto"})
_PRE = re.compile(r"<pre>.*?</pre>", re.S)
MARK = "tcpclose-student-markdown"  # the block's class: what a submission wrote, cleaned


def needs_cleaning(source: str) -> bool:
    """Markdown makes a tag or a link only from "<" or "["; without either a cell is shown as written."""
    return "<" in source or "[" in source


def safe_markdown(source: str, render: bool = True) -> str:
    """`source` rendered and cleaned, as a Markdown cell's source that renders to exactly that;
    render=False: shown as plain text (cheap, for cells past a submission's budget)."""
    if render:
        try:
            return _as_block(_clean(markdown2html(source)))
        except Exception:  # noqa: BLE001 - e.g. an image pasted into the cell ("missing attachment"): shown as text
            pass
    return _as_block(f"<pre>{html.escape(source)}</pre>")


def _clean(html: str) -> str:
    return bleach.clean(html, tags=TAGS, attributes=ATTRIBUTES, protocols=PROTOCOLS, strip=True, strip_comments=True)


def _as_block(html: str) -> str:
    """One HTML block: a blank line would end it and hand the rest back to the Markdown parser.
    Inside <pre> a line break is written as a character reference, which renders the same."""
    html = _PRE.sub(lambda m: m.group(0).replace("\n", "&#10;"), html)
    lines = [line for line in html.splitlines() if line.strip()]
    return f'<div class="{MARK}">\n' + "\n".join(lines) + "\n</div>"
