"""Realistic mistakes in notebook 02 (passive close), each with the test cells it must lose."""

from tests.course.bugs import Bug, edit

NB = "02_passive_close"

BUGS = {
    # "I have sent my FIN, so I am done": skips LAST_ACK and forgets the connection at once.
    "closed-instead-of-last-ack": Bug(
        edit(NB, "answer_close_wait", ("return Step(State.LAST_ACK, [CancelTimer(Timer.DELAYED_ACK), *outputs], tcb)",
                                       "return Step(State.CLOSED, [CancelTimer(Timer.DELAYED_ACK), *outputs], tcb)")),
        {"test_close_wait_close", "test_close_wait_send", "test_server_initiated_close"},
    ),
    # Treats CLOSE_WAIT as "closed": refuses to send, as if the peer's FIN closed both directions.
    "no-data-after-the-peers-fin": Bug(
        edit(NB, "answer_close_wait", ("tcb, outputs = send_data(tcb, data, profile)\n"
                                       "            return Step(State.CLOSE_WAIT, [CancelTimer(Timer.DELAYED_ACK), *outputs], tcb)",
                                       "return Step(State.CLOSE_WAIT, [Error(CLOSING_ERROR)], tcb)")),
        {"test_close_wait_send", "test_server_initiated_close"},
    ),
    # Any ACK ends LAST_ACK, even one that covers only the data sent before the FIN.
    "any-ack-ends-last-ack": Bug(
        edit(NB, "answer_last_ack", ("if s.tcb.fin_acked:", "if s.acked_new or s.tcb.fin_acked:")),
        {"test_last_ack_ack_of_fin", "test_server_initiated_close"},
    ),
    # Forgets the delayed ACK: in the three-way close the DELAYED_ACK timer still fires after the FIN+ACK.
    "delayed-ack-not-cancelled": Bug(
        edit(NB, "answer_close_wait", ("return Step(State.LAST_ACK, [CancelTimer(Timer.DELAYED_ACK), *outputs], tcb)",
                                       "return Step(State.LAST_ACK, outputs, tcb)")),
        {"test_close_wait_close", "test_server_initiated_close"},
    ),
    # Closes on the application's behalf as soon as the peer's FIN arrives.
    "fin-answered-with-fin": Bug(
        edit(NB, "answer_established", ("return Step(State.CLOSE_WAIT, outputs + text, tcb)",
                                        "tcb, fin_out = send_fin(tcb, profile, orphan=True)\n"
                                        "                return Step(State.LAST_ACK, outputs + text + fin_out, tcb)")),
        {"test_established_fin", "test_close_wait_close", "test_close_wait_send", "test_server_initiated_close"},
    ),
    # Wrap-around: "SEG.ACK = FIN + 1" written with a plain +, which never equals 0 when the FIN
    # sits on 2**32 - 1 (seq_add wraps it).
    "last-ack-fin-acked-without-modulo": Bug(
        edit(NB, "answer_last_ack", ("if s.tcb.fin_acked:", "if seg.ack == tcb.fin_seq + 1:")),
        {"test_last_ack_ack_of_fin", "test_server_initiated_close"},
        shares={"test_last_ack_ack_of_fin": 0.165},
    ),
    # Aborts in LAST_ACK as in ESTABLISHED, with a RST: the RFC deletes the TCB and sends nothing there.
    "abort-in-last-ack-sends-rst": Bug(
        edit(NB, "answer_last_ack", ("case AppAbort():\n            return Step(State.CLOSED, [], tcb)",
                                     "case AppAbort():\n            return Step(State.CLOSED, send_rst(tcb, profile), tcb)")),
        {"test_server_initiated_close"},
    ),
}
