"""Realistic mistakes in notebook 03 (simultaneous close), each with the test cells it must lose."""

from tests.course.bugs import Bug, edit

NB = "03_simultaneous_close"

BUGS = {
    # "A FIN in FIN_WAIT_1 means the FINs crossed": ignores that the FIN+ACK also acknowledged ours.
    "fin-ack-taken-for-crossed-fins": Bug(
        edit(NB, "answer_fin_wait_1", ("                if our_fin_acked:  # the three-way close: this segment (or an earlier one) acknowledged our FIN\n"
                                       "                    return Step(State.TIME_WAIT, outputs + [StartTimer(Timer.TIME_WAIT, profile.time_wait)], tcb)\n",
                                       "")),
        {"test_fin_wait_1_fin_ack", "test_simultaneous_close"},
    ),
    # "The peer's FIN ends FIN_WAIT_1": straight to TIME_WAIT even when our FIN is not acknowledged.
    "time-wait-without-the-ack-of-our-fin": Bug(
        edit(NB, "answer_fin_wait_1", (
            "                if our_fin_acked:  # the three-way close: this segment (or an earlier one) acknowledged our FIN\n"
            "                    return Step(State.TIME_WAIT, outputs + [StartTimer(Timer.TIME_WAIT, profile.time_wait)], tcb)\n"
            "                return Step(State.CLOSING, outputs, tcb)  # the FINs crossed\n",
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
        edit(NB, "answer_closing", ("if seg.ack == seq_add(tcb.fin_seq, 1):", "if seg.has_ack:")),
        {"test_closing_other_ack", "test_simultaneous_close"},
    ),
    # Wrap-around: compares SEG.ACK with `>` instead of seq_gt, so an ACK=0 of a FIN on 2**32 - 1 is
    # not an ACK of it, and an ACK of data just below the wrap is taken for one.
    "closing-fin-acked-without-modulo": Bug(
        edit(NB, "answer_closing", ("if seg.ack == seq_add(tcb.fin_seq, 1):", "if seg.ack > tcb.fin_seq:")),
        {"test_closing_ack_of_fin", "test_simultaneous_close"},
        shares={"test_closing_ack_of_fin": 0.335},
    ),
    # Leaves the crossing to notebook 1's building blocks: they behave, so only the cells whose
    # exercise it is score 0 (the manifest's yourself= rule).
    "library-decides-the-crossing": Bug(
        edit(NB, "answer_fin_wait_1", (
            "                if our_fin_acked:  # the three-way close: this segment (or an earlier one) acknowledged our FIN\n"
            "                    return Step(State.TIME_WAIT, outputs + [StartTimer(Timer.TIME_WAIT, profile.time_wait)], tcb)\n"
            "                return Step(State.CLOSING, outputs, tcb)  # the FINs crossed\n",
            "                return fin_crossed(tcb, outputs, our_fin_acked, profile)\n")),
        {"test_fin_wait_1_fin", "test_fin_wait_1_fin_ack"},
        shares={"test_fin_wait_1_fin": 1.0, "test_fin_wait_1_fin_ack": 1.0},
    ),
    # Takes the text and the FIN in with notebook 1's take_text and writes only the decision.
    "text-left-to-take-text": Bug(
        edit(NB, "answer_fin_wait_1", (
            "            if s.data:  # seventh step: data sent before the peer's FIN still reaches the application\n"
            "                tcb = tcb.replace(rcv_nxt=seq_add(tcb.rcv_nxt, len(s.data)))\n"
            "                outputs.append(DeliverData(s.data))\n"
            "            if s.fin:  # eighth step: the peer's FIN, next in sequence, occupies one number\n"
            "                tcb = tcb.replace(rcv_nxt=seq_add(tcb.rcv_nxt, 1))\n"
            "                outputs.append(DeliverEOF())\n"
            "            if s.data or s.fin or s.out_of_order:\n"
            "                outputs.append(Send(tcb.ack()))  # <SEQ=SND.NXT><ACK=RCV.NXT>: built after RCV.NXT moved\n",
            "            tcb, text, fin = take_text(s, profile)\n"
            "            outputs += text\n")),
        {"test_fin_wait_1_fin", "test_fin_wait_1_fin_ack"},
        shares={"test_fin_wait_1_fin": 1.0, "test_fin_wait_1_fin_ack": 1.0},
    ),
    # "A FIN has no data, so it needs no number": RCV.NXT stays, and the ACK of B's FIN at 300 says 300.
    "fin-takes-no-number": Bug(
        edit(NB, "answer_fin_wait_1", ("                tcb = tcb.replace(rcv_nxt=seq_add(tcb.rcv_nxt, 1))\n", "")),
        {"test_fin_wait_1_fin", "test_fin_wait_1_fin_ack", "test_closing_ack_of_fin", "test_simultaneous_close"},
    ),
    # Builds the ACK from the TCB screen returned, before RCV.NXT moved past the data and the FIN.
    "ack-built-before-rcv-nxt-moves": Bug(
        edit(NB, "answer_fin_wait_1", ("outputs.append(Send(tcb.ack()))", "outputs.append(Send(s.tcb.ack()))")),
        {"test_fin_wait_1_fin", "test_fin_wait_1_fin_ack", "test_closing_ack_of_fin", "test_simultaneous_close"},
    ),
    # RCV.NXT + 1 on plain integers: right until the peer's FIN sits on 2**32 - 1.
    "fin-number-on-plain-integers": Bug(
        edit(NB, "answer_fin_wait_1", ("rcv_nxt=seq_add(tcb.rcv_nxt, 1)", "rcv_nxt=tcb.rcv_nxt + 1")),
        {"test_fin_wait_1_fin", "test_fin_wait_1_fin_ack", "test_closing_ack_of_fin", "test_simultaneous_close"},
        shares={"test_fin_wait_1_fin": 0.285},  # only the cases whose FIN sits on 2**32 - 1
    ),
    # Only the FIN is taken: data the peer sent with its FIN is neither delivered nor counted.
    "data-with-the-fin-lost": Bug(
        edit(NB, "answer_fin_wait_1", (
            "            if s.data:  # seventh step: data sent before the peer's FIN still reaches the application\n"
            "                tcb = tcb.replace(rcv_nxt=seq_add(tcb.rcv_nxt, len(s.data)))\n"
            "                outputs.append(DeliverData(s.data))\n", "")),
        {"test_fin_wait_1_fin", "test_simultaneous_close"},
    ),
    # Acknowledges every acceptable segment, an ACK alone too: two ends doing so would ACK each other's ACKs.
    "every-segment-acknowledged": Bug(
        edit(NB, "answer_fin_wait_1", ("if s.data or s.fin or s.out_of_order:", "if True:")),
        {"test_simultaneous_close"},
    ),
    # close() in CLOSING taken as a no-op: the RFC answers "error: connection closing".
    "close-in-closing-ignored": Bug(
        edit(NB, "answer_closing", ("case AppClose() | AppSend():\n            return Step(State.CLOSING, [Error(CLOSING_ERROR)], tcb)",
                                    "case AppClose() | AppSend():\n            return Step(State.CLOSING, [], tcb)")),
        {"test_simultaneous_close"},
    ),
    # Delivers (and counts) the segment's whole payload, not take_text's trimmed text: bytes the peer
    # sent again in front of new ones reach the application twice.
    "delivers-the-untrimmed-payload": Bug(
        edit(NB, "answer_fin_wait_1", (
            "tcb = tcb.replace(rcv_nxt=seq_add(tcb.rcv_nxt, len(s.data)))\n                outputs.append(DeliverData(s.data))",
            "tcb = tcb.replace(rcv_nxt=seq_add(tcb.rcv_nxt, len(seg.payload)))\n                outputs.append(DeliverData(seg.payload))")),
        {"test_fin_wait_1_fin"},
    ),
}
