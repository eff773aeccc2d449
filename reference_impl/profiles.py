"""Named behaviour options. Every way a real stack departs from RFC 9293 is a field here, and so
is what the socket API's close() adds to the RFC's CLOSE (which is shutdown(SHUT_WR)): the RST of
§3.6.1 SHLD-3, which every major stack sends, not only Linux.

Durations are integers in virtual microseconds, so arithmetic is exact and a
trace prints the same on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any


def ms(n: float) -> int:
    """n milliseconds in the simulator's unit of time, the microsecond: ms(40) == 40_000."""
    return int(round(n * 1000))


def sec(n: float) -> int:
    """n seconds in the simulator's unit of time, the microsecond: sec(60) == 60_000_000."""
    return int(round(n * 1_000_000))


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    # RFC 9293 §3.4.2: the Maximum Segment Lifetime; RFC 793 suggests 2 minutes.
    msl: int = sec(120)
    # How long TIME_WAIT lasts. RFC 9293 §3.6: 2 MSL. Linux: TCP_TIMEWAIT_LEN = 60 s.
    time_wait: int = sec(240)
    # RFC 1337: ignore an RST that arrives in TIME_WAIT (Linux: net.ipv4.tcp_rfc1337).
    rfc1337: bool = False
    # Retransmission timeout (RFC 6298): base = max(rto_min, rto_factor * srtt + rto_add).
    rto_min: int = sec(1)
    rto_factor: int = 3
    rto_add: int = 0
    rto_max: int = sec(60)
    # Retransmissions of a FIN (or data) before giving up (RFC 9293 §3.8.3, R2).
    max_retries: int = 6
    # Linux sends a tail-loss probe (RFC 8985) before the first RTO-driven retransmission, when SACK
    # was negotiated (its default; tcp_schedule_loss_probe sends none without it).
    tail_loss_probe: bool = False
    # Linux: an orphaned socket (plain close(), not shutdown) in FIN_WAIT_2 gives up
    # after net.ipv4.tcp_fin_timeout. None: the RFC has no such timer.
    fin_wait_2_timeout: int | None = None
    # The socket API's close(), which also ends reading, with unread received data sends RST instead
    # of FIN: RFC 9293 §3.6.1 SHLD-3 (from RFC 1122 §4.2.2.13; RFC 2525 §2.17 discusses it), done by
    # Linux, the BSDs, macOS and Windows alike, so not a Linux departure. Off in rfc9293 because the
    # RFC's CLOSE call is shutdown(SHUT_WR): it ends sending only, and unread data stays readable.
    rst_on_unread_close: bool = False
    # Linux: close() (not shutdown()) hands the socket to the kernel, an "orphan": the
    # application is gone and hears nothing more (an error the machine reports reaches no
    # one). RFC 9293's CLOSE only ends sending: the user still receives. A close() after
    # shutdown(), once the FIN is out, detaches the same way (tcp_close, played by the stack:
    # reference_impl.stack.detached_close), where RFC 9293 answers "error: connection closing".
    close_detaches: bool = False
    # The socket API's close() ends reading too, so data arriving afterwards is answered with
    # <SEQ=SEG.ACK><CTL=RST> and the socket is gone: RFC 9293 §3.6.1 SHLD-3 (from RFC 1122
    # §4.2.2.13), done by Linux (tcp_reset), the BSDs, macOS and Windows alike. Off in rfc9293, whose
    # CLOSE (shutdown(SHUT_WR)) leaves the receiving side open.
    rst_on_data_after_close: bool = False
    # RFC 9293 §3.8.6.3 lets a receiver delay an ACK (by less than 0.5 s). When set, the ACK of a
    # FIN that arrives in ESTABLISHED waits this long, so a close() in the meantime sends FIN+ACK
    # in one segment (the "three-way" close). None: every FIN is acknowledged at once.
    # Linux: tcp_fin() enters "pingpong" mode, so the ACK waits for the delayed-ACK timer; with no
    # data received yet its timeout (icsk_ack.ato) is 0 and the timer fires at the next tick:
    # at most one jiffy, 4 ms at HZ=250 (measured: 0.5-4 ms, DelayedACKs = 1).
    delayed_ack: int | None = None
    # The same delay once data has arrived on the connection: tcp_event_data_recv() sets ato to
    # TCP_ATO_MIN and tcp_send_delayed_ack() bounds it by TCP_DELACK_MIN: 40 ms (measured: 41-44 ms).
    # None: as delayed_ack.
    delayed_ack_after_data: int | None = None
    # Linux's RST carries ACK (<SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK>); RFC ABORT sends bare RST.
    rst_carries_ack: bool = False
    # What the application hears when an RST ends CLOSE_WAIT. RFC 9293 §3.10.7.4 (second, CLOSE-WAIT):
    # "connection reset". Linux tcp_reset() reports EPIPE there (measured: SO_ERROR = 32).
    close_wait_reset_error: str = "connection reset"
    # Linux tcp_timewait_state_process() (net/ipv4/tcp_minisocks.c) instead of RFC 9293's TIME-WAIT
    # rules: an empty segment (or RST) exactly at RCV.NXT is the only "in window" one (an RST there
    # ends TIME_WAIT unless rfc1337; anything else empty there restarts the timer, silently); every
    # other segment except an RST is answered with an ACK and restarts the timer if it carries the
    # ACK bit; any other RST is dropped silently, with no challenge ACK. Measured on Linux 6.18.
    timewait_state_process: bool = False
    # Linux tcp_sequence(): a segment is acceptable when SEG.SEQ+SEG.LEN >= RCV.WUP (taken as RCV.NXT;
    # they differ only while a delayed ACK is pending) and SEG.SEQ <= RCV.NXT+RCV.WND, so a
    # retransmission that ends at RCV.NXT (its ACK field is processed) and a segment on the right
    # edge are accepted; tcp_data_queue() takes a bare FIN even into a zero window. RFC 9293
    # §3.10.7.4 uses the four-case test. Measured: right edge silent, retransmitted FIN moves CLOSING
    # to TIME_WAIT without a reply, bare FIN into a zero window moves ESTABLISHED to CLOSE_WAIT.
    accept_window_edges: bool = False
    # Linux tcp_oow_rate_limited() (net.ipv4.tcp_invalid_ratelimit = 500 ms): at most one ACK per
    # interval answers segments without data (or with SYN) that are refused or challenged. The
    # simulator applies it to the ACK a handler returns. None: every such ACK is sent.
    invalid_ratelimit: int | None = None
    # A zero-window probe. RFC 9293 §3.8.6.1: "transmit at least one octet of new data (if
    # available)". Linux tcp_xmit_probe_skb(): <SEQ=SND.UNA-1><ACK=RCV.NXT>, no data, which the peer
    # must answer with its window. Either way the probe timer backs off like the RTO.
    probe_with_old_seq: bool = False
    # Where the FIN waits when the last data fits the peer's window and the FIN does not. RFC 9293
    # §3.10.4: the FIN is formed once all data is segmentized, so the data goes now and the FIN
    # follows when there is room. Linux tcp_send_fin() tacks the FIN onto the unsent tail, and
    # tcp_snd_wnd_test() counts it: that last segment leaves only when data and FIN both fit, and
    # meanwhile the probe timer, the window being open, sends the data that fits (tcp_write_wakeup).
    fin_holds_tail: bool = False
    # RFC 7323 timestamps on every segment, and PAWS refusing one whose timestamp is older than the
    # connection's TS.Recent (reference_impl.timestamps). RFC 9293 itself defines only the MSS option
    # (§3.2); Linux negotiates timestamps by default (net.ipv4.tcp_timestamps = 1).
    timestamps: bool = False
    # RFC 7323 §5.3 R3 takes TS.Recent from any acceptable segment. Linux takes it in tcp_ack(), only
    # from a segment whose ACK is valid (SND.UNA <= SEG.ACK <= SND.NXT; never from an RST or a segment
    # without ACK), so a crafted segment with a bogus ACK and a far-future TSval cannot make PAWS
    # refuse every real segment of the peer afterwards.
    ts_recent_needs_valid_ack: bool = False
    # Opening a new connection on the 4-tuple (reference_impl.opening). A SYN (or SYN,ACK) not
    # answered is sent again after syn_timeout, doubling, syn_retries times: RFC 6298 §2.1's initial
    # RTO of 1 s (Linux TCP_TIMEOUT_INIT); RFC 9293 §3.8.3 (R2) keeps a SYN going for at least 3 min
    # (7 retries: 1+2+4+8+16+32+60+60 s), Linux for net.ipv4.tcp_syn_retries = 6 (127 s).
    syn_timeout: int = sec(1)
    syn_retries: int = 7
    # Linux (≥ 5.7, tcp_rcv_synsent_state_process): an ACK that does not acknowledge our SYN, answered
    # with RST, also re-arms the SYN timer to TCP_TIMEOUT_MIN (2 jiffies, 8 ms at HZ=250) if the SYN was
    # not retransmitted yet ("Previous FIN/ACK or RST/ACK might be ignored"): the old connection the
    # RST just ended is gone, so the SYN goes again at once. None: the SYN waits for its timer (1 s).
    syn_resend_after_bad_ack: int | None = None
    # RFC 9293 §3.6.1 (MAY-2, from RFC 1122 §4.2.2.13): a connection in TIME_WAIT may accept a new SYN
    # and reopen at once if the new connection's numbers start above the old ones; RFC 6191 adds: or its
    # timestamp is newer. Linux tcp_timewait_state_process() does (TCP_TW_SYN): a SYN after RCV.NXT, or
    # with a newer timestamp, goes to the listener, which answers with ISS = SND.NXT + 65537. Off: the
    # SYN is answered like any segment in TIME_WAIT (an ACK), and TIME_WAIT holds the 4-tuple (MUST-13).
    time_wait_accepts_syn: bool = False
    # RFC 793 §3.9 (before RFC 5961 §4): a SYN inside the window of a synchronized state is an error:
    # the connection is reset (the user hears "connection reset", CLOSED) and the SYN is answered with
    # <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, which a peer in SYN-SENT accepts: its new connection
    # fails. Off (both profiles): RFC 9293 §3.10.7.4 with RFC 5961 §4, a challenge ACK (Linux since
    # 3.6, tcp_validate_incoming "step 4"). Played by the stack (reference_impl.stack), not by the
    # close machine, so a learner's handlers need not carry a rule of an obsolete RFC.
    syn_resets_connection: bool = False
    # Linux tcp_rcv_established() and tcp_rcv_state_process() drop a segment carrying none of ACK,
    # RST and SYN before any other check, so one outside the window gets no ACK; RFC 9293
    # §3.10.7.4 acknowledges every unacceptable segment but an RST (a segment in the window without
    # ACK is dropped silently by both, at the fifth check). A timewait socket (TIME_WAIT, an orphaned
    # FIN_WAIT_2 under orphan_fin_wait_2_timewait) checks the window first. Played by the stack.
    drops_segments_without_ack: bool = False
    # Linux tcp_close() / tcp_rcv_state_process(): an orphan reaching FIN_WAIT_2 with tcp_fin_timeout
    # at most TIME_WAIT's 60 s becomes a timewait socket (tcp_time_wait(sk, TCP_FIN_WAIT2, tmo)), and
    # tcp_timewait_state_process() takes a segment in the window its own way: any RST ends it
    # silently (no RFC 5961 challenge ACK), a SYN at or past RCV.NXT is answered with RST and ends it.
    # Measured on Linux 6.18. Played by the stack.
    orphan_fin_wait_2_timewait: bool = False
    # Linux tcp_reset_check(): in CLOSE_WAIT, CLOSING and LAST_ACK an RST at RCV.NXT-1, the sequence
    # number of the peer's FIN, resets the connection (a peer that sent its FIN then reset before our
    # ACK reached it stamps its RST there). RFC 9293 §3.10.7.4: it is unacceptable, dropped silently.
    # Played by the stack.
    rst_on_peers_fin: bool = False

    def rto(self, retries: int, srtt: int) -> int:
        """The timeout after `retries` retransmissions: the base, doubled each time (RFC 6298 5.5)."""
        base = max(self.rto_min, self.rto_factor * srtt + self.rto_add)
        return min(base << retries, self.rto_max)

    def first_timeout(self, srtt: int) -> int:
        """The timer armed when a FIN (or data) is first sent.

        With a tail-loss probe (Linux tcp_schedule_loss_probe) it is the probe timeout,
        2*SRTT + 200 ms, but never later than the RTO itself.
        """
        rto = self.rto(0, srtt)
        if self.tail_loss_probe:
            return min(2 * srtt + ms(200), rto)
        return rto

    def fin_ack_delay(self, data_received: bool) -> int | None:
        """How long the ACK of a FIN received in ESTABLISHED waits (None: it leaves at once)."""
        if data_received and self.delayed_ack_after_data is not None:
            return self.delayed_ack_after_data
        return self.delayed_ack

    @property
    def delays_acks(self) -> bool:
        return self.delayed_ack is not None or self.delayed_ack_after_data is not None

    def replace(self, **changes: Any) -> Profile:  # any field: dataclasses.replace checks the names
        """A variant, e.g. rfc9293.replace(time_wait=0) for the "why TIME_WAIT" experiments."""
        return replace(self, **changes)


