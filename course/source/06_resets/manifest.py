"""Grading manifest of 06_resets: what each test cell checks and what it is worth.

Never released (nbgrader's CourseDirectory.ignore): the hidden checks live here only.
Read by the notebook's test cells (autograder.checks.CellTests), its "before you submit"
cell and the trusted grader (autograder.checks.grade_cell). See autograder/manifest.py.
"""

from autograder.predictions import from_reply, from_trace
from autograder.manifest import cell, every_hidden_check, family, scenario, transition, transitions, yourself
from reference_impl.profiles import LINUX, RFC9293
from reference_impl.segment import ACK, FIN, RST, SYN, Flags, Segment
from reference_impl.states import AppAbort, AppClose, Arrival, State
from reference_impl.tcb import TCB

S = State
RFC1337 = RFC9293.replace(rfc1337=True)  # RFC 9293 with RFC 1337's protection of TIME_WAIT switched on
PROFILES = (RFC9293, LINUX, RFC1337)
WRAPPED = (RFC9293, LINUX)  # near 2**32 the profiles differ in acceptability (linux: tcp_sequence), not RFC 1337

# Abort in each state (§3.10.5): a RST from ESTABLISHED, FIN_WAIT_1/2 and CLOSE_WAIT; in CLOSING,
# LAST_ACK and TIME_WAIT only "ok" and the TCB deleted. Weighed so that a RST from every state costs
# a quarter of the abort cell, not the few battery cases it would otherwise.
ABORT_IN_EVERY_STATE = [transition(state, AppAbort(), profile=p, weight=0.25)
                        for state in (S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK, S.TIME_WAIT)
                        for p in (RFC9293, LINUX)]  # fmt: skip
# §3.10.7.1: the RST's numbers come from the segment, never from what is left of a TCB (segments
# whose ACK is not the old SND.NXT, and segments without an ACK).
NO_CONNECTION = [transition(S.CLOSED, Arrival(seg), profile=p, weight=0.25)
                 for seg in (Segment(seq=101, ack=5000), Segment(seq=101, ack=0, flags=FIN),
                             Segment(seq=700, ack=0, flags=Flags.NONE, payload=b"stray data"),
                             Segment(seq=101, ack=301, flags=FIN | ACK, payload=b"late"))
                 for p in (RFC9293, LINUX)]  # fmt: skip

# The learner makes the first checks of §3.10.7.4 with RFC 5961's rules (the window, RST, SYN, ACK) with
# their own in_window and check_arrival in FIN_WAIT_1 and FIN_WAIT_2, not with the library's screen or
# the TCB's acceptable; the other states keep screen, so a mistake in the checks costs once.
OWN_CHECKS = [yourself(state, "screen", "acceptable",
                       what="check an arriving segment (the window, a RST, a SYN, the ACK)")
              for state in (S.FIN_WAIT_1, S.FIN_WAIT_2)]  # fmt: skip


def own_reset(*states: State) -> list:
    """The notebooks before this one got a valid RST's answer from the stand-in `on_reset`: here each
    state decides it itself."""
    return [yourself(state, "on_reset", what="decide what a valid RST does here (the state, and what the application hears)")
            for state in states]  # fmt: skip


# A zero receive window, which no catalogue scenario gives a closing endpoint: only an empty segment at
# exactly RCV.NXT is in the RFC's window (a RST there is valid); Linux takes a bare FIN too, no data.
ZERO_WINDOW = TCB(snd_una=101, snd_nxt=101, rcv_nxt=300, fin_seq=100, rcv_wnd=0)
IN_A_ZERO_WINDOW = [transition(S.FIN_WAIT_2, Arrival(seg), tcb=ZERO_WINDOW, profile=p, weight=0.25)
                    for seg in (Segment(seq=300, ack=101), Segment(seq=301, ack=101), Segment(seq=300, ack=0, flags=RST),
                                Segment(seq=301, ack=0, flags=RST), Segment(seq=300, ack=101, payload=b"abc"),
                                Segment(seq=300, ack=101, flags=FIN | ACK))
                    for p in (RFC9293, LINUX)]  # fmt: skip

