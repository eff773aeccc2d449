"""Pictures of a close: the static SVG timeline, the animated widget, the state diagram.

from autograder.views import render_svg, state_diagram_svg, timeline
render_svg(trace, highlight=7, reference=ref_trace)   # an SVG string (feedback, docs)
timeline("lost-final-ack")                            # the widget, in an ungraded cell
"""

from .diagram import exercised_edges, state_diagram_svg
from .explain import explain
from .model import TraceShapeError, events_of
from .rfc import rfc_links, rfc_url
from .svg import render_svg
from .timeline import Timeline, notebook_timeline, timeline

__all__ = [
    "render_svg",
    "state_diagram_svg",
    "exercised_edges",
    "timeline",
    "notebook_timeline",
    "Timeline",
    "explain",
    "events_of",
    "TraceShapeError",
    "rfc_links",
    "rfc_url",
]
