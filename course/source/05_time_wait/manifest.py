"""Grading manifest of 05_time_wait: what each test cell checks and what it is worth.

Never released (nbgrader's CourseDirectory.ignore): the hidden checks live here only.
Read by the notebook's test cells (autograder.checks.CellTests), its "before you submit"
cell and the trusted grader (autograder.checks.grade_cell). See autograder/manifest.py.
"""

from autograder.predictions import from_trace
from autograder.manifest import cell, every_hidden_check, family, scenario, transition, transitions, yourself
from reference_impl.profiles import LINUX, RFC9293, sec
from reference_impl.segment import ACK, FIN, RST, SYN, Segment
from reference_impl.states import Arrival, State, Timeout, Timer
from reference_impl.tcb import TCB

S = State
NO_TIME_WAIT = RFC9293.replace(time_wait=0)  # the experiment: the RFC profile with TIME_WAIT switched off
# RFC 9293's rules with an MSL of one minute (2 MSL = 120 s): TIME_WAIT is always profile.time_wait, never a
# number (the linux profile's 60 s is checked in the Linux cell, which a hard-coded 240 s fails too).
SHORT_MSL = RFC9293.replace(msl=sec(60), time_wait=sec(120))
# Linux's TIME_WAIT arrivals are the learner's linux_time_wait, graded in its own cell (test_time_wait_linux);
# the other cells take RFC 9293's rules only, so a mistake in either costs once.
PROFILES = (RFC9293, NO_TIME_WAIT, SHORT_MSL)
LINUX_1337 = LINUX.replace(rfc1337=True)  # net.ipv4.tcp_rfc1337 = 1: an RST at RCV.NXT no longer ends TIME_WAIT
LINUX_PROFILES = (LINUX, LINUX_1337)
FIN_AGAIN = Arrival(Segment(seq=300, ack=101, flags=FIN | ACK))
FIN_NO_ACK = Arrival(Segment(seq=300, ack=0, flags=FIN))  # the same FIN without the ACK bit
# B's FIN again, on the end of B's last data (10 octets from SEQ 300): it ends at RCV.NXT = 311, not 301
FIN_ON_DATA_AGAIN = Arrival(Segment(seq=300, ack=101, flags=FIN | ACK, payload=b"last words"))
AFTER_DATA_AND_FIN = TCB(snd_una=101, snd_nxt=101, rcv_nxt=311, fin_seq=100)
# An old duplicate FIN (of an earlier connection, or wandering): it ends at 291, before RCV.NXT = 301, so it
# is not the peer's FIN again: acknowledged (not acceptable), and 2 MSL is not restarted
OLD_FIN = Arrival(Segment(seq=290, ack=101, flags=FIN | ACK))

LOOPBACK = True  # the release's loopback lab (observe_close) opens sockets: not flagged when grading

