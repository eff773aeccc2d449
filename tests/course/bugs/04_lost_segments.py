"""Realistic mistakes in notebook 04 (lost segments), each with the test cells it must lose."""

from tests.course.bugs import Bug, edit

NB = "04_lost_segments"
# A mistake in the learner's `resend` or `backoff` (in their own cells, used by fin_wait_1; LAST_ACK and CLOSING use
# the library's copy).
FAILS_LIMIT = {"test_fin_wait_1_retry_limit"}
FAILS_RESEND = {"test_fin_wait_1_retransmit", "test_fin_wait_1_retry_limit"}
# Not the other cells: their scenario families take FIN_WAIT_1's RETRANSMIT timeout from the reference
# (the manifest's REFERENCE_RESENDS), so a wrong backoff costs these two cells and no other.
# A mistake in the learner's `ack_timer`: its own cell, and a little of the FIN_WAIT_1 battery of
# test_fin_wait_1_retransmit, which feeds fin_wait_1 every stimulus, an ACK of data only among them.
FAILS_ACK_TIMER = {"test_fin_wait_1_ack_of_data", "test_fin_wait_1_retransmit"}
BACKOFF = "return min(base_rto(srtt, profile) * 2**retries, profile.rto_max)"

BUGS = {
    # Resends with the first timeout every time: no backoff.
    "resend-without-backoff": Bug(
        edit(NB, "answer_base_rto", (BACKOFF, "return base_rto(srtt, profile)")),
        FAILS_RESEND,
    ),
    # Doubles from the retransmissions *before* this one: the first retransmission waits the first timeout again.
    "resend-backoff-one-doubling-late": Bug(
        edit(NB, "answer_base_rto", (BACKOFF, "return min(base_rto(srtt, profile) * 2 ** (retries - 1), profile.rto_max)")),
        FAILS_RESEND,
    ),
    # Doubles without the ceiling: rfc9293's sixth retransmission waits 64 s instead of 60 s.
    "resend-backoff-uncapped": Bug(
        edit(NB, "answer_base_rto", (BACKOFF, "return base_rto(srtt, profile) * 2**retries")),
        FAILS_LIMIT,
    ),
    # The first timeout without RFC 6298's floor of rto_min: rfc9293's 3 x 20 ms = 60 ms instead of 1 s.
    "base-rto-without-floor": Bug(
        edit(NB, "answer_base_rto", (
            "return min(max(profile.rto_min, profile.rto_factor * srtt + profile.rto_add), profile.rto_max)",
            "return min(profile.rto_factor * srtt + profile.rto_add, profile.rto_max)")),
        # ...and the timer rules of an ACK, whose restart (RFC 6298 §5.3) is base_rto's timeout too.
        FAILS_RESEND | {"test_fin_wait_1_ack_of_data"},
    ),
    # Backs off correctly, but never gives up: no retry limit.
    "no-retry-limit": Bug(
        edit(NB, "answer_resend", (
            "    if tcb.retries >= profile.max_retries and tcb.snd_wnd != 0:\n"
            "        # §3.8.3: transmissions reached the threshold R2: close, and tell the application.\n"
            "        # A shut window is probed for good while the peer answers (RFC 1122 §4.2.2.17).\n"
            "        return Step(State.CLOSED, [Error(USER_TIMEOUT)], tcb)\n", "")),
        FAILS_LIMIT,
    ),
    # One retransmission too many: gives up only after max_retries + 1.
    "retry-limit-off-by-one": Bug(
        edit(NB, "answer_resend", ("if tcb.retries >= profile.max_retries and", "if tcb.retries > profile.max_retries and")),
        FAILS_LIMIT,
    ),
    # Gives up on a peer that shuts its window too: RFC 1122 §4.2.2.17 keeps probing while it answers.
    "gives-up-probing-a-shut-window": Bug(
        edit(NB, "answer_resend", (
            "if tcb.retries >= profile.max_retries and tcb.snd_wnd != 0:", "if tcb.retries >= profile.max_retries:")),
        FAILS_LIMIT,
    ),
    # Gives up with a RST, as if aborting: RFC 9293 §3.8.3 only closes and tells the application.
    "gives-up-with-rst": Bug(
        edit(NB, "answer_resend", (
            "return Step(State.CLOSED, [Error(USER_TIMEOUT)], tcb)",
            "return Step(State.CLOSED, [Send(tcb.rst()), Error(USER_TIMEOUT)], tcb)")),
        FAILS_LIMIT,
    ),
    # Counts Linux's tail-loss probe as a retransmission: it gives up one copy early.
    "tail-loss-probe-counted": Bug(
        edit(NB, "answer_resend", (
            "tcb = tcb.replace(probed=True)", "tcb = tcb.replace(probed=True, retries=tcb.retries + 1)")),
        FAILS_RESEND,
    ),
    # Leaves the exercise to the library: fin_wait_1 calls retransmit; the cells of the exercise score 0.
    "fin-wait-1-calls-library-retransmit": Bug(
        edit(NB, "answer_fin_wait_1", (
            "return resend(tcb, State.FIN_WAIT_1, profile)  # §3.10.8, with backoff and the retry limit",
            "return on_retransmit_timeout(tcb, State.FIN_WAIT_1, profile)")),
        {"test_fin_wait_1_retransmit", "test_fin_wait_1_retry_limit"},
        shares={"test_fin_wait_1_retransmit": 1.0, "test_fin_wait_1_retry_limit": 1.0},
    ),
    # Leaves the special cases to the library's timer_probe: the cells of the exercise score 0.
    "resend-asks-timer-probe": Bug(
        edit(NB, "answer_resend", (
            "    if tcb.snd_una == tcb.snd_nxt:  # everything was acknowledged meanwhile\n",
            "    special = timer_probe(tcb, state, profile)\n"
            "    if special is not None:\n"
            "        return special\n"
            "    if tcb.snd_una == tcb.snd_nxt:  # everything was acknowledged meanwhile\n")),
        {"test_fin_wait_1_retransmit", "test_fin_wait_1_retry_limit"},
        shares={"test_fin_wait_1_retransmit": 1.0, "test_fin_wait_1_retry_limit": 1.0},
    ),
    # RFC 6298 §5.3 forgotten: an ACK of the data only leaves the FIN's timer running from the data's send time.
    "ack-of-data-keeps-old-timer": Bug(
        edit(NB, "answer_ack_timer", (
            "        outputs.append(StartTimer(Timer.RETRANSMIT, base_rto(after.srtt, profile)))\n", "        pass\n")),
        FAILS_ACK_TIMER,
    ),
    # §5.2 misread: any new ACK stops the timer, though the FIN is still outstanding: a lost FIN is never resent.
    "ack-of-data-stops-timer": Bug(
        edit(NB, "answer_ack_timer", (
            "elif s.acked_new and after.snd_una == after.snd_nxt and not after.waiting:", "elif s.acked_new:")),
        FAILS_ACK_TIMER,
    ),
    # Leaves the ACK's timer rules to the library: the cell of that exercise scores 0.
    "fin-wait-1-calls-library-retransmit-timer": Bug(
        edit(NB, "answer_fin_wait_1", (
            "outputs = ack_timer(tcb, s, profile)", "outputs = retransmit_timer(tcb, s, profile)")),
        {"test_fin_wait_1_ack_of_data"},
        shares={"test_fin_wait_1_ack_of_data": 1.0},
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
            "            return on_retransmit_timeout(tcb, State.LAST_ACK, profile)  # the library's copy of your resend\n", "")),
        {"test_last_ack_retransmit", "test_time_wait_retransmitted_fin"},
    ),
    # CLOSING forgets its FIN is still outstanding: the RETRANSMIT timer does nothing there.
    "closing-never-retransmits": Bug(
        edit(NB, "answer_closing", (
            "return on_retransmit_timeout(tcb, State.CLOSING, profile)", "return Step(State.CLOSING, [], tcb)")),
        {"test_closing_retransmit"},
    ),
    # "Nothing in flight means a stale timer": true once everything sent is acknowledged, but a FIN held
    # back by a zero window is not in flight either, and only the timer's probe will ever ask again.
    "no-probe-for-a-waiting-fin": Bug(
        edit(NB, "answer_resend", ("        if not tcb.waiting:\n            return Step(state, [], tcb)",
                                   "        if True:\n            return Step(state, [], tcb)")),
        {"test_fin_wait_1_retransmit"},
    ),
    # Acknowledges every segment in TIME_WAIT, a bare ACK too: two ends in TIME_WAIT trade ACKs for ever.
    "time-wait-acks-a-bare-ack": Bug(
        edit(NB, "answer_time_wait", ("([Send(tcb.ack())] if seg.len else []) + [restart]", "[Send(tcb.ack()), restart]")),
        {"test_time_wait_retransmitted_fin"},
    ),
    # Restarts the timer whenever segments leave, even with older data in flight (RFC 6298 §5.1: only
    # when the timer is not running).
    "restarts-the-timer-on-every-send": Bug(
        edit(NB, "answer_ack_timer", ("    if s.sent and before.snd_una == before.snd_nxt:\n", "    if s.sent:\n")),
        {"test_fin_wait_1_ack_of_data"},
    ),
    # Stops the timer once everything sent is acknowledged, though the FIN still waits behind a shut
    # window: nothing probes the window, and the FIN is never sent.
    "stops-the-timer-with-the-fin-waiting": Bug(
        edit(NB, "answer_ack_timer", ("    elif s.acked_new and after.snd_una == after.snd_nxt and not after.waiting:\n",
                                      "    elif s.acked_new and after.snd_una == after.snd_nxt:\n")),
        {"test_fin_wait_1_ack_of_data"},
    ),
}
