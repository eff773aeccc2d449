"""Grading manifest of 02_passive_close: what each test cell checks and what it is worth.

Never released (nbgrader's CourseDirectory.ignore): the hidden checks live here only.
Read by the notebook's test cells (autograder.checks.CellTests), its "before you submit"
cell and the trusted grader (autograder.checks.grade_cell). See autograder/manifest.py.
"""

from autograder.predictions import from_trace
from autograder.manifest import cell, every_hidden_check, family, scenario, transition, transitions
from reference_impl.profiles import LINUX, RFC9293, ms
from reference_impl.segment import ACK, FIN, Segment
from reference_impl.states import AppClose, AppSend, Arrival, State, Timeout, Timer
from reference_impl.tcb import TCB

S = State
PEER_FIN = Arrival(Segment(seq=300, ack=100, flags=FIN | ACK))
DELAYED = TCB(snd_una=300, snd_nxt=300, rcv_nxt=101)  # the ACK of the peer's FIN is still waiting
SENDING = TCB(snd_una=300, snd_nxt=309, rcv_nxt=101, unacked=b"more data")  # 9 bytes already in flight
TWO_WRITES = TCB(snd_una=300, snd_nxt=319, rcv_nxt=101, unacked=b"more datalast words")
FIN_AFTER_DATA = TCB(snd_una=309, snd_nxt=320, rcv_nxt=101, fin_seq=319, unacked=b"last words")
RTO_RUNNING = {Timer.RETRANSMIT: 1_000_000}


def gives_up(state: State, tcb: TCB) -> list:
    """Data of `state` retransmitted as often as each profile allows (Linux's tail-loss probe already
    sent): the next expiry gives up. The given `on_retransmit_timeout` line does it (notebook 4)."""
    return [transition(state, Timeout(Timer.RETRANSMIT), tcb=tcb.replace(retries=p.max_retries, probed=True),
                       timers={Timer.RETRANSMIT: 0}, profile=p, weight=0.25)
            for p in (RFC9293, LINUX)]  # fmt: skip

