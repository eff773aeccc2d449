"""Grading manifest of 06_resets: what each test cell checks and what it is worth.

Never released (nbgrader's CourseDirectory.ignore): the hidden checks live here only.
Read by the notebook's test cells (autograder.checks.CellTests), its "before you submit"
cell and the trusted grader (autograder.checks.grade_cell). See autograder/manifest.py.
"""

from autograder.manifest import cell, every_hidden_check, family, scenario, transition, transitions
from reference_impl.profiles import LINUX, RFC9293
from reference_impl.segment import RST, Segment
from reference_impl.states import Arrival, State

S = State
RFC1337 = RFC9293.replace(rfc1337=True)  # RFC 9293 with RFC 1337's protection of TIME_WAIT switched on
PROFILES = (RFC9293, LINUX, RFC1337)

CELLS = [
    cell("test_fin_wait_2_rst", 2,
         visible=[transition(S.FIN_WAIT_2, Arrival(Segment(seq=300, ack=0, flags=RST))),
                  transition(S.FIN_WAIT_2, Arrival(Segment(seq=301, ack=0, flags=RST)))],
         hidden=[transitions(S.FIN_WAIT_1, S.FIN_WAIT_2, profiles=PROFILES)]),
    cell("test_closing_rst", 1,
         visible=[transition(S.CLOSING, Arrival(Segment(seq=301, ack=0, flags=RST))),
                  transition(S.CLOSING, Arrival(Segment(seq=302, ack=0, flags=RST)))],
         hidden=[transitions(S.CLOSING, profiles=PROFILES)]),
    cell("test_last_ack_rst", 1,
         visible=[transition(S.LAST_ACK, Arrival(Segment(seq=101, ack=0, flags=RST))),
                  transition(S.LAST_ACK, Arrival(Segment(seq=102, ack=0, flags=RST)))],
         hidden=[transitions(S.LAST_ACK, profiles=PROFILES)]),
    cell("test_close_wait_rst", 2,
         visible=[transition(S.CLOSE_WAIT, Arrival(Segment(seq=101, ack=0, flags=RST))), scenario("rst-in-close-wait")],
         hidden=[family("rst-in-close-wait", "half-close", k=1, profiles=PROFILES, weight=1),
                 transitions(S.CLOSE_WAIT, profiles=PROFILES, weight=1)]),
    cell("test_time_wait_rst", 2,
         visible=[scenario("rst-in-time-wait"), scenario("rst-in-time-wait", profile=RFC1337)],
         hidden=[family("rst-in-time-wait", "old-duplicate-after-reuse", k=1, profiles=PROFILES, weight=1),
                 transitions(S.TIME_WAIT, profiles=PROFILES, weight=1)]),
    cell("test_established_abort", 2,
         visible=[scenario("abort"), scenario("abort", profile=LINUX)],
         hidden=[family("abort", k=1, profiles=PROFILES, weight=1),
                 transitions(S.ESTABLISHED, profiles=PROFILES, weight=1)]),
    cell("test_established_close_with_unread_data", 2,
         visible=[scenario("close-with-unread-data", profile=LINUX), scenario("close-with-unread-data")],
         hidden=[family("close-with-unread-data", k=1, profiles=PROFILES)]),
    cell("test_closed_segment", 1,
         visible=[transition(S.CLOSED, Arrival(Segment(seq=101, ack=301))),
                  transition(S.CLOSED, Arrival(Segment(seq=101, ack=0, flags=RST)))],
         hidden=[transitions(S.CLOSED, profiles=PROFILES)]),
    cell("test_fin_wait_2_orphan_timeout", 1,
         visible=[scenario("orphan-fin-wait-2", profile=LINUX), scenario("orphan-fin-wait-2")],
         hidden=[family("orphan-fin-wait-2", k=1, profiles=PROFILES)]),
]

BEFORE_SUBMIT = every_hidden_check(CELLS)
