"""Grading manifest of 04_lost_segments: what each test cell checks and what it is worth.

Never released (nbgrader's CourseDirectory.ignore): the hidden checks live here only.
Read by the notebook's test cells (autograder.checks.CellTests), its "before you submit"
cell and the trusted grader (autograder.checks.grade_cell). See autograder/manifest.py.
"""

from autograder.predictions import from_trace
from autograder.manifest import cell, every_hidden_check, family, scenario, transition, transitions, yourself
from reference_impl.profiles import LINUX, RFC9293
from reference_impl.segment import ACK, FIN, RST, Segment
from reference_impl.states import Arrival, State, Timeout, Timer
from reference_impl.tcb import TCB

S = State
FIN_AGAIN = Arrival(Segment(seq=300, ack=101, flags=FIN | ACK))
# Our FIN, sent as the probe of a zero window, at the retry limit: probing a shut window never gives up.
FIN_WITH_DATA = Arrival(Segment(seq=300, ack=101, flags=FIN | ACK, payload=b"late"))  # data, then the FIN
# The exercise of this notebook is the retransmission itself: FIN_WAIT_1 uses the learner's own
# (`resend`, with their `backoff`), not the library's `retransmit`, its `timer_probe` or the profile's
# backed-off `rto`; and the learner's own timer rules on an ACK (`ack_timer`, RFC 6298 §5.1-5.3), not
# `retransmit_timer`. LAST_ACK and CLOSING use the library's copies, so that a mistake in `resend` is
# charged in its own two cells, and one in `ack_timer` in its own.
def own_resend(state: State):
    return yourself(state, "on_retransmit_timeout", "retransmit", "gives_up", "timer_probe", "rto",
                    what="resend the segment, back the timer off and give up after the retry limit (your `resend`)")


def own_ack_timer(state: State):
    return yourself(state, "retransmit_timer",
                    what="start, stop or restart the retransmission timer on an ACK (your `ack_timer`)")


# The cells that test something else take FIN_WAIT_1's RETRANSMIT timeout from the reference in their
# scenario families (manifest.family's given): a lost FIN of A's is resent there as the reference
# resends it, so a mistake in `resend` or `backoff` costs its own two cells only.
REFERENCE_RESENDS = [(S.FIN_WAIT_1, Timeout(Timer.RETRANSMIT))]
# LAST_ACK's cell: what A does in FIN_WAIT_2 and TIME_WAIT is graded in their own cells, so the reference
# takes A's arrivals there too (a FIN_WAIT_2 that went to CLOSED cost this cell all its points)
LAST_ACKS_OWN = [*REFERENCE_RESENDS, (S.FIN_WAIT_2, Arrival), (S.TIME_WAIT, Arrival)]

PROBING = TCB(snd_una=100, snd_nxt=101, rcv_nxt=300, fin_seq=100, snd_wnd=0, retries=6)
# The same FIN probing a shut window at its first expiry: the timer backs off from there (at the
# limit above, both backed-off timeouts are already the maximum).
FIRST_PROBE = TCB(snd_una=100, snd_nxt=101, rcv_nxt=300, fin_seq=100, snd_wnd=0)
# close() met a zero window: the FIN waits unsent (SND.NXT = SND.UNA), and only the timer's probe asks for
# the window again (RFC 9293 §3.8.6.1, MUST-36): nothing in flight is not a stale timer here
FIN_WAITING = TCB(snd_una=100, snd_nxt=100, rcv_nxt=300, fin_seq=100, snd_wnd=0)
RTO_RUNNING = {Timer.RETRANSMIT: 1_000_000}
# 100 bytes in flight, the FIN (SEQ 200) waiting for window: the ACK of all of it shuts the window, so the FIN
# still waits, and only the timer's probe will ask for the window again (the timer must not stop)
DATA_BEFORE_FIN = TCB(snd_una=100, snd_nxt=200, rcv_nxt=300, fin_seq=200, unacked=b"x" * 100, snd_wnd=100,
                      orphaned=True)