RFC9293 = Profile(name="rfc9293")

# Measured on Linux 6.x (see autograder.kernel and tests/kernel): TIME_WAIT is a fixed
# 60 s; the RTO is SRTT + 200 ms (rttvar floored at tcp_rto_min) doubling from there;
# orphans give up after tcp_orphan_retries (0 means 8); tcp_fin_timeout = 60 s; the ACK of a
# FIN in ESTABLISHED is delayed; TIME_WAIT, acceptability and duplicate-ACK rate limits follow
# tcp_timewait_state_process, tcp_sequence and tcp_invalid_ratelimit (fields above).
LINUX = Profile(
    name="linux",
    time_wait=sec(60),
    rto_min=ms(200),
    rto_factor=1,
    rto_add=ms(200),
    rto_max=sec(120),
    max_retries=8,
    tail_loss_probe=True,
    fin_wait_2_timeout=sec(60),
    rst_on_unread_close=True,
    close_detaches=True,
    rst_on_data_after_close=True,
    rst_carries_ack=True,
    delayed_ack=ms(4),
    delayed_ack_after_data=ms(40),
    close_wait_reset_error="broken pipe",
    timewait_state_process=True,
    accept_window_edges=True,
    invalid_ratelimit=ms(500),
    probe_with_old_seq=True,
    fin_holds_tail=True,
    timestamps=True,
    ts_recent_needs_valid_ack=True,
    syn_retries=6,
    syn_resend_after_bad_ack=ms(8),
    time_wait_accepts_syn=True,
    drops_segments_without_ack=True,
    orphan_fin_wait_2_timewait=True,
    rst_on_peers_fin=True,
)

