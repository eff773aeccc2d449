"""Parsing /proc/net/tcp, and the named mapping of the kernel's view to the reference's states."""

import pytest

from autograder.kernel import kernel_states, procnet
from autograder.kernel.tracer import StateEvent, parse

pytestmark = pytest.mark.kernel

# Two lines as Linux 6.x prints them: a full socket in FIN_WAIT_2 and a timewait sock.
DUMP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:A3C2 0100007F:1F90 05 00000000:00000000 02:00001770 00000000  1000        0 12345 1 0 20 4 -1
   1: 0101D50A:5209 0201D50A:5208 06 00000000:00000000 03:0000176F 00000000     0        0 0 3 0
"""


def test_parse_full_and_timewait_sockets():
    full, tw = procnet.parse(DUMP)
    assert full.local == ("127.0.0.1", 0xA3C2) and full.remote == ("127.0.0.1", 8080)
    assert full.state == "FIN_WAIT_2" and not full.timewait and full.remaining == 60.0
    assert tw.local == ("10.213.1.1", 0x5209) and tw.state == "TIME_WAIT" and tw.timewait
    assert tw.remaining == pytest.approx(59.99)


def test_missing_proc_file_says_what_is_needed(tmp_path):
    with pytest.raises(procnet.ProcNetUnavailable, match="needs Linux with /proc"):
        procnet.read(str(tmp_path / "no" / "tcp"))


TRACE = "  python3-1 [000] ..s2. 743.962265: inet_sock_set_state: family=AF_INET protocol=IPPROTO_TCP sport=21002 dport=21001 saddr=10.213.7.1 daddr=10.213.7.2 saddrv6=::ffff:10.213.7.1 daddrv6=::ffff:10.213.7.2 oldstate=TCP_FIN_WAIT2 newstate=TCP_CLOSE\n"


def test_parse_tracepoint_line():
    (ev,) = parse(TRACE + "# tracer: nop\n")
    assert (ev.time, ev.sport, ev.daddr, ev.old, ev.new) == (
        743.962265,
        21002,
        "10.213.7.2",
        "FIN_WAIT2",
        "CLOSE",
    )


def _ev(t, old, new):
    return StateEvent(t, "10.0.0.1", 1, "10.0.0.2", 2, old, new)


def _tw(t, state, remaining=60.0):
    return (t, procnet.Entry(("10.0.0.1", 1), ("10.0.0.2", 2), state, 3, remaining, 0, 0))


def test_close_into_a_timewait_sock_is_time_wait_not_closed():
    events = [
        _ev(1.0, "ESTABLISHED", "FIN_WAIT1"),
        _ev(1.02, "FIN_WAIT1", "FIN_WAIT2"),
        _ev(1.02, "FIN_WAIT2", "CLOSE"),
    ]
    samples = [_tw(1.021, "FIN_WAIT_2"), _tw(1.2, "TIME_WAIT"), (1.5, None)]
    assert kernel_states.sequence(events, samples) == [
        "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT", "CLOSED"]  # fmt: skip


def test_close_without_a_timewait_sock_is_closed():
    events = [_ev(1.0, "CLOSE_WAIT", "LAST_ACK"), _ev(1.1, "LAST_ACK", "CLOSE")]
    assert kernel_states.sequence(events, [(1.2, None)], start="CLOSE_WAIT") == [
        "CLOSE_WAIT",
        "LAST_ACK",
        "CLOSED",
    ]
