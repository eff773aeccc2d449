"""Realistic mistakes in notebook 06 (resets and real stacks), each with the test cells it must lose."""

from tests.course.bugs import Bug, edit

NB = "06_resets"

BUGS = {
    # RFC 793's rule: any RST in the window resets; RFC 5961's challenge ACK never happens.
    "in-window-rst-taken-as-valid": Bug(
        edit(NB, "answer_fin_wait_1", ("if seg.seq == tcb.rcv_nxt:", "if True:")),
        {"test_fin_wait_2_rst"},
    ),
    # Drops an in-window RST silently: the peer that really meant to reset never gets its challenge ACK.
    "no-challenge-ack": Bug(
        edit(NB, "answer_fin_wait_1", ("return Screened(Verdict.DROP, tcb, reply=tcb.ack())  # in the window: challenge ACK",
                                       "return Screened(Verdict.DROP, tcb)")),
        {"test_fin_wait_2_rst"},
    ),
    # Challenges every RST that is not exact, also one outside the window, which RFC 5961 drops silently.
    "rst-outside-window-challenged": Bug(
        edit(NB, "answer_fin_wait_1", ("return Screened(Verdict.DROP, tcb)  # outside the window: a RST is dropped silently",
                                       "return Screened(Verdict.DROP, tcb, reply=tcb.ack())")),
        {"test_fin_wait_2_rst"},
    ),
    # The window test on plain integers: right until the window wraps past 2**32. The cell that teaches the
    # window meets a RST 10 into a window that crosses 2**32 (12% of it); the other cells' wrapped scenarios
    # pass through FIN_WAIT_1 and FIN_WAIT_2 too, but the reference takes their arrivals there
    # (CHECKED_ELSEWHERE), so the mistake costs points once, as the notebook says.
    "window-on-plain-integers": Bug(
        edit(NB, "answer_fin_wait_1", ("return seq_le(nxt, n) and seq_lt(n, seq_add(nxt, wnd))",
                                       "return nxt <= n < nxt + wnd")),
        {"test_fin_wait_2_rst"},
        {"test_fin_wait_2_rst": 0.103},
    ),
    # Leaves the checks to the library: fin_wait_2 sends every segment through screen; the exercise's cell scores 0.
    "checks-left-to-screen": Bug(
        edit(NB, "answer_fin_wait_2", ("s = check_arrival(tcb, seg, profile)", "s = screen(tcb, seg, profile)")),
        {"test_fin_wait_2_rst"},
        shares={"test_fin_wait_2_rst": 1.0},
    ),
    # Leaves the window to the TCB's own test: the exercise's cell scores 0.
    "window-left-to-acceptable": Bug(
        edit(NB, "answer_fin_wait_1", ("if not in_window(tcb, seg, profile):",
                                       "if not tcb.acceptable(seg, profile.accept_window_edges):")),
        {"test_fin_wait_2_rst"},
        shares={"test_fin_wait_2_rst": 1.0},
    ),
    # RFC 793's rule for a SYN in the window of a synchronized connection: reset it (RFC 5961 §4's
    # challenge ACK is what stops a blind attacker doing exactly that).
    "syn-resets-the-connection": Bug(
        edit(NB, "answer_fin_wait_1", ("return Screened(Verdict.DROP, tcb, reply=tcb.ack())  # RFC 5961 §4: challenge ACK",
                                       "return Screened(Verdict.RESET, tcb)")),
        {"test_fin_wait_2_rst"},
    ),
    # Believes an ACK of a number never sent (RFC 5961 §5): SND.UNA would move past SND.NXT.
    "ack-past-snd-nxt-believed": Bug(
        edit(NB, "answer_fin_wait_1", ("if seq_gt(seg.ack, tcb.snd_nxt):\n"
                                       "        return Screened(Verdict.DROP, tcb, reply=tcb.ack())  # fifth check: ACKs what was never sent\n    ",
                                       "")),
        {"test_fin_wait_2_rst"},
    ),
    # Forgets the fifth check's first rule: a segment without the ACK bit goes on (check_segment refuses it).
    "no-ack-bit-not-dropped": Bug(
        edit(NB, "answer_fin_wait_1", ("if not seg.has_ack:\n"
                                       "        return Screened(Verdict.DROP, tcb)  # fifth check: no ACK bit, drop\n    ", "")),
        {"test_fin_wait_2_rst"},
    ),
    # Drops an unacceptable segment silently, as if it were a RST: the peer never learns RCV.NXT.
    "unacceptable-segment-not-acknowledged": Bug(
        edit(NB, "answer_fin_wait_1", ("return Screened(Verdict.DROP, tcb, reply=tcb.ack())  # anything else: ACK and drop",
                                       "return Screened(Verdict.DROP, tcb)")),
        {"test_fin_wait_2_rst"},
    ),
    # The RFC's window under linux too: a retransmitted FIN ending at RCV.NXT, and a bare FIN in a zero
    # window, are in Linux's window (tcp_sequence), not in the RFC's.
    "rfc-window-under-linux": Bug(
        edit(NB, "answer_fin_wait_1", ("if profile.accept_window_edges:", "if False:")),
        {"test_fin_wait_2_rst"},
    ),
    # Forgets the zero window: an empty segment at exactly RCV.NXT (a valid RST among them) is refused.
    "zero-window-forgotten": Bug(
        edit(NB, "answer_fin_wait_1", ("return seg.seq == nxt if wnd == 0 else inside(seg.seq)", "return inside(seg.seq)")),
        {"test_fin_wait_2_rst"},
    ),
    # "TIME_WAIT must run its full length": ignores every valid RST, even without RFC 1337.
    "rst-ignored-in-time-wait-without-rfc1337": Bug(
        edit(NB, "answer_time_wait", ("if profile.rfc1337:", "if True:")),
        {"test_time_wait_rst"},
    ),
    # Forgets Linux's unread-data rule: close() with unread bytes still sends a polite FIN.
    "fin-instead-of-rst-on-unread-close": Bug(
        edit(NB, "answer_established", (
            "if unread and not shutdown and profile.rst_on_unread_close:\n"
            "                return send_reset(tcb, profile)  # Linux, RFC 2525 §2.17\n            ", "")),
        {"test_established_abort", "test_established_close_with_unread_data"},
    ),
    # Abort without a RST: "CLOSED is CLOSED" - the peer is never told.
    "abort-without-rst": Bug(
        edit(NB, "answer_established", (
            "return send_reset(tcb, profile)  # §3.10.5: RST, CLOSED, no TIME_WAIT", "return Step(State.CLOSED, [], tcb)")),
        {"test_established_abort"},
    ),
    # A RST in CLOSE_WAIT closes, but the application is not told the connection was reset.
    "close-wait-rst-not-reported": Bug(
        edit(NB, "answer_close_wait", (
            "return Step(State.CLOSED, [Error(profile.close_wait_reset_error)], tcb)", "return Step(State.CLOSED, [], tcb)")),
        {"test_close_wait_rst", "test_established_close_with_unread_data"},  # the RST refusing data after close()
    ),
    # CLOSED stays silent: segments for a connection that no longer exists are just dropped.
    "closed-never-resets": Bug(
        edit(NB, "answer_closed", ("            if seg.rst:\n", "            if True:\n")),
        {"test_closed_segment", "test_established_close_with_unread_data"},
    ),
    # Linux's unread-data rule applied to shutdown() too: shutdown(SHUT_WR) still reads, so unread
    # data is no reason for a RST there (only close() gives up reading).
    "rst-on-shutdown-with-unread-data": Bug(
        edit(NB, "answer_established", ("if unread and not shutdown and profile.rst_on_unread_close:",
                                        "if unread and profile.rst_on_unread_close:")),
        {"test_established_abort", "test_established_close_with_unread_data"},
        shares={"test_established_close_with_unread_data": 0.175},
    ),
    # "Abort means RST": sends one from CLOSING, LAST_ACK and TIME_WAIT too, where §3.10.5 only
    # answers "ok" and deletes the TCB (both FINs are already out).
    "abort-sends-rst-in-every-state": Bug(
        edit(NB, "answer_closing", ("case AppAbort():\n            return Step(State.CLOSED, [], tcb)",
                                    "case AppAbort():\n            return Step(State.CLOSED, send_rst(tcb, profile), tcb)"))
        | edit(NB, "answer_last_ack", ("case AppAbort():\n            return Step(State.CLOSED, [], tcb)",
                                       "case AppAbort():\n            return Step(State.CLOSED, send_rst(tcb, profile), tcb)"))
        | edit(NB, "answer_time_wait", ("case AppAbort():\n            return Step(State.CLOSED, [], tcb)",
                                        "case AppAbort():\n            return Step(State.CLOSED, send_rst(tcb, profile), tcb)")),
        {"test_closing_rst", "test_last_ack_rst", "test_time_wait_rst", "test_established_abort"},
        shares={"test_established_abort": 0.25},
    ),
    # CLOSED answers with a RST numbered from what is left of the TCB, not from the segment
    # (§3.10.7.1: <SEQ=SEG.ACK><CTL=RST>, or <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> without ACK).
    "closed-rst-built-from-the-tcb": Bug(
        edit(NB, "answer_closed", ("[Send(Segment(seq=seg.ack, ack=0, flags=RST))]", "[Send(Segment(seq=tcb.snd_nxt, flags=RST))]"),
                                  ("[Send(Segment(seq=0, ack=seq_add(seg.seq, seg.len), flags=RST | ACK))]",
                                   "[Send(Segment(seq=tcb.snd_nxt, flags=RST))]")),
        {"test_closed_segment"},
        shares={"test_closed_segment": 1.0},  # the visible check without the ACK bit fails
    ),
    # Data refused after close() (linux): sends the RST but stays in FIN_WAIT_2, as if it were an
    # ordinary segment to drop; the connection is over (`s.ends`).
    "refused-data-ignored": Bug(
        edit(NB, "answer_fin_wait_2", ("return Step(State.CLOSED if s.ends else State.FIN_WAIT_2, drop(s), s.tcb)",
                                       "return Step(State.FIN_WAIT_2, [Send(s.reply)] if s.reply else [], tcb)")),
        {"test_fin_wait_2_rst"},  # FIN_WAIT_2's arrivals: the other cells' runs leave them to the reference
    ),
    # Acknowledges only SEG.SEQ: forgets that the FIN (or data) of the stray segment occupies numbers too.
    "closed-rst-ack-without-seg-len": Bug(
        edit(NB, "answer_closed", ("ack=seq_add(seg.seq, seg.len)", "ack=seg.seq")),
        {"test_closed_segment"},
    ),
    # Answers a RST with a RST: two CLOSED ends could reset each other forever.
    "closed-answers-rst-with-rst": Bug(
        edit(NB, "answer_closed", ("            if seg.rst:\n                return Step(State.CLOSED, [], tcb)", "")),
        {"test_closed_segment"},
    ),
    # Leaves the exercise to the building block: the exercise's cell scores 0, and only that cell.
    "closed-rst-left-to-reset-for": Bug(
        edit(NB, "answer_closed", ("            if seg.rst:\n", "            return Step(State.CLOSED, reset_for(seg, profile), tcb)\n            if seg.rst:\n")),
        {"test_closed_segment"},
        shares={"test_closed_segment": 1.0},
    ),
    # Leaves ABORT's RST to the building block: the exercise's cell scores 0, and only that cell.
    "reset-left-to-abort": Bug(
        edit(NB, "answer_established", ("return send_reset(tcb, profile)  # §3.10.5: RST, CLOSED, no TIME_WAIT",
                                        "return Step(State.CLOSED, send_rst(tcb, profile), tcb)")),
        {"test_established_abort"},
        shares={"test_established_abort": 1.0},
    ),
    # RFC 9293's bare RST under linux too: Linux's RST also acknowledges, <CTL=RST,ACK> with ACK = RCV.NXT.
    "linux-reset-without-ack": Bug(
        edit(NB, "answer_established", ("if profile.rst_carries_ack:", "if False:")),
        {"test_established_abort", "test_established_close_with_unread_data"},
    ),
    # Resets from SND.UNA, where a retransmission starts, not from SND.NXT as §3.10.5 says.
    "reset-from-snd-una": Bug(
        edit(NB, "answer_established", ("rst = Segment(seq=tcb.snd_nxt, ack=tcb.rcv_nxt, flags=RST | ACK)",
                                        "rst = Segment(seq=tcb.snd_una, ack=tcb.rcv_nxt, flags=RST | ACK)"),
                                       ("rst = Segment(seq=tcb.snd_nxt, ack=0, flags=RST)",
                                        "rst = Segment(seq=tcb.snd_una, ack=0, flags=RST)")),
        {"test_established_abort"},
    ),
    # The window's right edge taken as inside: SEQ = RCV.NXT + RCV.WND is one past it (§3.10.7.4).
    "window-right-edge-inclusive": Bug(
        edit(NB, "answer_fin_wait_1", ("        return seq_le(nxt, n) and seq_lt(n, seq_add(nxt, wnd))\n",
                                       "        return seq_le(nxt, n) and seq_le(n, seq_add(nxt, wnd))\n")),
        {"test_fin_wait_2_rst"},
    ),
    # A segment with data tested on its first octet only: one that overlaps RCV.NXT from the left is refused.
    "window-tests-the-first-octet-only": Bug(
        edit(NB, "answer_fin_wait_1", ("    return wnd > 0 and (inside(seg.seq) or inside(seq_add(seg.seq, seg.len - 1)))\n",
                                       "    return wnd > 0 and inside(seg.seq)\n")),
        {"test_fin_wait_2_rst"},
    ),
}
