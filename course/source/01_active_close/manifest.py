"""Grading manifest of 01_active_close: what each test cell checks and what it is worth.

Never released (nbgrader's CourseDirectory.ignore): the hidden checks live here only.
Read by the notebook's test cells (autograder.checks.CellTests), its "before you submit"
cell and the trusted grader (autograder.checks.grade_cell). See autograder/manifest.py.
"""

from autograder.predictions import from_trace
from autograder.manifest import cell, every_hidden_check, family, scenario, transition, transitions, yourself
from reference_impl.profiles import LINUX
from reference_impl.segment import ACK, FIN, Segment
from reference_impl.states import AppClose, Arrival, State, Timeout, Timer
from reference_impl.tcb import TCB

S = State
FIN_300_ACK_101 = Arrival(Segment(seq=300, ack=101, flags=FIN | ACK))  # B's FIN, acknowledging A's FIN
DATA_OUT = TCB(snd_una=100, snd_nxt=200, rcv_nxt=300, unacked=b"x" * 100)  # 100 bytes not yet ACKed
HALF_CLOSED = TCB(snd_una=100, snd_nxt=101, rcv_nxt=300, fin_seq=100, orphaned=False)  # shutdown(): no orphan
FIN_AFTER_DATA = TCB(snd_una=100, snd_nxt=201, rcv_nxt=300, fin_seq=200, unacked=b"x" * 100, orphaned=True)
RTO_RUNNING = {Timer.RETRANSMIT: 1_000_000}
SHUT_WINDOW = TCB(snd_una=100, snd_nxt=100, rcv_nxt=300, snd_wnd=0)  # the peer's window is zero: the FIN waits
FIN_NO_ACK = Arrival(Segment(seq=300, ack=0, flags=FIN))  # B's FIN again, without the ACK bit
# B's FIN again, on the end of B's last data (10 octets from SEQ 300): it ends at RCV.NXT = 311, not 301
FIN_ON_DATA_AGAIN = Arrival(Segment(seq=300, ack=101, flags=FIN | ACK, payload=b"last words"))
AFTER_DATA_AND_FIN = TCB(snd_una=101, snd_nxt=101, rcv_nxt=311, fin_seq=100)
# 100 bytes in flight, 50 more and the FIN (SEQ 250) waiting for the peer's window: ACK=200 is SND.NXT, not the FIN
FIN_HELD = TCB(snd_una=100, snd_nxt=200, rcv_nxt=300, fin_seq=250, unacked=b"x" * 100, unsent=b"y" * 50, snd_wnd=100,
               orphaned=True)
FIN_ACKED = TCB(snd_una=101, snd_nxt=101, rcv_nxt=300, fin_seq=100)  # FIN_WAIT_2: our FIN at 100 acknowledged
GAP = Arrival(Segment(seq=310, ack=101, payload=b"after a gap"))  # data beyond RCV.NXT: not taken, acknowledged
# What FIN_WAIT_1's cells ask the learner to decide, not TCB.fin_acked
OWN_FIN_ACKED = yourself(S.FIN_WAIT_1, "fin_acked",
                         what="compare SND.UNA with the number after your FIN")
STATES = (S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.TIME_WAIT)

