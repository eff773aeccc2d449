"""The text alternative of a timeline: one row per event (time, endpoint, state change, segment,
what happened), as an HTML table a screen reader reads and as a pandas DataFrame.

Jupyter's accessibility guidance asks every figure for a text alternative that carries what
the picture says. The SVG's <desc> summarises; this table is the whole of it, in order,
with the first divergence marked in words.
"""

from __future__ import annotations

from html import escape

from reference_impl.trace import EventKind

from ._axis import Panel
from .explain import Captions
from .model import Event

COLUMNS = ("step", "time", "endpoint", "state change", "segment", "what happens")


def rows(p: Panel) -> list[tuple]:
    """One tuple per event of a panel, in COLUMNS' order."""
    cap = p.captions or Captions(p.events)
    out = []
    for k, e in enumerate(p.events):
        change = f"{e.before} → {e.after}" if e.changes_state else ""
        seg = _segment(e)
        what = cap.sentence(e).split(" — ", 1)[-1]
        if e.index == p.mark:
            what = f"FIRST DIVERGENCE: {what}"
        out.append((p.appear.get(e.index, 0), f"{e.time / 1e6:.3f}", e.endpoint, change, seg, what))
        fold = p.folds.get(e.time)
        if fold is not None and (k + 1 == len(p.events) or p.events[k + 1].time != e.time):  # the moment's last row
            out.append(("", f"{fold.first / 1e6:.3f}–{fold.last / 1e6:.3f}", "", "", "", fold.sentence))
    return out


def _segment(e: Event) -> str:
    if e.event not in (EventKind.SEND, EventKind.RECV):
        return ""
    fate = f" ({e.fate})" if e.event == EventKind.SEND and e.fate and e.fate != "delivered" else ""
    return f"{'sent' if e.event == EventKind.SEND else 'received'} {e.segment_text}{fate}"


def table_html(panels: list[Panel]) -> str:
    """A <details> per panel holding its table, closed until asked for (keyboard: Tab, Enter)."""
    parts = []
    for p in panels:
        name = p.name or "the timeline"
        head = "".join(f'<th scope="col">{escape(c)}</th>' for c in COLUMNS)
        body = "".join("<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in r) + "</tr>" for r in rows(p))
        parts.append(
            f'<details class="tl-text"><summary>Text version of {escape(name)}: every event as a table</summary>'
            f'<table aria-label="{escape(name)}, every event in order"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></details>"
        )
    return "".join(parts)


def frame(p: Panel):
    """A panel's table as a pandas DataFrame (time in seconds, as a float)."""
    import pandas as pd

    df = pd.DataFrame(rows(p), columns=list(COLUMNS))
    # a fold's row (moments not drawn) gives its span "30.060–30.990" and no step: its first time, <NA>
    df["time"] = df["time"].str.split("–").str[0].astype(float)
    df["step"] = pd.array([None if s == "" else s for s in df["step"]], dtype="Int64")
    return df