# The window's edges (RCV.WND = 1000 from RCV.NXT = 300): a RST at 1299 is in it (a challenge ACK), one at
# 1300 is not (dropped); data from 298 overlaps RCV.NXT from the left and is acceptable (its last octet is in
# the window): the new octets are taken
EDGES = TCB(snd_una=101, snd_nxt=101, rcv_nxt=300, fin_seq=100, rcv_wnd=1000)
AT_THE_EDGES = [transition(S.FIN_WAIT_2, Arrival(seg), tcb=EDGES, profile=p, weight=0.25)
                for seg in (Segment(seq=1299, ack=0, flags=RST), Segment(seq=1300, ack=0, flags=RST),
                            Segment(seq=298, ack=101, payload=b"xxok"))
                for p in (RFC9293, LINUX)]  # fmt: skip

# The receive window across 2**32: RCV.NXT = 2**32 - 5, so <SEQ=5> is 10 into the window (a challenge ACK)
# and <SEQ=2**32 - 10> is before it (dropped). A window test on plain integers gets both wrong.
ACROSS = TCB(snd_una=101, snd_nxt=101, rcv_nxt=2**32 - 5, fin_seq=100)
ACROSS_THE_WRAP = [transition(S.FIN_WAIT_2, Arrival(Segment(seq=seq, ack=0, flags=RST)), tcb=ACROSS, profile=p,
                              weight=weight)
                   for seq, weight in ((5, 1), (2**32 - 10, 0.25)) for p in WRAPPED]  # fmt: skip

# What arrives in FIN_WAIT_1 and FIN_WAIT_2 goes through the learner's check_arrival, graded in
# test_fin_wait_2_rst: the reference takes those arrivals in the other cells' runs, so a mistake in
# check_arrival costs points once, as the notebook says.
CHECKED_ELSEWHERE = ((S.FIN_WAIT_1, Arrival), (S.FIN_WAIT_2, Arrival))