CELLS = [
    cell("test_established_close", 2,
         visible=[transition(S.ESTABLISHED, AppClose()), transition(S.ESTABLISHED, AppClose(shutdown=True))],
         hidden=[transition(S.ESTABLISHED, AppClose(), profile=LINUX),
                 transition(S.ESTABLISHED, AppClose(), tcb=DATA_OUT, timers={Timer.RETRANSMIT: 900_000}),
                 transition(S.ESTABLISHED, AppClose(shutdown=True), tcb=DATA_OUT, timers={Timer.RETRANSMIT: 900_000},
                            profile=LINUX),
                 scenario("active-close"),  # the FIN's number: B's ACK must match your SND.NXT
                 scenario("server-initiated-close", profile=LINUX),
                 transition(S.ESTABLISHED, AppClose(), tcb=SHUT_WINDOW, weight=0.5),  # held back; the timer probes
                 transition(S.ESTABLISHED, AppClose(), tcb=SHUT_WINDOW, profile=LINUX, weight=0.5),
                 transition(S.ESTABLISHED, AppClose(), wrap=True),  # the FIN on 2**32 - 1: SND.NXT wraps to 0
                 scenario("active-close", wrap=True),
                 scenario("server-initiated-close", profile=LINUX, wrap=True)],
         # the exercise is the FIN itself: send_fin (or TCB.transmit, which builds it) would do it for the learner
         yourself=[yourself(S.ESTABLISHED, "send_fin", "transmit",
                            what="build the FIN <SEQ=SND.NXT><ACK=RCV.NXT><CTL=FIN,ACK> and advance SND.NXT over it")]),
    cell("test_established_fin", 1,
         visible=[transition(S.ESTABLISHED, Arrival(Segment(seq=300, ack=100, flags=FIN | ACK)))],
         hidden=[transition(S.ESTABLISHED, Arrival(Segment(seq=300, ack=100, flags=FIN | ACK)), profile=LINUX),
                 transition(S.ESTABLISHED, Arrival(Segment(seq=300, ack=100, flags=FIN | ACK, payload=b"bye"))),
                 transition(S.ESTABLISHED, Arrival(Segment(seq=300, ack=100, payload=b"just data"))),
                 scenario("server-initiated-close"),
                 transition(S.ESTABLISHED, Arrival(Segment(seq=300, ack=100, flags=FIN | ACK)), wrap=True),
                 scenario("server-initiated-close", wrap=True)]),
    cell("test_fin_wait_1_ack_of_fin", 2,
         # linux: the orphan timer (item 2 of the exercise; a reader's handler without it passed)
         visible=[transition(S.FIN_WAIT_1, Arrival(Segment(seq=300, ack=101))),
                  transition(S.FIN_WAIT_1, Arrival(Segment(seq=300, ack=101)), profile=LINUX)],
         hidden=[transition(S.FIN_WAIT_1, Arrival(Segment(seq=300, ack=101)), profile=LINUX),  # the orphan timer
                 transition(S.FIN_WAIT_1, Arrival(Segment(seq=300, ack=101)), tcb=HALF_CLOSED,
                            timers={Timer.RETRANSMIT: 220_000}, profile=LINUX),
                 transition(S.FIN_WAIT_1, Arrival(Segment(seq=300, ack=101, payload=b"late data"))),
                 transition(S.FIN_WAIT_1, Arrival(Segment(seq=300, ack=101)), wrap=True),  # ACK=0 covers the FIN
                 scenario("active-close", wrap=True)],
         yourself=[OWN_FIN_ACKED]),
    cell("test_fin_wait_1_ack_of_data", 2,
         visible=[transition(S.FIN_WAIT_1, Arrival(Segment(seq=300, ack=200)), tcb=FIN_AFTER_DATA, timers=RTO_RUNNING)],
         hidden=[transition(S.FIN_WAIT_1, Arrival(Segment(seq=300, ack=150)), tcb=FIN_AFTER_DATA, timers=RTO_RUNNING,
                            profile=LINUX),
                 transition(S.FIN_WAIT_1, Arrival(Segment(seq=300, ack=100))),  # a duplicate ACK: nothing new
                 transition(S.FIN_WAIT_1, Arrival(Segment(seq=300, ack=201)), tcb=FIN_AFTER_DATA, timers=RTO_RUNNING),
                 scenario("ack-of-data-not-fin"),
                 scenario("ack-of-data-not-fin", profile=LINUX),
                 transition(S.FIN_WAIT_1, Arrival(Segment(seq=300, ack=200)), tcb=FIN_AFTER_DATA, timers=RTO_RUNNING,
                            wrap=True),
                 scenario("ack-of-data-not-fin", wrap=True),
                 # everything sent is acknowledged (SEG.ACK = SND.NXT), but the FIN has not left yet
                 transition(S.FIN_WAIT_1, Arrival(Segment(seq=300, ack=200, window=0)), tcb=FIN_HELD, timers=RTO_RUNNING,
                            weight=0.5)],
         yourself=[OWN_FIN_ACKED]),
    cell("test_fin_wait_2_fin", 2,
         visible=[transition(S.FIN_WAIT_2, FIN_300_ACK_101)],
         hidden=[transition(S.FIN_WAIT_2, FIN_300_ACK_101, profile=LINUX),
                 transition(S.FIN_WAIT_2, Arrival(Segment(seq=300, ack=101, flags=FIN | ACK, payload=b"bye"))),
                 scenario("active-close", profile=LINUX),
                 scenario("active-close"),
                 transition(S.FIN_WAIT_2, FIN_300_ACK_101, wrap=True),
                 scenario("active-close", profile=LINUX, wrap=True)]),
    cell("test_fin_wait_2_data", 1,
         visible=[transition(S.FIN_WAIT_2, Arrival(Segment(seq=300, ack=101, payload=b"more data")))],
         hidden=[transition(S.FIN_WAIT_2, Arrival(Segment(seq=300, ack=101, payload=b"more data")), profile=LINUX),
                 transition(S.FIN_WAIT_2, Arrival(Segment(seq=300, ack=101))),  # a duplicate ACK: nothing to do
                 scenario("half-close"),
                 scenario("half-close", profile=LINUX),
                 scenario("half-close", wrap=True),
                 transition(S.FIN_WAIT_2, GAP, weight=0.5),  # out of order: ACK=RCV.NXT, nothing delivered
                 # RCV.NXT on 2**32 - 1: the data's end wraps to 8
                 transition(S.FIN_WAIT_2, Arrival(Segment(seq=300, ack=101, payload=b"more data")), tcb=FIN_ACKED,
                            wrap=True)]),
    cell("test_time_wait_timeout", 1,
         visible=[transition(S.TIME_WAIT, Timeout(Timer.TIME_WAIT))],
         hidden=[transition(S.TIME_WAIT, Timeout(Timer.TIME_WAIT), profile=LINUX),
                 scenario("active-close")]),
    cell("test_time_wait_retransmitted_fin", 2,
         visible=[transition(S.TIME_WAIT, FIN_300_ACK_101)],
         hidden=[transition(S.TIME_WAIT, FIN_300_ACK_101, profile=LINUX),
                 transition(S.TIME_WAIT, FIN_NO_ACK, weight=0.5),  # fifth step: no ACK bit, dropped
                 transition(S.TIME_WAIT, FIN_NO_ACK, profile=LINUX, weight=0.5),  # ACKed, timer not re-armed
                 scenario("lost-final-ack"),
                 scenario("lost-final-ack-twice", profile=LINUX),
                 scenario("lost-final-ack-twice"),
                 transition(S.TIME_WAIT, FIN_300_ACK_101, wrap=True),  # B's FIN on 2**32 - 1, RCV.NXT = 0
                 scenario("lost-final-ack", wrap=True),
                 scenario("lost-final-ack-twice", wrap=True),
                 # SEG.LEN counts the data before the FIN: SEG.SEQ + 1 is not where this copy ends
                 transition(S.TIME_WAIT, FIN_ON_DATA_AGAIN, tcb=AFTER_DATA_AND_FIN, weight=0.5),
                 transition(S.TIME_WAIT, FIN_ON_DATA_AGAIN, tcb=AFTER_DATA_AND_FIN, wrap=True, weight=0.5),
                 # a bare ACK is not answered: two ends in TIME_WAIT would trade ACKs for ever
                 transition(S.TIME_WAIT, Arrival(Segment(seq=301, ack=101)), weight=0.5)],
         yourself=[yourself(S.TIME_WAIT, "is_retransmitted_fin",
                            what="recognise a copy of the peer's FIN by where it ends (RCV.NXT)")]),
    cell("test_active_close", 3,
         visible=[scenario("active-close")],
         hidden=[family("active-close", "ack-of-data-not-fin", k=1, weight=2),
                 family("active-close", "ack-of-data-not-fin", k=1, wrap=True, weight=1),
                 transitions(*STATES, weight=1),
                 transitions(*STATES, wrap=True, weight=0.5)]),
]