PROFILES: dict[str, Profile] = {p.name: p for p in (RFC9293, LINUX)}


def get_profile(name: str | Profile) -> Profile:
    if isinstance(name, Profile):
        return name
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose one of: {', '.join(PROFILES)}") from None


# ---- the text form of options: what a script's `option` line and `--set NAME=VALUE` take --------

OPTION_NAMES = tuple(f.name for f in fields(Profile) if f.name != "name")
COUNT_OPTIONS = ("rto_factor", "max_retries", "syn_retries")


def option_text(name: str, value: bool | int | str | None) -> str:
    """The inverse of option_value: what to write in a script or after --set."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None:
        return "none"
    if isinstance(value, str):
        return f'"{value}"'

    if name in COUNT_OPTIONS:
        return str(value)
    for unit, size in (("s", 1_000_000), ("ms", 1000)):
        if value % size == 0:
            return f"{value // size}{unit}" if value else "0"
    return f"{value}us"


def profile_changes(profile: Profile) -> list[str]:
    """NAME=VALUE for each option where `profile` differs from the named profile it came from."""
    named = PROFILES.get(profile.name)
    if named is None or named == profile:
        return []
    return [f"{n}={option_text(n, getattr(profile, n))}" for n in OPTION_NAMES
            if getattr(profile, n) != getattr(named, n)]  # fmt: skip


def profile_text(profile: Profile) -> str:
    """How a profile is named to a reader: 'linux', or 'rfc9293 + time_wait=0' for a variant."""
    return " + ".join([profile.name, *profile_changes(profile)])
