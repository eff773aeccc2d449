"""Realistic mistakes in notebook 01 (active close), each with the test cells it must lose."""

from tests.course.bugs import Allowed, Bug, edit, edit_line

NB = "01_active_close"

# Forgetting SND.NXT + 1 shows wherever A's FIN is acknowledged: B's ACK=101 is "beyond SND.NXT".
FORGETS_SND_NXT = {"test_established_close", "test_established_fin", "test_fin_wait_1_ack_of_fin",
                   "test_fin_wait_1_ack_of_data", "test_fin_wait_2_fin", "test_fin_wait_2_data",
                   "test_time_wait_timeout", "test_time_wait_retransmitted_fin", "test_active_close"}

# Wrap-around mistakes in "was it my FIN?": A stays in FIN_WAIT_1 in every wrapped run that follows.
WRAP_STUCK_IN_FIN_WAIT_1 = {"test_fin_wait_1_ack_of_fin", "test_fin_wait_1_ack_of_data", "test_fin_wait_2_fin",
                            "test_fin_wait_2_data", "test_time_wait_retransmitted_fin", "test_active_close"}

BUGS = {
    # "Any new ACK in FIN_WAIT_1 must be for my FIN": an ACK of data alone moves A on.
    "ack-of-data-taken-for-ack-of-fin": Bug(
        edit_line(NB, "answer_fin_wait_1", "our_fin_acked =", "our_fin_acked = s.acked_new"),
        {"test_fin_wait_1_ack_of_data", "test_active_close"},
    ),
    # Forgets that the FIN consumes a sequence number: waits for ACK == fin_seq instead of fin_seq + 1.
    "fin-ack-off-by-one": Bug(
        edit_line(NB, "answer_fin_wait_1", "our_fin_acked =", "our_fin_acked = seg.ack == tcb.fin_seq"),
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
    # Builds the FIN but forgets that it takes a sequence number: SND.NXT stays on the FIN's own number.
    "fin-does-not-consume-a-number": Bug(
        edit_line(NB, "answer_established", "tcb = tcb.replace(fin_seq=tcb.snd_nxt",
                  "tcb = tcb.replace(fin_seq=tcb.snd_nxt)"),
        FORGETS_SND_NXT,
    ),
    # Leaves the exercise to the library: send_fin builds the FIN and advances SND.NXT for it. It
    # behaves, so only the cell whose exercise that is scores 0 (the manifest's yourself= rule).
    "library-builds-the-fin": Bug(
        edit(NB, "answer_established", (
            "fin = tcb.segment(FIN)  # <SEQ=SND.NXT><ACK=RCV.NXT><CTL=FIN,ACK>\n"
            "            tcb = tcb.replace(fin_seq=tcb.snd_nxt, snd_nxt=seq_add(tcb.snd_nxt, 1))  # the FIN takes one number\n"
            "            timer = StartTimer(Timer.RETRANSMIT, profile.first_timeout(tcb.srtt))\n"
            "            return Step(State.FIN_WAIT_1, [Send(fin), timer], tcb)",
            "tcb, outputs = send_fin(tcb, profile, orphan=not shutdown)\n"
            "            return Step(State.FIN_WAIT_1, outputs, tcb)")),
        {"test_established_close"},
        shares={"test_established_close": 1.0},
    ),
    # The same through a helper of the learner's own, and through the TCB's transmit(): still the library's FIN.
    "library-fin-through-a-helper": Bug(
        edit(NB, "answer_established", (
            "fin = tcb.segment(FIN)  # <SEQ=SND.NXT><ACK=RCV.NXT><CTL=FIN,ACK>\n"
            "            tcb = tcb.replace(fin_seq=tcb.snd_nxt, snd_nxt=seq_add(tcb.snd_nxt, 1))  # the FIN takes one number\n",
            "tcb, (fin,) = my_fin(tcb)\n"),
            ("def established(tcb, ev, profile):",
             "def my_fin(tcb):\n    return tcb.replace(fin_seq=tcb.snd_nxt).transmit()\n\n\n"
             "def established(tcb, ev, profile):")),
        {"test_established_close"},
        shares={"test_established_close": 1.0},
    ),
    # Wrap-around: compares SEG.ACK with `>` instead of the sequence arithmetic (seq_gt): right for
    # ISNs 100 and 300, wrong once the FIN sits on 2**32 - 1 and its ACK is 0.
    "fin-acked-compared-without-modulo": Bug(
        edit_line(NB, "answer_fin_wait_1", "our_fin_acked =",
                  "our_fin_acked = seg.has_ack and tcb.fin_seq is not None and seg.ack > tcb.fin_seq"),
        WRAP_STUCK_IN_FIN_WAIT_1,
        shares={"test_fin_wait_1_ack_of_fin": 0.4},
    ),
    # Leaves "was it my FIN?" to the TCB's fin_acked: it behaves, so only the two FIN_WAIT_1 cells, whose
    # exercise that decision is, score 0.
    "library-decides-the-fin-is-acked": Bug(
        edit_line(NB, "answer_fin_wait_1", "our_fin_acked =", "our_fin_acked = s.tcb.fin_acked"),
        {"test_fin_wait_1_ack_of_fin", "test_fin_wait_1_ack_of_data"},
        shares={"test_fin_wait_1_ack_of_fin": 1.0, "test_fin_wait_1_ack_of_data": 1.0},
    ),
    # "SEG.ACK == SND.NXT" taken literally: right while the FIN has left, wrong while it waits behind data the
    # peer's window holds back (everything sent is acknowledged, the FIN is not).
    "fin-acked-when-ack-reaches-snd-nxt": Bug(
        edit_line(NB, "answer_fin_wait_1", "our_fin_acked =", "our_fin_acked = seg.ack == tcb.snd_nxt"),
        {"test_fin_wait_1_ack_of_data"},
    ),
    # The number after the FIN with `+`: 2**32 instead of 0 when the FIN sits on 2**32 - 1.
    "fin-acked-plain-plus-one": Bug(
        edit_line(NB, "answer_fin_wait_1", "our_fin_acked =", "our_fin_acked = s.tcb.snd_una == tcb.fin_seq + 1"),
        WRAP_STUCK_IN_FIN_WAIT_1,
        {"test_fin_wait_1_ack_of_fin": 0.4, "test_fin_wait_1_ack_of_data": 0.135, "test_fin_wait_2_fin": 0.165,
         "test_fin_wait_2_data": 0.15, "test_time_wait_retransmitted_fin": 0.21, "test_active_close": 0.227},
    ),
    # "FIN_WAIT_2 is nearly closed": abort() there deletes the connection without telling B, whose direction is open.
    "abort-in-fin-wait-2-without-rst": Bug(
        edit(NB, "answer_fin_wait_2", ("return Step(State.CLOSED, send_rst(tcb, profile), tcb)  # the peer's direction is still open",
                                       "return Step(State.CLOSED, [], tcb)  # the peer's direction is still open")),
        {"test_active_close"},
    ),
    # The RFC's 2 MSL written as a number: right for rfc9293, wrong for Linux's 60 s.
    "time-wait-hard-coded": Bug(
        edit(NB, "answer_fin_wait_2", ("StartTimer(Timer.TIME_WAIT, profile.time_wait)]",
                                       "StartTimer(Timer.TIME_WAIT, sec(240))]")),
        {"test_fin_wait_2_fin", "test_fin_wait_2_data", "test_time_wait_retransmitted_fin", "test_active_close"},
    ),
    # A valid RST in FIN_WAIT_2 closed silently, as in TIME_WAIT: the application never hears "connection reset".
    "reset-in-fin-wait-2-unreported": Bug(
        edit(NB, "answer_fin_wait_2", (
            "if s.verdict is Verdict.RESET:\n                return on_reset(tcb, State.FIN_WAIT_2, profile)",
            "if s.verdict is Verdict.RESET:\n                return Step(State.CLOSED, [], tcb)")),
        {"test_active_close"},
    ),
    # An unacceptable segment ignored instead of left to drop(): the ACK that tells the peer RCV.NXT is not sent.
    "unacceptable-segment-unanswered": Bug(
        edit(NB, "answer_fin_wait_2", ("return Step(State.CLOSED if s.ends else State.FIN_WAIT_2, drop(s), s.tcb)", "return Step(State.FIN_WAIT_2, [], tcb)")),
        {"test_active_close"},
    ),
    # abort() in TIME_WAIT as in the open states: a RST to a peer that has nothing left to hear.
    "time-wait-abort-sends-rst": Bug(
        edit(NB, "answer_time_wait", ('return Step(State.CLOSED, [], tcb)  # "respond with ok"',
                                      'return Step(State.CLOSED, send_rst(tcb, profile), tcb)  # "respond with ok"')),
        {"test_active_close"},
    ),
    # Leaves "is it B's FIN again?" to is_retransmitted_fin: only the cell whose exercise that is scores 0.
    "library-recognises-the-fin-again": Bug(
        edit_line(NB, "answer_time_wait", "if seg.fin and seq_add(", "if is_retransmitted_fin(tcb, seg):"),
        {"test_time_wait_retransmitted_fin"},
        shares={"test_time_wait_retransmitted_fin": 1.0},
    ),
    # The end of B's FIN with `+`: when the FIN sits on 2**32 - 1, RCV.NXT is 0 and the sum 2**32.
    "fin-again-plain-plus": Bug(
        edit_line(NB, "answer_time_wait", "if seg.fin and seq_add(", "if seg.fin and seg.seq + seg.len == tcb.rcv_nxt:"),
        {"test_time_wait_retransmitted_fin", "test_active_close"},
        {"test_time_wait_retransmitted_fin": 0.37, "test_active_close": 0.02},
    ),
    # Acknowledges every acceptable segment in TIME_WAIT, a bare ACK too.
    "time-wait-acks-a-bare-ack": Bug(
        edit(NB, "answer_time_wait", ("ack = [Send(tcb.ack())] if seg.len else []", "ack = [Send(tcb.ack())]")),
        {"test_time_wait_retransmitted_fin", "test_active_close"},
    ),
    # Ignores Linux's orphan timer in FIN_WAIT_2: the orphan it started waits for ever.
    "orphan-timer-ignored": Bug(
        edit(NB, "answer_fin_wait_2", ("return Step(State.CLOSED, [], tcb)  # Linux's orphan",
                                       "return Step(State.FIN_WAIT_2, [], tcb)  # Linux's orphan")),
        {"test_active_close"},
    ),
    # "The FIN again is one past SEG.SEQ": forgets the data a FIN may ride on, so a copy of B's last
    # data segment with its FIN is neither ACKed again nor restarts the timer.
    "fin-again-counts-only-the-fin": Bug(
        edit(NB, "answer_time_wait", ("if seg.fin and seq_add(seg.seq, seg.len) == tcb.rcv_nxt:",
                                      "if seg.fin and seq_add(seg.seq, 1) == tcb.rcv_nxt:")),
        {"test_time_wait_retransmitted_fin"},
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
            "return Step(State.FIN_WAIT_1, [Send(fin), timer], tcb)",
            "if tcb.snd_una != tcb.fin_seq:  # data was in flight: its retransmission timer runs\n"
            "                return Step(State.FIN_WAIT_1, [Send(fin)], tcb)\n"
            "            return Step(State.FIN_WAIT_1, [Send(fin), timer], tcb)")),
        "RFC 6298 §5.1: start the retransmission timer when a segment is sent only if it is not running",
    ),
}
