"""RFC citations as links: "RFC 9293 §3.10.7.4" → the section on rfc-editor.org.

For captions, the notebooks' markdown and generated HTML alike: a citation is written once,
as a reader sees it, and becomes a link wherever it is shown.

    rfc_url("RFC 9293 §3.10.7.4")   # 'https://www.rfc-editor.org/rfc/rfc9293#section-3.10.7.4'
    rfc_links("as RFC 9293 §3.5 says")                 # markdown: [RFC 9293 §3.5](https://...)
    rfc_links("as RFC 9293 §3.5 says", html=True)      # <a href="https://...">RFC 9293 §3.5</a>
"""

from __future__ import annotations

import re
from html import escape

# "RFC 9293", "RFC 9293 §3.10.7.4", "RFC 793 section 3.5", "RFC 1122 §4.2.2.13"; an appendix "§A.2" too.
CITATION = re.compile(r"\bRFC\s?(\d{3,5})(?:\s*(?:§|section|Section|sec\.)\s*([A-Z]?\d+(?:\.\d+)*|[A-Z](?:\.\d+)*))?")


def rfc_url(citation: str) -> str:
    """The rfc-editor.org address of a cited RFC, at the cited section when one is given."""
    m = CITATION.search(citation)
    if m is None:
        raise ValueError(f"{citation!r} is not an RFC citation like 'RFC 9293 §3.10.7.4'")
    number, section = m.groups()
    url = f"https://www.rfc-editor.org/rfc/rfc{int(number)}"
    if section:
        kind = "appendix" if section[0].isalpha() else "section"
        url += f"#{kind}-{section}"
    return url


def rfc_links(text: str, *, html: bool = False) -> str:
    """Every RFC citation in `text` as a link: markdown by default, HTML (text escaped) with html=True."""
    if html:
        out, pos = [], 0
        for m in CITATION.finditer(text):
            out.append(escape(text[pos : m.start()]))
            out.append(f'<a href="{rfc_url(m.group(0))}" target="_blank" rel="noopener">{escape(m.group(0))}</a>')
            pos = m.end()
        out.append(escape(text[pos:]))
        return "".join(out)
    return CITATION.sub(lambda m: f"[{m.group(0)}]({rfc_url(m.group(0))})", text)
