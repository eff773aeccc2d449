"""Realistic mistakes in notebook 05 (why TIME_WAIT), each with the test cells it must lose."""

from tests.course.bugs import Bug, edit

NB = "05_time_wait"

BUGS = {
    # Re-ACKs a retransmitted FIN but lets the old timer run on: a second loss finds A gone.
    "time-wait-timer-not-restarted": Bug(
        edit(NB, "answer_time_wait", (
            "                return Step(State.TIME_WAIT, [Send(tcb.ack()), restart], tcb)",
            "                return Step(State.TIME_WAIT, [Send(tcb.ack())], tcb)")),
        {"test_time_wait_timeout", "test_time_wait_retransmitted_fin", "test_time_wait_lost_final_ack"},
    ),
    # "2 MSL is 240 s": restarts the timer with the RFC's number instead of the profile's.
    "restart-with-hard-coded-2msl": Bug(
        edit(NB, "answer_time_wait", (
            "            restart = StartTimer(Timer.TIME_WAIT, profile.time_wait)",
            "            restart = StartTimer(Timer.TIME_WAIT, sec(240))")),
        {"test_time_wait_timeout", "test_time_wait_retransmitted_fin", "test_time_wait_lost_final_ack"},
    ),
    # "Nothing can end TIME_WAIT but its timer": ignores a valid RST even without RFC 1337.
    "rst-ignored-in-time-wait": Bug(
        edit(NB, "answer_time_wait", (
            "                return Step(State.TIME_WAIT if profile.rfc1337 else State.CLOSED, [], tcb)\n",
            "                return Step(State.TIME_WAIT, [], tcb)\n")),
        # ...and syn-in-time-wait, where A's RST is what ends TIME_WAIT so the new connection can open
        {"test_time_wait_timeout", "test_time_wait_retransmitted_fin", "test_time_wait_old_duplicate"},
    ),
    # Screens the retransmitted FIN like any other segment: screen's ACK goes out, the timer is not restarted.
    "retransmitted-fin-screened-first": Bug(
        edit(NB, "answer_time_wait", ("if fin_again(tcb, seg):", "if False:")),
        {"test_time_wait_timeout", "test_time_wait_retransmitted_fin", "test_time_wait_lost_final_ack"},
    ),
    # Wrap-around: finds the retransmitted FIN with a plain +: a FIN on 2**32 - 1 ends at 2**32, not
    # at RCV.NXT = 0, so the lost final ACK is never sent again.
    "retransmitted-fin-found-without-modulo": Bug(
        edit(NB, "answer_time_wait", ("return seg.fin and seq_add(seg.seq, seg.len) == tcb.rcv_nxt",
                                      "return seg.fin and seg.seq + seg.len == tcb.rcv_nxt")),
        {"test_time_wait_timeout", "test_time_wait_retransmitted_fin", "test_time_wait_lost_final_ack"},
        {"test_time_wait_retransmitted_fin": 0.24, "test_time_wait_lost_final_ack": 0.185},
    ),
    # "Whatever ends at RCV.NXT is the FIN again": forgets the FIN bit, so an old empty ACK is re-ACKed too.
    "fin-again-without-the-fin-bit": Bug(
        edit(NB, "answer_time_wait", ("return seg.fin and seq_add(seg.seq, seg.len) == tcb.rcv_nxt",
                                      "return seq_add(seg.seq, seg.len) == tcb.rcv_nxt")),
        # and TIME_WAIT's battery of segments, and syn-in-time-wait's RST at RCV.NXT, taken for the FIN again
        {"test_time_wait_retransmitted_fin", "test_time_wait_timeout", "test_time_wait_old_duplicate"},
    ),
    # "The FIN again starts at RCV.NXT": forgets that the first copy moved RCV.NXT past the FIN.
    "fin-again-at-rcv-nxt": Bug(
        edit(NB, "answer_time_wait", ("return seg.fin and seq_add(seg.seq, seg.len) == tcb.rcv_nxt",
                                      "return seg.fin and seg.seq == tcb.rcv_nxt")),
        # ...and every scenario where the FIN comes again: the lost final ACK is never re-sent.
        {"test_time_wait_retransmitted_fin", "test_time_wait_timeout", "test_time_wait_lost_final_ack"},
    ),
    # Re-ACKs a copy of the FIN without the ACK bit, which RFC 9293's fifth step drops.
    "fin-without-ack-bit-re-acked": Bug(
        edit(NB, "answer_time_wait", ("                if not seg.has_ack:\n"
                                      "                    return Step(State.TIME_WAIT, [], tcb)\n", "")),
        {"test_time_wait_retransmitted_fin"},
    ),
    # Leaves the exercise to the building block: the exercise's cell scores 0, and only that cell.
    "fin-again-left-to-the-library": Bug(
        edit(NB, "answer_time_wait", ("if fin_again(tcb, seg):", "if is_retransmitted_fin(tcb, seg):")),
        {"test_time_wait_retransmitted_fin"},
        shares={"test_time_wait_retransmitted_fin": 1.0},
    ),
    # Linux: answers the empty segment at RCV.NXT too; two ends in TIME_WAIT would ACK each other's ACKs.
    "linux-in-window-ack-answered": Bug(
        edit(NB, "answer_time_wait", ("return Step(State.TIME_WAIT, [restart], tcb)  # silently",
                                      "return Step(State.TIME_WAIT, [Send(tcb.ack()), restart], tcb)  # silently")),
        {"test_time_wait_linux"},
    ),
    # Linux: challenges an RST that is not at RCV.NXT, as RFC 5961 does in the synchronized states.
    "linux-other-rst-challenged": Bug(
        edit(NB, "answer_time_wait", ("return Step(State.TIME_WAIT, [], tcb)  # any other RST",
                                      "return Step(State.TIME_WAIT, [Send(tcb.ack())], tcb)  # any other RST")),
        {"test_time_wait_linux"},
    ),
    # Linux: "in window" taken as any segment at RCV.NXT: data there restarts the timer and gets no ACK.
    "linux-in-window-ignores-the-length": Bug(
        edit(NB, "answer_time_wait", ("if seg.seq == tcb.rcv_nxt and (seg.len == 0 or seg.rst):",
                                      "if seg.seq == tcb.rcv_nxt:")),
        {"test_time_wait_linux"},
    ),
    # Linux: re-ACKs the FIN again but lets the 60 s run on: a second loss of the final ACK finds A gone.
    "linux-timer-not-restarted": Bug(
        edit(NB, "answer_time_wait", ("        return Step(State.TIME_WAIT, [Send(tcb.ack()), restart], tcb)\n    return",
                                      "        return Step(State.TIME_WAIT, [Send(tcb.ack())], tcb)\n    return")),
        {"test_time_wait_linux"},
    ),
    # Linux: an RST at RCV.NXT always ends TIME_WAIT, even with net.ipv4.tcp_rfc1337 = 1.
    "linux-rfc1337-ignored": Bug(
        edit(NB, "answer_time_wait", ("return Step(State.TIME_WAIT if profile.rfc1337 else State.CLOSED, [], tcb)  # RFC 1337: stay",
                                      "return Step(State.CLOSED, [], tcb)")),
        {"test_time_wait_linux"},
    ),
    # Leaves Linux's rules to the building block: the Linux cell scores 0, and only that cell.
    "linux-left-to-the-library": Bug(
        edit(NB, "answer_time_wait", ("return linux_time_wait(tcb, seg, profile)", "return timewait_state_process(tcb, seg, profile)")),
        {"test_time_wait_linux"},
        shares={"test_time_wait_linux": 1.0},
    ),
    # A new SYN meeting TIME_WAIT taken for activity of the old connection: the wait restarts.
    "syn-restarts-the-wait": Bug(
        edit(NB, "answer_time_wait", ("return Step(State.TIME_WAIT, [Send(tcb.ack())], tcb)  # not the peer's FIN",
                                      "return Step(State.TIME_WAIT, [Send(tcb.ack()), restart], tcb)  # not the peer's FIN")),
        {"test_time_wait_old_duplicate", "test_time_wait_timeout"},  # and TIME_WAIT's battery of segments
    ),
    # "TIME_WAIT belongs to the old connection": a SYN for a new one is refused with a RST.
    "syn-in-time-wait-reset": Bug(
        edit(NB, "answer_time_wait", ("return Step(State.TIME_WAIT, [Send(tcb.ack())], tcb)  # not the peer's FIN",
                                      "return Step(State.TIME_WAIT, [Send(tcb.rst())], tcb)  # not the peer's FIN")),
        {"test_time_wait_old_duplicate", "test_time_wait_timeout"},  # and TIME_WAIT's battery of segments
    ),
    # "The FIN again is one past SEG.SEQ": forgets the data a FIN may ride on, so a copy of B's last
    # data segment with its FIN is neither ACKed again nor restarts the timer.
    "fin-again-counts-only-the-fin": Bug(
        edit(NB, "answer_time_wait", ("return seg.fin and seq_add(seg.seq, seg.len) == tcb.rcv_nxt",
                                      "return seg.fin and seq_add(seg.seq, 1) == tcb.rcv_nxt")),
        {"test_time_wait_retransmitted_fin"},
    ),
    # "Any FIN that ends at or before RCV.NXT is the FIN again": an old duplicate FIN restarts 2 MSL.
    "old-duplicate-fin-taken-for-the-fin-again": Bug(
        edit(NB, "answer_time_wait", ("    return seg.fin and seq_add(seg.seq, seg.len) == tcb.rcv_nxt\n",
                                      "    return seg.fin and seq_le(seq_add(seg.seq, seg.len), tcb.rcv_nxt)\n")),
        {"test_time_wait_retransmitted_fin", "test_time_wait_timeout"},
    ),
}
