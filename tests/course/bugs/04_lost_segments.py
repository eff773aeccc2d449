"""Realistic mistakes in notebook 04 (lost segments), each with the test cells it must lose."""

from tests.course.bugs import Bug, edit

NB = "04_lost_segments"

BUGS = {
    # Writes its own retransmission and re-arms the first timeout every time: no backoff.
    "fin-retransmitted-without-backoff": Bug(
        edit(NB, "answer_fin_wait_1", (
            "return retransmit(tcb, State.FIN_WAIT_1, profile)",
            "if tcb.retries >= profile.max_retries:\n"
            "                return Step(State.CLOSED, [Error(USER_TIMEOUT)], tcb)\n"
            "            again = [Send(tcb.retransmission()), StartTimer(Timer.RETRANSMIT, profile.first_timeout(tcb.srtt))]\n"
            "            return Step(State.FIN_WAIT_1, again, tcb.replace(retries=tcb.retries + 1))")),
        {"test_fin_wait_1_retransmit", "test_fin_wait_1_retry_limit", "test_fin_wait_1_ack_of_data",
         "test_fin_wait_1_fin_ack", "test_last_ack_retransmit", "test_time_wait_retransmitted_fin"},
    ),
    # Backs off correctly (RTO doubles), but never gives up: no retry limit.
    "no-retry-limit": Bug(
        edit(NB, "answer_fin_wait_1", (
            "return retransmit(tcb, State.FIN_WAIT_1, profile)",
            "tries = tcb.retries + 1\n"
            "            again = [Send(tcb.retransmission()), StartTimer(Timer.RETRANSMIT, profile.rto(tries, tcb.srtt))]\n"
            "            return Step(State.FIN_WAIT_1, again, tcb.replace(retries=tries))")),
        {"test_fin_wait_1_retransmit", "test_fin_wait_1_retry_limit", "test_fin_wait_1_ack_of_data",
         "test_fin_wait_1_fin_ack", "test_last_ack_retransmit", "test_time_wait_retransmitted_fin"},
    ),
    # "Any new ACK in FIN_WAIT_1 must be for my FIN": an ACK of data alone moves A to FIN_WAIT_2.
    "ack-of-data-taken-for-ack-of-fin": Bug(
        edit(NB, "answer_fin_wait_1", ("our_fin_acked = s.tcb.fin_acked", "our_fin_acked = s.acked_new")),
        # ...and FIN_WAIT_1's hidden battery, which includes data still unacknowledged before the FIN.
        {"test_fin_wait_1_ack_of_data", "test_fin_wait_1_retransmit"},
    ),
    # Re-ACKs a retransmitted FIN in TIME_WAIT but lets the old timer run on.
    "time-wait-timer-not-restarted": Bug(
        edit(NB, "answer_time_wait", (
            "[Send(tcb.ack()), restart]", "[Send(tcb.ack())]")),
        {"test_time_wait_retransmitted_fin"},
    ),
    # Screens the retransmitted FIN like any other segment: screen's ACK goes out, the timer is not restarted.
    "retransmitted-fin-screened-first": Bug(
        edit(NB, "answer_time_wait", ("if is_retransmitted_fin(tcb, seg):", "if False:")),
        {"test_time_wait_retransmitted_fin"},
    ),
    # LAST_ACK waits for the ACK of its FIN but never resends the FIN: B hangs when its FIN is lost.
    "last-ack-never-retransmits": Bug(
        edit(NB, "answer_last_ack", (
            "        case Timeout(Timer.RETRANSMIT):\n            return retransmit(tcb, State.LAST_ACK, profile)\n", "")),
        {"test_last_ack_retransmit", "test_time_wait_retransmitted_fin"},
    ),
    # CLOSING forgets its FIN is still outstanding: the RETRANSMIT timer does nothing there.
    "closing-never-retransmits": Bug(
        edit(NB, "answer_closing", (
            "return retransmit(tcb, State.CLOSING, profile)", "return Step(State.CLOSING, [], tcb)")),
        {"test_closing_retransmit"},
    ),
}