CELLS = [
    cell("test_time_wait_timeout", 2,
         visible=[transition(S.TIME_WAIT, Timeout(Timer.TIME_WAIT)),
                  transition(S.TIME_WAIT, Timeout(Timer.TIME_WAIT), profile=LINUX)],
         hidden=[transitions(S.TIME_WAIT, profiles=PROFILES, weight=2),
                 transitions(S.TIME_WAIT, profiles=PROFILES, wrap=True, weight=1),
                 transition(S.TIME_WAIT, Timeout(Timer.TIME_WAIT), profile=LINUX, wrap=True, weight=0.5)]),
    # The learner's own check (fin_again), not the building block is_retransmitted_fin.
    cell("test_time_wait_retransmitted_fin", 3,
         visible=[transition(S.TIME_WAIT, FIN_AGAIN),
                  transition(S.TIME_WAIT, FIN_NO_ACK),  # RFC 9293's fifth step: no ACK bit, dropped
                  # A valid RST (SEQ = RCV.NXT = 301) ends TIME_WAIT: CLOSED, silently (RFC 1337 is off here).
                  transition(S.TIME_WAIT, Arrival(Segment(seq=301, ack=0, flags=RST)))],
         hidden=[family("duplicate-fin-in-time-wait", "rst-in-time-wait", k=1, profiles=PROFILES, weight=2),
                 family("duplicate-fin-in-time-wait", "rst-in-time-wait", k=1, profiles=PROFILES, wrap=True,
                        weight=1),
                 transition(S.TIME_WAIT, FIN_AGAIN, wrap=True, weight=0.5),  # the FIN's end wraps past 2**32
                 # SEG.LEN counts the data before the FIN: SEG.SEQ + 1 is not where this copy ends
                 transition(S.TIME_WAIT, FIN_ON_DATA_AGAIN, tcb=AFTER_DATA_AND_FIN, weight=0.5),
                 transition(S.TIME_WAIT, FIN_ON_DATA_AGAIN, tcb=AFTER_DATA_AND_FIN, wrap=True, weight=0.5),
                 transition(S.TIME_WAIT, OLD_FIN, weight=0.5),
                 transition(S.TIME_WAIT, OLD_FIN, wrap=True, weight=0.5)],
         yourself=[yourself(S.TIME_WAIT, "is_retransmitted_fin",
                            what="recognise the peer's FIN again (your `fin_again`)")]),
    # The learner's linux_time_wait (tcp_timewait_state_process's rules), not the building block.
    cell("test_time_wait_linux", 3,
         visible=[transition(S.TIME_WAIT, FIN_AGAIN, profile=LINUX),
                  transition(S.TIME_WAIT, Arrival(Segment(seq=301, ack=101)), profile=LINUX),  # in window: no answer
                  transition(S.TIME_WAIT, Arrival(Segment(seq=301, ack=0, flags=RST)), profile=LINUX)],
         hidden=[transitions(S.TIME_WAIT, profiles=LINUX_PROFILES, weight=2),
                 transitions(S.TIME_WAIT, profiles=LINUX_PROFILES, wrap=True, weight=1),
                 transition(S.TIME_WAIT, FIN_NO_ACK, profile=LINUX, weight=0.5),  # ACKed, not re-armed
                 transition(S.TIME_WAIT, FIN_ON_DATA_AGAIN, tcb=AFTER_DATA_AND_FIN, profile=LINUX, weight=0.5),
                 family("duplicate-fin-in-time-wait", "rst-in-time-wait", "lost-final-ack", k=1,
                        profiles=LINUX_PROFILES, weight=1),
                 family("old-duplicate-after-reuse", k=0, profiles=(LINUX,), weight=0.5)],
         yourself=[yourself(S.TIME_WAIT, "timewait_state_process",
                            what="take a segment in TIME_WAIT by Linux's rules (your `linux_time_wait`)")]),
    cell("test_time_wait_lost_final_ack", 2,
         visible=[scenario("lost-final-ack"), scenario("lost-final-ack", profile=NO_TIME_WAIT)],
         hidden=[family("lost-final-ack", k=1, profiles=PROFILES, weight=2),
                 family("lost-final-ack", k=1, profiles=PROFILES, wrap=True, weight=1)]),
    # Reuse of the 4-tuple: the old duplicate, and a new SYN meeting TIME_WAIT (RFC 9293's challenge ACK).
    cell("test_time_wait_old_duplicate", 2,
         visible=[scenario("old-duplicate-after-reuse"), scenario("old-duplicate-after-reuse", profile=NO_TIME_WAIT),
                  transition(S.TIME_WAIT, Arrival(Segment(seq=5000, ack=0, flags=SYN)))],  # a challenge ACK, no restart
         # As is (k=0): the long reuse scenario with added losses is notebook 6's; here its three profiles.
         hidden=[family("old-duplicate-after-reuse", k=0, profiles=PROFILES, weight=2),
                 family("old-duplicate-after-reuse", k=0, profiles=PROFILES, wrap=True, weight=1),
                 transition(S.TIME_WAIT, Arrival(Segment(seq=5000, ack=0, flags=SYN)), wrap=True, weight=0.5),
                 family("syn-in-time-wait", k=0, profiles=PROFILES, weight=1),
                 family("syn-in-time-wait", k=0, profiles=PROFILES, wrap=True, weight=0.5)]),
]

BEFORE_SUBMIT = every_hidden_check(CELLS)

# What each prediction's learner reads once they answered (tests.predict(key, ...)): kept here, since
# a prediction cell's source is one click away and would give the answer away.
EXPLANATIONS = {
    "fin-again-without-time-wait": (
        "A has no connection any more, so it resets: B's close, which was perfectly fine, ends in a RST "
        "instead of the ACK it was waiting for."
    ),
    "old-duplicate-without-time-wait": (
        "The old bytes start exactly at RCV.NXT of the new connection (1100), so B accepts them, delivers "
        "them to its application as if A had just sent them, and acknowledges them."
    ),
    "old-duplicate-with-time-wait": (
        "There is no connection at B, so the stray segment is reset (RFC 9293 §3.10.7.2), and the RST dies "
        "harmlessly at A (outside A's window). The new connection opens only when A's TIME_WAIT is over, by "
        "then the copy is gone."
    ),
}

# Where each prediction's answer comes from (tests.predict(key, ...)): the reference's trace. Kept here, as a
# scenario's name in the cell ("lost-final-ack") would say the answer.
ANSWERS = {
    "fin-again-without-time-wait": from_trace("lost-final-ack", "A", "send", nth=3, field="flags", profile=NO_TIME_WAIT),
    "old-duplicate-without-time-wait": from_trace("old-duplicate-after-reuse", "B", "send", nth=7, field="flags", profile=NO_TIME_WAIT),
    "old-duplicate-with-time-wait": from_trace("old-duplicate-after-reuse", "B", "send", nth=6, field="flags"),
}