CELLS = [
    cell("test_fin_wait_2_rst", 3,
         visible=[transition(S.FIN_WAIT_2, Arrival(Segment(seq=300, ack=0, flags=RST))),
                  transition(S.FIN_WAIT_2, Arrival(Segment(seq=301, ack=0, flags=RST))),
                  transition(S.FIN_WAIT_2, Arrival(Segment(seq=300 + 70_000, ack=0, flags=RST))),
                  transition(S.FIN_WAIT_2, Arrival(Segment(seq=300, ack=0, flags=SYN))),
                  transition(S.FIN_WAIT_2, Arrival(Segment(seq=300, ack=102)))],
         hidden=[transitions(S.FIN_WAIT_1, S.FIN_WAIT_2, profiles=PROFILES, weight=2),
                 transitions(S.FIN_WAIT_1, S.FIN_WAIT_2, profiles=WRAPPED, wrap=True, weight=1),
                 *IN_A_ZERO_WINDOW, *ACROSS_THE_WRAP, *AT_THE_EDGES],
         yourself=[*OWN_CHECKS, *own_reset(S.FIN_WAIT_1, S.FIN_WAIT_2)]),
    cell("test_closing_rst", 1,
         visible=[transition(S.CLOSING, Arrival(Segment(seq=301, ack=0, flags=RST))),
                  transition(S.CLOSING, Arrival(Segment(seq=302, ack=0, flags=RST)))],
         hidden=[transitions(S.CLOSING, profiles=PROFILES, weight=2),
                 transitions(S.CLOSING, profiles=WRAPPED, wrap=True, weight=1)],
         yourself=own_reset(S.CLOSING)),
    cell("test_last_ack_rst", 1,
         visible=[transition(S.LAST_ACK, Arrival(Segment(seq=101, ack=0, flags=RST))),
                  transition(S.LAST_ACK, Arrival(Segment(seq=102, ack=0, flags=RST)))],
         hidden=[transitions(S.LAST_ACK, profiles=PROFILES, weight=2),
                 transitions(S.LAST_ACK, profiles=WRAPPED, wrap=True, weight=1)],
         yourself=own_reset(S.LAST_ACK)),
    cell("test_close_wait_rst", 2,
         visible=[transition(S.CLOSE_WAIT, Arrival(Segment(seq=101, ack=0, flags=RST))), scenario("rst-in-close-wait"),
                  # what the application hears is the profile's (a reader's RESET_ERROR under linux passed)
                  scenario("rst-in-close-wait", profile=LINUX),
                  # linux: close() cancels the delayed-ACK timer, the FIN carries the ACK
                  transition(S.CLOSE_WAIT, AppClose(), profile=LINUX)],
         hidden=[family("rst-in-close-wait", "half-close", k=1, profiles=PROFILES, given=CHECKED_ELSEWHERE, weight=1),
                 family("rst-in-close-wait", "half-close", k=1, profiles=WRAPPED, wrap=True,
                        given=CHECKED_ELSEWHERE, weight=0.5),
                 transitions(S.CLOSE_WAIT, profiles=PROFILES, weight=1),
                 transitions(S.CLOSE_WAIT, profiles=WRAPPED, wrap=True, weight=0.5)],
         yourself=own_reset(S.CLOSE_WAIT)),
    cell("test_time_wait_rst", 2,
         visible=[scenario("rst-in-time-wait"), scenario("rst-in-time-wait", profile=RFC1337)],
         hidden=[family("rst-in-time-wait", "old-duplicate-after-reuse", k=1, profiles=PROFILES,
                        given=CHECKED_ELSEWHERE, weight=1),
                 family("rst-in-time-wait", "old-duplicate-after-reuse", k=1, profiles=WRAPPED, wrap=True,
                        given=CHECKED_ELSEWHERE, weight=0.5),
                 transitions(S.TIME_WAIT, profiles=PROFILES, weight=1),
                 transitions(S.TIME_WAIT, profiles=WRAPPED, wrap=True, weight=0.5),
                 # Linux with tcp_rfc1337=1: its own TIME_WAIT rules ignore the exact RST too.
                 transition(S.TIME_WAIT, Arrival(Segment(seq=301, ack=0, flags=RST)),
                            profile=LINUX.replace(rfc1337=True), weight=0.25),
                 # A RST shaped like B's FIN again (it ends at RCV.NXT) is an unacceptable RST: dropped
                 # silently, no ACK and no restarted 2 MSL (RFC 9293 §3.10.7.4, first check).
                 transition(S.TIME_WAIT, Arrival(Segment(seq=300, ack=101, flags=RST | FIN | ACK)), weight=0.25)],
         yourself=own_reset(S.TIME_WAIT)),
    cell("test_established_abort", 2,
         visible=[scenario("abort"), scenario("abort", profile=LINUX)],
         hidden=[family("abort", k=1, profiles=PROFILES, given=CHECKED_ELSEWHERE, weight=1),
                 family("abort", k=1, profiles=WRAPPED, wrap=True, given=CHECKED_ELSEWHERE, weight=0.5),
                 transitions(S.ESTABLISHED, profiles=PROFILES, weight=1),
                 transitions(S.ESTABLISHED, profiles=WRAPPED, wrap=True, weight=0.5),
                 *ABORT_IN_EVERY_STATE],
         yourself=[yourself(S.ESTABLISHED, "send_rst", what="build ABORT's RST, <SEQ=SND.NXT><CTL=RST> (linux: RST,ACK)"),
                   *own_reset(S.ESTABLISHED)]),
    cell("test_established_close_with_unread_data", 2,
         visible=[scenario("close-with-unread-data", profile=LINUX), scenario("close-with-unread-data")],
         hidden=[family("close-with-unread-data", k=1, profiles=PROFILES, given=CHECKED_ELSEWHERE, weight=2),
                 family("close-with-unread-data", k=1, profiles=WRAPPED, wrap=True, given=CHECKED_ELSEWHERE, weight=1),
                 # Data that reaches an orphan after close() is refused too (linux: RST, and the socket is gone);
                 # rfc9293's close() still reads it.
                 family("data-after-close", k=1, profiles=(LINUX,), given=CHECKED_ELSEWHERE, weight=2),
                 family("data-after-close", k=1, profiles=(LINUX,), wrap=True, given=CHECKED_ELSEWHERE, weight=1),
                 scenario("data-after-close", weight=0.5),
                 # shutdown() keeps reading: unread data is no reason for a RST there, only close() is.
                 transition(S.ESTABLISHED, AppClose(shutdown=True, unread=6), profile=LINUX, weight=2),
                 transition(S.CLOSE_WAIT, AppClose(shutdown=True, unread=6), profile=LINUX, weight=2),
                 transition(S.ESTABLISHED, AppClose(unread=6), profile=LINUX, weight=0.5),
                 transition(S.CLOSE_WAIT, AppClose(unread=6), profile=LINUX, weight=0.5)],
         yourself=[yourself(state, "on_unread_close", what="decide what close() does with data never read")
                   for state in (S.ESTABLISHED, S.CLOSE_WAIT)]),
    cell("test_closed_segment", 1,
         visible=[transition(S.CLOSED, Arrival(Segment(seq=101, ack=301))),
                  transition(S.CLOSED, Arrival(Segment(seq=101, ack=0, flags=RST))),
                  transition(S.CLOSED, Arrival(Segment(seq=101, ack=0, flags=FIN)))],  # no ACK bit: <SEQ=0><ACK=102>
         hidden=[transitions(S.CLOSED, profiles=PROFILES, weight=1),
                 transitions(S.CLOSED, profiles=WRAPPED, wrap=True, weight=0.5),
                 *NO_CONNECTION],
         yourself=[yourself(S.CLOSED, "reset_for", what="build the RST of §3.10.7.1 from the segment's numbers")]),
    cell("test_fin_wait_2_orphan_timeout", 1,
         visible=[scenario("orphan-fin-wait-2", profile=LINUX), scenario("orphan-fin-wait-2")],
         hidden=[family("orphan-fin-wait-2", k=1, profiles=PROFILES, weight=2),
                 family("orphan-fin-wait-2", k=1, profiles=WRAPPED, wrap=True, weight=1)]),
]

