"""Grading manifest of 03_simultaneous_close: what each test cell checks and what it is worth.

Never released (nbgrader's CourseDirectory.ignore): the hidden checks live here only.
Read by the notebook's test cells (autograder.checks.CellTests), its "before you submit"
cell and the trusted grader (autograder.checks.grade_cell). See autograder/manifest.py.
"""

from autograder.predictions import from_trace
from autograder.manifest import cell, every_hidden_check, family, scenario, transition, transitions, yourself
from reference_impl.profiles import LINUX
from reference_impl.segment import ACK, FIN, Segment
from reference_impl.states import Arrival, State, Timer
from reference_impl.tcb import TCB

S = State
CROSSING_FIN = Arrival(Segment(seq=300, ack=100, flags=FIN | ACK))  # does not acknowledge A's FIN
FIN_ACK = Arrival(Segment(seq=300, ack=101, flags=FIN | ACK))  # acknowledges A's FIN too
FIN_AFTER_DATA = TCB(snd_una=100, snd_nxt=201, rcv_nxt=300, fin_seq=200, unacked=b"x" * 100, orphaned=True)
DATA_THEN_FIN = TCB(snd_una=100, snd_nxt=201, rcv_nxt=301, fin_seq=200, unacked=b"x" * 100, orphaned=True)
RTO_RUNNING = {Timer.RETRANSMIT: 1_000_000}
# The peer's last data sent again from SEQ 298 with two new octets and its FIN: "xx" is had already (RCV.NXT
# = 300), so only "ok" is delivered and RCV.NXT moves past the FIN to 303
OVERLAPPING_FIN = Arrival(Segment(seq=298, ack=100, flags=FIN | ACK, payload=b"xxok"))
CROSSED = TCB(snd_una=100, snd_nxt=101, rcv_nxt=301, fin_seq=100, orphaned=True)  # CLOSING: both FINs out, ours unACKed
# The crossing is this notebook's: notebook 1's building blocks for it (taking the FIN in, deciding) would do
# it for the learner.
CROSSING = [yourself(S.FIN_WAIT_1, "take_text", "fin_crossed",
                     what="take in the text and the peer's FIN (RCV.NXT past it, its ACK) and decide between "
                          "TIME_WAIT and CLOSING")]

CELLS = [
    cell("test_fin_wait_1_fin", 2,
         visible=[transition(S.FIN_WAIT_1, CROSSING_FIN)],
         hidden=[transition(S.FIN_WAIT_1, CROSSING_FIN, profile=LINUX),
                 transition(S.FIN_WAIT_1, Arrival(Segment(seq=300, ack=100, flags=FIN | ACK, payload=b"bye"))),
                 transition(S.FIN_WAIT_1, OVERLAPPING_FIN, weight=0.5),
                 transition(S.FIN_WAIT_1, OVERLAPPING_FIN, wrap=True, weight=0.5),
                 scenario("simultaneous-close", states=[S.FIN_WAIT_1]),
                 scenario("simultaneous-close", profile=LINUX, states=[S.FIN_WAIT_1]),
                 transition(S.FIN_WAIT_1, CROSSING_FIN, wrap=True),
                 scenario("simultaneous-close", states=[S.FIN_WAIT_1], wrap=True)],
         yourself=CROSSING),
    cell("test_fin_wait_1_fin_ack", 2,
         visible=[transition(S.FIN_WAIT_1, FIN_ACK)],
         hidden=[transition(S.FIN_WAIT_1, FIN_ACK, profile=LINUX),
                 transition(S.FIN_WAIT_1, Arrival(Segment(seq=300, ack=200, flags=FIN | ACK)), tcb=FIN_AFTER_DATA,
                            timers=RTO_RUNNING),  # ACK of the data only: CLOSING
                 scenario("three-way-close"),
                 scenario("three-way-close", profile=LINUX),
                 transition(S.FIN_WAIT_1, FIN_ACK, wrap=True),  # ACK=0 covers our FIN on 2**32 - 1
                 transition(S.FIN_WAIT_1, Arrival(Segment(seq=300, ack=200, flags=FIN | ACK)), tcb=FIN_AFTER_DATA,
                            timers=RTO_RUNNING, wrap=True),
                 scenario("three-way-close", wrap=True)],
         yourself=CROSSING),
    cell("test_closing_ack_of_fin", 2,
         visible=[transition(S.CLOSING, Arrival(Segment(seq=301, ack=101)))],
         hidden=[transition(S.CLOSING, Arrival(Segment(seq=301, ack=101)), profile=LINUX),
                 scenario("simultaneous-close"),
                 scenario("simultaneous-close", profile=LINUX),
                 transition(S.CLOSING, Arrival(Segment(seq=301, ack=201)), tcb=DATA_THEN_FIN,
                            timers=RTO_RUNNING),  # the ACK of data and FIN
                 transition(S.CLOSING, Arrival(Segment(seq=301, ack=101)), wrap=True),
                 scenario("simultaneous-close", wrap=True)]),
    cell("test_closing_other_ack", 1,
         visible=[transition(S.CLOSING, Arrival(Segment(seq=301, ack=100)), tcb=CROSSED, timers=RTO_RUNNING)],
         hidden=[transition(S.CLOSING, Arrival(Segment(seq=301, ack=100)), tcb=CROSSED, timers=RTO_RUNNING,
                            profile=LINUX),
                 transition(S.CLOSING, Arrival(Segment(seq=301, ack=200)), tcb=DATA_THEN_FIN, timers=RTO_RUNNING),
                 transition(S.CLOSING, Arrival(Segment(seq=301, ack=200)), tcb=DATA_THEN_FIN, timers=RTO_RUNNING,
                            wrap=True)]),
    cell("test_simultaneous_close", 3,
         visible=[scenario("simultaneous-close"), scenario("three-way-close")],
         hidden=[family("simultaneous-close", "three-way-close", k=2, weight=2),
                 family("simultaneous-close", "three-way-close", k=1, wrap=True, weight=1),
                 transitions(S.FIN_WAIT_1, S.CLOSING, weight=1),
                 transitions(S.FIN_WAIT_1, S.CLOSING, wrap=True, weight=0.5)]),
]

BEFORE_SUBMIT = every_hidden_check(CELLS)

# What each prediction's learner reads once they answered (tests.predict(key, ...)): kept here, since
# a prediction cell's source is one click away and would give the answer away.
EXPLANATIONS = {
    "fin-without-ack-in-fin-wait-1": "A has the peer's FIN but its own is not yet acknowledged: CLOSING waits for that ACK.",
    "the-other-ack-arrives": "CLOSING waits for the ACK of A's own FIN and nothing else; it has come, so A goes to TIME_WAIT.",
    "fin-with-ack-in-fin-wait-1": (
        "Our FIN is acknowledged and the peer's FIN is in: skip FIN_WAIT_2 and CLOSING, straight to "
        "TIME_WAIT."
    ),
}

# Where each prediction's answer comes from (tests.predict(key, ...)): the reference's trace. Kept here, as a
# scenario's name in the cell ("lost-final-ack") would say the answer.
ANSWERS = {
    "fin-without-ack-in-fin-wait-1": from_trace("simultaneous-close", "A", "recv", nth=1),
    "the-other-ack-arrives": from_trace("simultaneous-close", "A", "recv", nth=2),
    "fin-with-ack-in-fin-wait-1": from_trace("three-way-close", "A", "recv", flags="FIN|ACK"),
}