ACK_SHUTS_WINDOW = Arrival(Segment(seq=300, ack=200, window=0))
# 100 bytes in flight, 50 and the FIN waiting: a window update lets them out, and the running timer
# stays as it is (RFC 6298 §5.1: started only when it is not running)
MORE_WAITING = TCB(snd_una=100, snd_nxt=200, rcv_nxt=300, fin_seq=250, unacked=b"x" * 100, unsent=b"y" * 50,
                   snd_wnd=100, orphaned=True)
WINDOW_UPDATE = Arrival(Segment(seq=300, ack=100, window=1000))


def at_the_retry_limit(state: State, tcb: TCB) -> list:
    """`state`'s FIN retransmitted as often as each profile allows (Linux's tail-loss probe already
    sent): the next expiry gives up. The given `on_retransmit_timeout` line does it; a handler that
    replaced it must still give up."""
    return [transition(state, Timeout(Timer.RETRANSMIT), tcb=tcb.replace(retries=p.max_retries, probed=True),
                       timers={Timer.RETRANSMIT: 0}, profile=p, weight=0.25)
            for p in (RFC9293, LINUX)]  # fmt: skip

CELLS = [
    cell("test_fin_wait_1_retransmit", 3,
         visible=[transition(S.FIN_WAIT_1, Timeout(Timer.RETRANSMIT)), scenario("lost-first-fin")],
         hidden=[family("lost-first-fin", k=2, weight=2),
                 family("lost-first-fin", k=1, wrap=True, weight=1),
                 transitions(S.FIN_WAIT_1, weight=1),
                 transitions(S.FIN_WAIT_1, wrap=True, weight=0.5),
                 *[transition(S.FIN_WAIT_1, Timeout(Timer.RETRANSMIT), tcb=FIN_WAITING, timers={Timer.RETRANSMIT: 0},
                              profile=p, weight=0.25) for p in (RFC9293, LINUX)]],
         yourself=[own_resend(S.FIN_WAIT_1)]),
    cell("test_fin_wait_1_retry_limit", 2,
         visible=[scenario("fin-retry-limit")],
         hidden=[family("fin-retry-limit", k=2, weight=2),
                 family("fin-retry-limit", k=1, wrap=True, weight=1),
                 transition(S.FIN_WAIT_1, Timeout(Timer.RETRANSMIT), tcb=PROBING, timers={Timer.RETRANSMIT: 0},
                            weight=0.25),
                 transition(S.FIN_WAIT_1, Timeout(Timer.RETRANSMIT), tcb=FIRST_PROBE, timers={Timer.RETRANSMIT: 0},
                            weight=0.25)],
         yourself=[own_resend(S.FIN_WAIT_1)]),
    cell("test_fin_wait_1_ack_of_data", 2,
         visible=[scenario("ack-of-data-not-fin")],
         hidden=[family("ack-of-data-not-fin", k=2, weight=2, given=REFERENCE_RESENDS),
                 family("ack-of-data-not-fin", k=1, wrap=True, weight=1, given=REFERENCE_RESENDS),
                 family("fin-behind-zero-window", k=1, weight=0.5, given=REFERENCE_RESENDS),
                 family("fin-behind-zero-window", k=1, wrap=True, weight=0.25, given=REFERENCE_RESENDS),
                 *[transition(S.FIN_WAIT_1, ev, tcb=tcb, timers=RTO_RUNNING, profile=p, weight=0.25)
                   for ev, tcb in ((ACK_SHUTS_WINDOW, DATA_BEFORE_FIN), (WINDOW_UPDATE, MORE_WAITING))
                   for p in (RFC9293, LINUX)]],
         yourself=[own_ack_timer(S.FIN_WAIT_1)]),
    cell("test_fin_wait_1_fin_ack", 1,
         visible=[scenario("lost-ack-of-fin")],
         hidden=[family("lost-ack-of-fin", k=2, weight=2, given=REFERENCE_RESENDS),
                 family("lost-ack-of-fin", k=1, wrap=True, weight=1, given=REFERENCE_RESENDS)]),
    cell("test_last_ack_retransmit", 2,
         visible=[transition(S.LAST_ACK, Timeout(Timer.RETRANSMIT)), scenario("lost-second-fin", given=LAST_ACKS_OWN),
                  # A valid RST in LAST_ACK closes silently: the application has closed already.
                  transition(S.LAST_ACK, Arrival(Segment(seq=101, ack=0, flags=RST)))],
         hidden=[family("lost-second-fin", k=2, weight=1, given=LAST_ACKS_OWN),
                 family("lost-second-fin", k=1, wrap=True, weight=0.5, given=LAST_ACKS_OWN),
                 transitions(S.LAST_ACK, weight=1),
                 transitions(S.LAST_ACK, wrap=True, weight=0.5),
                 *at_the_retry_limit(S.LAST_ACK, TCB(snd_una=300, snd_nxt=301, rcv_nxt=101, fin_seq=300))]),
    cell("test_fin_wait_2_fin", 1,
         visible=[transition(S.FIN_WAIT_2, FIN_AGAIN), transition(S.FIN_WAIT_2, FIN_AGAIN, profile=LINUX),
                  transition(S.FIN_WAIT_2, FIN_WITH_DATA)],
         hidden=[transitions(S.FIN_WAIT_2, weight=2),
                 transitions(S.FIN_WAIT_2, wrap=True, weight=1)]),
    cell("test_time_wait_retransmitted_fin", 3,
         visible=[transition(S.TIME_WAIT, FIN_AGAIN), transition(S.TIME_WAIT, FIN_AGAIN, profile=LINUX)],
         hidden=[family("lost-final-ack", "lost-final-ack-twice", "duplicate-fin-in-time-wait", k=2, weight=2,
                        given=REFERENCE_RESENDS),
                 family("lost-final-ack", "lost-final-ack-twice", "duplicate-fin-in-time-wait", k=1, wrap=True,
                        weight=1, given=REFERENCE_RESENDS),
                 transitions(S.TIME_WAIT, weight=1),
                 transitions(S.TIME_WAIT, wrap=True, weight=0.5),
                 # a bare ACK is not answered: two ends in TIME_WAIT would trade ACKs for ever
                 transition(S.TIME_WAIT, Arrival(Segment(seq=301, ack=101)), weight=0.5)]),
    cell("test_closing_retransmit", 1,
         visible=[transition(S.CLOSING, Timeout(Timer.RETRANSMIT)),
                  transition(S.CLOSING, Timeout(Timer.RETRANSMIT), profile=LINUX)],
         hidden=[transitions(S.CLOSING, weight=2),
                 transitions(S.CLOSING, wrap=True, weight=1),
                 *at_the_retry_limit(S.CLOSING, TCB(snd_una=100, snd_nxt=101, rcv_nxt=301, fin_seq=100))]),
]

BEFORE_SUBMIT = every_hidden_check(CELLS)

# What each prediction's learner reads once they answered (tests.predict(key, ...)): kept here, since
# a prediction cell's source is one click away and would give the answer away.
EXPLANATIONS = {
    "every-fin-lost": (
        "After profile.max_retries retransmissions TCP gives up (RFC 9293 §3.8.3) and reports the user "
        "timeout; no RST is sent, since nobody has answered."
    ),
}

# Where each prediction's answer comes from (tests.predict(key, ...)): the reference's trace. Kept here, as a
# scenario's name in the cell ("lost-final-ack") would say the answer.
ANSWERS = {
    "every-fin-lost": from_trace("fin-retry-limit", "A", "error", field="detail"),
}