BEFORE_SUBMIT = every_hidden_check(CELLS)

# What each prediction's learner reads once they answered (tests.predict(key, ...)): kept here, since
# a prediction cell's source is one click away and would give the answer away.
EXPLANATIONS = {
    "close-in-established": "A has sent its FIN and waits for it to be acknowledged (RFC 9293 §3.10.4).",
    "ack-of-the-fin": "The FIN occupies sequence number 100, so 'everything up to and including the FIN' is ACK=101.",
    "fin-in-fin-wait-2": "A acknowledges B's FIN and waits 2 MSL before forgetting the connection.",
    "ack-of-data-before-the-fin": "ACK=200 covers the bytes 100-199 but not the FIN at 200: the FIN is acknowledged only by ACK=201.",
    "second-copy-of-the-fin": "A acknowledges the copy and starts the 2 MSL wait again: the peer may need yet another answer.",
}

# Where each prediction's answer comes from (tests.predict(key, ...)): the reference's trace. Kept here, as a
# scenario's name in the cell ("lost-final-ack") would say the answer.
ANSWERS = {
    "close-in-established": from_trace("active-close", "A", "close"),
    "ack-of-the-fin": from_trace("active-close", "B", "send", field="ack"),
    "fin-in-fin-wait-2": from_trace("active-close", "A", "recv", nth=2),
    "ack-of-data-before-the-fin": from_trace("ack-of-data-not-fin", "A", "recv", nth=1),
    "second-copy-of-the-fin": from_trace("lost-final-ack", "A", "recv", nth=3),
}