BEFORE_SUBMIT = every_hidden_check(CELLS)

# What each prediction's learner reads once they answered (tests.predict(key, ...)): kept here, since
# a prediction cell's source is one click away and would give the answer away.
EXPLANATIONS = {
    "rst-off-rcv-nxt": (
        "In the window but not exactly RCV.NXT: a challenge ACK <SEQ=101><ACK=300>, and A stays in "
        "FIN_WAIT_2."
    ),
    "rst-in-close-wait": (
        "B could still send, so its application must learn the connection is gone: RFC 9293 §3.10.7.4 says"
        " 'connection reset', and Linux reports it as EPIPE, 'broken pipe', the error a write to a closed"
        " pipe gets (tcp_reset() in net/ipv4/tcp_input.c). Its later close() then finds no connection at all."
    ),
    "close-with-unread-data": (
        "RFC 9293 §3.6.1 (SHLD-3; RFC 2525 §2.17): a close() that also ends reading, with data unread, SHOULD"
        " send a RST, not a FIN; Linux's RST carries ACK."
    ),
}

# Where each prediction's answer comes from (tests.predict(key, ...)): the reference's trace. Kept here, as a
# scenario's name in the cell ("lost-final-ack") would say the answer.
ANSWERS = {
    "rst-off-rcv-nxt": from_reply(TCB(snd_una=101, snd_nxt=101, rcv_nxt=300, fin_seq=100), Segment(seq=301, ack=0, flags=RST)),
    "rst-in-close-wait": from_trace("rst-in-close-wait", "B", "error", field="detail", profile="linux"),
    "close-with-unread-data": from_trace("close-with-unread-data", "A", "send", nth=2, field="flags", profile="linux"),
}