CELLS = [
    cell("test_established_fin", 2,
         visible=[transition(S.ESTABLISHED, PEER_FIN)],
         hidden=[transition(S.ESTABLISHED, PEER_FIN, profile=LINUX),
                 transition(S.ESTABLISHED, Arrival(Segment(seq=300, ack=100, flags=FIN | ACK, payload=b"bye"))),
                 transition(S.ESTABLISHED, Arrival(Segment(seq=300, ack=100, payload=b"data"))),
                 scenario("three-way-close"),
                 transition(S.ESTABLISHED, PEER_FIN, wrap=True),  # the FIN on 2**32 - 1: RCV.NXT wraps to 0
                 scenario("three-way-close", wrap=True),
                 *gives_up(S.ESTABLISHED, TCB(snd_una=100, snd_nxt=104, rcv_nxt=300, unacked=b"data"))]),
    cell("test_close_wait_close", 2,
         visible=[transition(S.CLOSE_WAIT, AppClose())],
         hidden=[transition(S.CLOSE_WAIT, AppClose(), profile=LINUX),
                 transition(S.CLOSE_WAIT, AppClose(shutdown=True)),
                 transition(S.CLOSE_WAIT, AppClose(), tcb=DELAYED, timers={Timer.DELAYED_ACK: 30_000},
                            profile=RFC9293.replace(delayed_ack=ms(40))),
                 scenario("active-close"),
                 scenario("three-way-close", profile=LINUX),
                 transition(S.CLOSE_WAIT, AppClose(), wrap=True),
                 scenario("active-close", wrap=True)]),
    cell("test_close_wait_send", 2,
         visible=[transition(S.CLOSE_WAIT, AppSend(b"more data"))],
         hidden=[transition(S.CLOSE_WAIT, AppSend(b"more data"), profile=LINUX),
                 transition(S.CLOSE_WAIT, AppSend(b"last words"), tcb=SENDING, timers=RTO_RUNNING),
                 scenario("half-close"),
                 scenario("half-close", profile=LINUX),
                 transition(S.CLOSE_WAIT, AppSend(b"last words"), tcb=SENDING, timers=RTO_RUNNING, wrap=True),
                 scenario("half-close", wrap=True),
                 *gives_up(S.CLOSE_WAIT, SENDING)]),
    cell("test_close_wait_ack", 1,
         visible=[transition(S.CLOSE_WAIT, Arrival(Segment(seq=101, ack=319)), tcb=TWO_WRITES, timers=RTO_RUNNING)],
         hidden=[transition(S.CLOSE_WAIT, Arrival(Segment(seq=101, ack=309)), tcb=TWO_WRITES, timers=RTO_RUNNING,
                            profile=LINUX),
                 transition(S.CLOSE_WAIT, Arrival(Segment(seq=101, ack=300)), tcb=TWO_WRITES, timers=RTO_RUNNING),
                 transition(S.CLOSE_WAIT, Arrival(Segment(seq=101, ack=300, payload=b"late"))),  # should not occur
                 transition(S.CLOSE_WAIT, Arrival(Segment(seq=101, ack=319)), tcb=TWO_WRITES, timers=RTO_RUNNING,
                            wrap=True),
                 transition(S.CLOSE_WAIT, Arrival(Segment(seq=101, ack=309)), tcb=TWO_WRITES, timers=RTO_RUNNING,
                            wrap=True)]),
    cell("test_last_ack_ack_of_fin", 2,
         visible=[transition(S.LAST_ACK, Arrival(Segment(seq=101, ack=301))),
                  # an ACK of the data before the FIN, not of the FIN: stay (a reader's "close on any ACK" passed)
                  transition(S.LAST_ACK, Arrival(Segment(seq=101, ack=319)), tcb=FIN_AFTER_DATA, timers=RTO_RUNNING)],
         hidden=[transition(S.LAST_ACK, Arrival(Segment(seq=101, ack=301)), profile=LINUX),
                 transition(S.LAST_ACK, Arrival(Segment(seq=101, ack=319)), tcb=FIN_AFTER_DATA,
                            timers=RTO_RUNNING),  # data ACKed, not the FIN: stay
                 transition(S.LAST_ACK, Arrival(Segment(seq=101, ack=320)), tcb=FIN_AFTER_DATA, timers=RTO_RUNNING),
                 transition(S.LAST_ACK, Arrival(Segment(seq=101, ack=300))),  # a duplicate ACK
                 transition(S.LAST_ACK, Arrival(Segment(seq=101, ack=301)), wrap=True),  # ACK=0 covers the FIN
                 transition(S.LAST_ACK, Arrival(Segment(seq=101, ack=319)), tcb=FIN_AFTER_DATA, timers=RTO_RUNNING,
                            wrap=True)]),
    cell("test_server_initiated_close", 3,
         visible=[scenario("server-initiated-close")],
         hidden=[family("server-initiated-close", "half-close", "three-way-close", "active-close", k=1, weight=2),
                 family("server-initiated-close", "half-close", "three-way-close", "active-close", k=1, wrap=True,
                        weight=1),
                 transitions(S.ESTABLISHED, S.CLOSE_WAIT, S.LAST_ACK, weight=1),
                 transitions(S.ESTABLISHED, S.CLOSE_WAIT, S.LAST_ACK, wrap=True, weight=0.5)]),
]

BEFORE_SUBMIT = every_hidden_check(CELLS)

# What each prediction's learner reads once they answered (tests.predict(key, ...)): kept here, since
# a prediction cell's source is one click away and would give the answer away.
EXPLANATIONS = {
    "never-closes": (
        "Only B's application ends CLOSE_WAIT, by calling close(): B's TCP has nothing outstanding, so no timer "
        "runs there, and B stays for as long as the process keeps the socket open."
    ),
    "fin-after-half-close-data": (
        "B's 19 bytes took SEQ 300 to 318, and a FIN takes the number after the last data octet (§3.4): 319."
        " A's ACK of it then says 320."
    ),
}

# Where each prediction's answer comes from (tests.predict(key, ...)): the reference's trace. Kept here, as a
# scenario's name in the cell ("lost-final-ack") would say the answer.
ANSWERS = {
    "never-closes": from_trace("orphan-fin-wait-2", "B", "recv", nth=1),
    "fin-after-half-close-data": from_trace("half-close", "B", "send", flags="FIN|ACK", field="seq"),
}
