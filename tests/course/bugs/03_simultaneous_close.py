"""Realistic mistakes in notebook 03 (simultaneous close), each with the test cells it must lose."""

from tests.course.bugs import Bug, edit

NB = "03_simultaneous_close"

BUGS = {
    # "A FIN in FIN_WAIT_1 means the FINs crossed": ignores that the FIN+ACK also acknowledged ours.
    "fin-ack-taken-for-crossed-fins": Bug(
        edit(NB, "answer_fin_wait_1", ("                if our_fin_acked:\n"
                                       "                    return Step(State.TIME_WAIT, outputs + [StartTimer(Timer.TIME_WAIT, profile.time_wait)], tcb)\n",
                                       "")),
        {"test_fin_wait_1_fin_ack", "test_simultaneous_close"},
    ),
    # "The peer's FIN ends FIN_WAIT_1": straight to TIME_WAIT even when our FIN is not acknowledged.
    "time-wait-without-the-ack-of-our-fin": Bug(
        edit(NB, "answer_fin_wait_1", (
            "                if our_fin_acked:\n"
            "                    return Step(State.TIME_WAIT, outputs + [StartTimer(Timer.TIME_WAIT, profile.time_wait)], tcb)\n"
            "                return Step(State.CLOSING, outputs, tcb)\n",
            "                return Step(State.TIME_WAIT, outputs + [StartTimer(Timer.TIME_WAIT, profile.time_wait)], tcb)\n")),
        {"test_fin_wait_1_fin", "test_fin_wait_1_fin_ack", "test_closing_ack_of_fin", "test_simultaneous_close"},
    ),
    # Both FINs are acknowledged, so "done": CLOSING goes to CLOSED and nobody waits 2 MSL.
    "closed-instead-of-time-wait": Bug(
        edit(NB, "answer_closing", (
            "return Step(State.TIME_WAIT, [CancelTimer(Timer.RETRANSMIT), StartTimer(Timer.TIME_WAIT, profile.time_wait)],\n"
            "                            s.tcb)",
            "return Step(State.CLOSED, [], s.tcb)")),
        {"test_closing_ack_of_fin", "test_simultaneous_close"},
    ),
    # Enters TIME_WAIT but leaves the retransmission timer of the FIN running.
    "retransmit-timer-left-running": Bug(
        edit(NB, "answer_closing", ("[CancelTimer(Timer.RETRANSMIT), StartTimer(Timer.TIME_WAIT, profile.time_wait)]",
                                    "[StartTimer(Timer.TIME_WAIT, profile.time_wait)]")),
        {"test_closing_ack_of_fin", "test_simultaneous_close"},
    ),
    # Any ACK in CLOSING is taken for the ACK of our FIN.
    "any-ack-ends-closing": Bug(
        edit(NB, "answer_closing", ("if s.tcb.fin_acked:", "if seg.has_ack:")),
        {"test_closing_other_ack", "test_simultaneous_close"},
    ),
    # Wrap-around: compares SEG.ACK with `>` instead of seq_gt, so an ACK=0 of a FIN on 2**32 - 1 is
    # not an ACK of it, and an ACK of data just below the wrap is taken for one.
    "closing-fin-acked-without-modulo": Bug(
        edit(NB, "answer_closing", ("if s.tcb.fin_acked:", "if seg.ack > tcb.fin_seq:")),
        {"test_closing_ack_of_fin", "test_simultaneous_close"},
        shares={"test_closing_ack_of_fin": 0.335},
    ),
    # Leaves the crossing to notebook 1's building block: it behaves, so only the cells whose
    # exercise the decision is score 0 (the manifest's yourself= rule).
    "library-decides-the-crossing": Bug(
        edit(NB, "answer_fin_wait_1", (
            "                if our_fin_acked:\n"
            "                    return Step(State.TIME_WAIT, outputs + [StartTimer(Timer.TIME_WAIT, profile.time_wait)], tcb)\n"
            "                return Step(State.CLOSING, outputs, tcb)\n",
            "                return fin_crossed(tcb, outputs, our_fin_acked, profile)\n")),
        {"test_fin_wait_1_fin", "test_fin_wait_1_fin_ack"},
        shares={"test_fin_wait_1_fin": 1.0, "test_fin_wait_1_fin_ack": 1.0},
    ),
    # close() in CLOSING taken as a no-op: the RFC answers "error: connection closing".
    "close-in-closing-ignored": Bug(
        edit(NB, "answer_closing", ("case AppClose() | AppSend():\n            return Step(State.CLOSING, [Error(CLOSING_ERROR)], tcb)",
                                    "case AppClose() | AppSend():\n            return Step(State.CLOSING, [], tcb)")),
        {"test_simultaneous_close"},
    ),
}
