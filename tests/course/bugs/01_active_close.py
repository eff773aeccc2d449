"""Realistic mistakes in notebook 01 (active close), each with the test cells it must lose."""

from tests.course.bugs import Allowed, Bug, edit, edit_line

NB = "01_active_close"

BUGS = {
    # "Any new ACK in FIN_WAIT_1 must be for my FIN": an ACK of data alone moves A on.
    "ack-of-data-taken-for-ack-of-fin": Bug(
        edit(NB, "answer_fin_wait_1", ("our_fin_acked = s.tcb.fin_acked", "our_fin_acked = s.acked_new")),
        {"test_fin_wait_1_ack_of_data", "test_active_close"},
    ),
    # Forgets that the FIN consumes a sequence number: waits for ACK == fin_seq instead of fin_seq + 1.
    "fin-ack-off-by-one": Bug(
        edit(NB, "answer_fin_wait_1", ("our_fin_acked = s.tcb.fin_acked",
                                       "our_fin_acked = seg.ack == tcb.fin_seq")),
        {"test_fin_wait_1_ack_of_fin", "test_fin_wait_1_ack_of_data", "test_fin_wait_2_fin",
         "test_fin_wait_2_data", "test_time_wait_timeout", "test_time_wait_retransmitted_fin", "test_active_close"},
    ),
    # Skips TIME_WAIT: "both FINs are acknowledged, we are done".
    "closed-instead-of-time-wait": Bug(
        edit(NB, "answer_fin_wait_2", (
            "outputs += [CancelTimer(Timer.FIN_WAIT_2), StartTimer(Timer.TIME_WAIT, profile.time_wait)]\n"
            "                return Step(State.TIME_WAIT, outputs, tcb)",
            "return Step(State.CLOSED, outputs, tcb)")),
        {"test_fin_wait_2_fin", "test_fin_wait_2_data", "test_time_wait_timeout", "test_time_wait_retransmitted_fin",
         "test_active_close"},
    ),
    # Keeps only its own outputs in FIN_WAIT_2: the ACK of B's FIN (and the EOF) from take_text are dropped.
    "forgets-to-ack-the-fin": Bug(
        edit(NB, "answer_fin_wait_2", (
            "outputs += [CancelTimer(Timer.FIN_WAIT_2), StartTimer(Timer.TIME_WAIT, profile.time_wait)]",
            "outputs = [CancelTimer(Timer.FIN_WAIT_2), StartTimer(Timer.TIME_WAIT, profile.time_wait)]")),
        {"test_fin_wait_2_fin", "test_fin_wait_2_data", "test_time_wait_timeout", "test_time_wait_retransmitted_fin",
         "test_active_close"},
    ),
    # Re-ACKs a retransmitted FIN in TIME_WAIT but lets the old 2 MSL timer run on.
    "time-wait-timer-not-restarted": Bug(
        edit(NB, "answer_time_wait", ("[Send(tcb.ack()), StartTimer(Timer.TIME_WAIT, profile.time_wait)]",
                                      "[Send(tcb.ack())]")),
        {"test_time_wait_retransmitted_fin", "test_active_close"},
    ),
    # Builds the FIN by hand and forgets to advance SND.NXT over it.
    "fin-does-not-consume-a-number": Bug(
        edit(NB, "answer_established", (
            "tcb, outputs = send_fin(tcb, profile, orphan=not shutdown)\n"
            "            return Step(State.FIN_WAIT_1, outputs, tcb)",
            "fin = tcb.segment(FIN)\n"
            "            timer = StartTimer(Timer.RETRANSMIT, profile.first_timeout(tcb.srtt))\n"
            "            return Step(State.FIN_WAIT_1, [Send(fin), timer], tcb.replace(fin_seq=tcb.snd_nxt, orphaned=not shutdown))")),
        {"test_established_close", "test_established_fin", "test_fin_wait_1_ack_of_fin", "test_fin_wait_1_ack_of_data",
         "test_fin_wait_2_fin",
         "test_fin_wait_2_data", "test_time_wait_timeout", "test_time_wait_retransmitted_fin", "test_active_close"},
    ),
    # Wrap-around: compares SEG.ACK with `>` instead of the sequence arithmetic (seq_gt): right for
    # ISNs 100 and 300, wrong once the FIN sits on 2**32 - 1 and its ACK is 0.
    "fin-acked-compared-without-modulo": Bug(
        edit_line(NB, "answer_fin_wait_1", "our_fin_acked =",
                  "our_fin_acked = seg.has_ack and tcb.fin_seq is not None and seg.ack > tcb.fin_seq"),
        {"test_fin_wait_1_ack_of_fin", "test_fin_wait_1_ack_of_data", "test_fin_wait_2_fin", "test_fin_wait_2_data",
         "test_time_wait_retransmitted_fin", "test_active_close"},
        shares={"test_fin_wait_1_ack_of_fin": 0.4},
    ),
}

# Answers that differ from the reference where the standards allow it: full marks everywhere.
ALLOWED = {
    "ok-to-a-second-close": Allowed(
        edit(NB, "answer_fin_wait_1", (
            "case AppClose() | AppSend():\n            return Step(State.FIN_WAIT_1, [Error(CLOSING_ERROR)], tcb)",
            "case AppClose():\n            return Step(State.FIN_WAIT_1, [], tcb)  # \"ok\"\n"
            "        case AppSend():\n            return Step(State.FIN_WAIT_1, [Error(CLOSING_ERROR)], tcb)"))
        | edit(NB, "answer_fin_wait_2", (
            "case AppClose() | AppSend():\n            return Step(State.FIN_WAIT_2, [Error(CLOSING_ERROR)], tcb)",
            "case AppClose():\n            return Step(State.FIN_WAIT_2, [], tcb)  # \"ok\"\n"
            "        case AppSend():\n            return Step(State.FIN_WAIT_2, [Error(CLOSING_ERROR)], tcb)")),
        "RFC 9293 §3.10.4: in FIN-WAIT-1 and FIN-WAIT-2 an 'ok' response to CLOSE would be acceptable, too",
    ),
    "running-timer-kept-for-the-fin": Allowed(
        edit(NB, "answer_established", (
            "tcb, outputs = send_fin(tcb, profile, orphan=not shutdown)\n",
            "running = tcb.snd_una != tcb.snd_nxt  # data in flight: its retransmission timer runs\n"
            "            tcb, outputs = send_fin(tcb, profile, orphan=not shutdown)\n"
            "            if running:\n"
            "                outputs = [o for o in outputs if not isinstance(o, StartTimer)]\n")),
        "RFC 6298 §5.1: start the retransmission timer when a segment is sent only if it is not running",
    ),
}
