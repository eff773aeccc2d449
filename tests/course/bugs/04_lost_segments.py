"""Realistic mistakes in notebook 04 (lost segments), each with the test cells it must lose."""

from tests.course.bugs import Bug, edit

NB = "04_lost_segments"
# A mistake in the learner's `resend` (written with fin_wait_1; LAST_ACK and CLOSING use the library's copy).
FAILS_LIMIT = {"test_fin_wait_1_retry_limit"}
# A wrong backoff: every run where A retransmits its FIN differs in time, so the hidden scenario
# families with A's FIN lost lose a little too (its own two cells lose all).
FAILS_BACKOFF = {"test_fin_wait_1_retransmit", "test_fin_wait_1_retry_limit", "test_fin_wait_1_ack_of_data",
                 "test_fin_wait_1_fin_ack", "test_last_ack_retransmit", "test_time_wait_retransmitted_fin"}

BUGS = {
    # Resends with the first timeout every time: no backoff.
    "resend-without-backoff": Bug(
        edit(NB, "answer_fin_wait_1", (
            "timeout = min(first * 2**tcb.retries, profile.rto_max)", "timeout = first")),
        FAILS_BACKOFF,
    ),
    # Doubles from the retransmissions *before* this one: the first retransmission waits the first timeout again.
    "resend-backoff-one-doubling-late": Bug(
        edit(NB, "answer_fin_wait_1", (
            "timeout = min(first * 2**tcb.retries, profile.rto_max)",
            "timeout = min(first * 2 ** (tcb.retries - 1), profile.rto_max)")),
        FAILS_BACKOFF,
    ),
    # Doubles without the ceiling: rfc9293's sixth retransmission waits 64 s instead of 60 s.
    "resend-backoff-uncapped": Bug(
        edit(NB, "answer_fin_wait_1", (
            "timeout = min(first * 2**tcb.retries, profile.rto_max)", "timeout = first * 2**tcb.retries")),
        FAILS_LIMIT,
    ),
    # Backs off correctly, but never gives up: no retry limit.
    "no-retry-limit": Bug(
        edit(NB, "answer_fin_wait_1", (
            "    if tcb.retries >= profile.max_retries:\n"
            "        # §3.8.3: transmissions reached the threshold R2: close, and tell the application.\n"
            "        return Step(State.CLOSED, [Error(USER_TIMEOUT)], tcb)\n", "")),
        FAILS_LIMIT,
    ),
    # One retransmission too many: gives up only after max_retries + 1.
    "retry-limit-off-by-one": Bug(
        edit(NB, "answer_fin_wait_1", ("if tcb.retries >= profile.max_retries:", "if tcb.retries > profile.max_retries:")),
        FAILS_LIMIT,
    ),
    # Gives up with a RST, as if aborting: RFC 9293 §3.8.3 only closes and tells the application.
    "gives-up-with-rst": Bug(
        edit(NB, "answer_fin_wait_1", (
            "return Step(State.CLOSED, [Error(USER_TIMEOUT)], tcb)",
            "return Step(State.CLOSED, [Send(tcb.rst()), Error(USER_TIMEOUT)], tcb)")),
        FAILS_LIMIT,
    ),
    # Leaves the exercise to the library: fin_wait_1 calls retransmit; the cells of the exercise score 0.
    "fin-wait-1-calls-library-retransmit": Bug(
        edit(NB, "answer_fin_wait_1", (
            "return resend(tcb, State.FIN_WAIT_1, profile)  # §3.10.8, with backoff and the retry limit",
            "return retransmit(tcb, State.FIN_WAIT_1, profile)")),
        {"test_fin_wait_1_retransmit", "test_fin_wait_1_retry_limit"},
        shares={"test_fin_wait_1_retransmit": 1.0, "test_fin_wait_1_retry_limit": 1.0},
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
            "        case Timeout(Timer.RETRANSMIT):\n"
            "            return retransmit(tcb, State.LAST_ACK, profile)  # the library's copy of your resend\n", "")),
        {"test_last_ack_retransmit", "test_time_wait_retransmitted_fin"},
    ),
    # CLOSING forgets its FIN is still outstanding: the RETRANSMIT timer does nothing there.
    "closing-never-retransmits": Bug(
        edit(NB, "answer_closing", (
            "return retransmit(tcb, State.CLOSING, profile)", "return Step(State.CLOSING, [], tcb)")),
        {"test_closing_retransmit"},
    ),
}
