"""Every close opens in Wireshark: the pcap writer, read back by Debian's tshark and by hand.

The truth each frame is compared with is the simulator's own: the trace's send rows for time,
direction, SEQ, ACK, flags and length, and the Segment objects the simulator sent for the
window (the trace does not record it; the writer derives it from the scenario and the reads).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys

import pytest

from autograder.pcap import ADDRESSES, PORTS, internet_checksum, read_pcap, trace_pcap
from autograder.reference_source import reference_machine
from reference_impl import scenarios
from reference_impl.profiles import PROFILES
from reference_impl.segment import Flags
from reference_impl.sim import Simulation

CASES = [(name, profile) for profile in PROFILES for name in scenarios.CATALOGUE]
FLAG_BITS = {"FIN": 0x01, "SYN": 0x02, "RST": 0x04, "ACK": 0x10}


class Recording(Simulation):
    """The simulator, also keeping the window of every segment sent (row index -> window)."""

    def __init__(self, *args, **kw) -> None:
        super().__init__(*args, **kw)
        self.windows: dict[int, int] = {}

    def _row(self, time, ep, event, before, after, seg=None, **kw) -> None:
        if event == "send":
            self.windows[len(self.trace.rows)] = seg.window
        super()._row(time, ep, event, before, after, seg, **kw)


def run(name: str, profile: str):
    entry = scenarios.get(name)
    sim = Recording(entry.scenario, entry.profile(PROFILES[profile]), reference_machine())
    trace = sim.run()
    return trace, [sim.windows[i] for i, r in enumerate(trace.rows) if r.event == "send"]


def flag_bits(flags: Flags | None) -> int:
    """The header's bits for the trace's flags, by name (not by Flags' own values)."""
    return sum(FLAG_BITS[f] for f in (flags or Flags.NONE).names())


@pytest.mark.parametrize(("name", "profile"), CASES)
def test_one_frame_per_sent_segment_with_the_traces_numbers_and_valid_checksums(name, profile):
    trace, windows = run(name, profile)
    sends = [r for r in trace.rows if r.event == "send"]
    frames = list(read_pcap(trace_pcap(trace)))
    assert len(frames) == len(sends), "lost segments too: captured where they leave the sender"
    for (t, frame), r, wnd in zip(frames, sends, windows, strict=True):
        ip, tcp = frame[:20], frame[20:]
        assert t == r.time, "captured where it leaves the sender, on the virtual clock"
        assert ip[12:16] == bytes(ADDRESSES[r.endpoint]) and ip[16:20] == bytes(
            ADDRESSES["B" if r.endpoint == "A" else "A"]
        )
        assert internet_checksum(ip) == 0, "IPv4 header checksum"
        src = bytes(ADDRESSES[r.endpoint])
        dst = bytes(ADDRESSES["B" if r.endpoint == "A" else "A"])
        assert internet_checksum(src + dst + struct.pack("!BBH", 0, 6, len(tcp)) + tcp) == 0, "TCP checksum"
        sport, dport, seq, ack, _, bits, win = struct.unpack("!HHIIBBH", tcp[:16])
        assert (sport, dport) == (PORTS[r.endpoint], PORTS["B" if r.endpoint == "A" else "A"])
        assert (seq, ack, bits, win, len(tcp) - 20) == (r.seq, r.ack or 0, flag_bits(r.flags), wnd, r.len or 0)


TSHARK_FIELDS = ("frame.time_epoch", "ip.src", "ip.dst", "tcp.srcport", "tcp.seq_raw", "tcp.ack_raw",
                 "tcp.flags", "tcp.len", "tcp.window_size_value", "tcp.checksum.status", "ip.checksum.status")  # fmt: skip


def tshark(path) -> list[list[str]]:
    exe = shutil.which("tshark")
    if exe is None:
        pytest.fail("Debian's tshark is missing: run `make system-deps` (or apt-get install tshark)")
    cmd = [exe, "-r", str(path), "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE", "-T", "fields",
           "-E", "separator=,"] + [a for f in TSHARK_FIELDS for a in ("-e", f)]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True).stdout
    rows = [line.split(",") for line in out.splitlines()]
    return [[f"{float(row[0]):.6f}", *row[1:]] for row in rows]


def expected_rows(trace, windows) -> list[list[str]]:
    out = []
    for r, wnd in zip([r for r in trace.rows if r.event == "send"], windows, strict=True):
        peer = "B" if r.endpoint == "A" else "A"
        out.append([f"{r.time / 1e6:.6f}", ".".join(map(str, ADDRESSES[r.endpoint])), ".".join(map(str, ADDRESSES[peer])),
                    str(PORTS[r.endpoint]), str(r.seq), str(r.ack or 0), f"0x{flag_bits(r.flags):04x}", str(r.len or 0),
                    str(wnd), "1", "1"])  # fmt: skip
    return out


@pytest.mark.parametrize("profile", list(PROFILES))
def test_tshark_reads_back_every_frame_of_every_catalogue_scenario(profile, tmp_path):
    """One tshark run per profile over each scenario's file would take a minute; the scenarios'
    frames go into one capture instead, each scenario 10,000 s after the previous one."""
    data, want = [], []
    for k, name in enumerate(scenarios.CATALOGUE):
        trace, windows = run(name, profile)
        for t, frame in read_pcap(trace_pcap(trace)):
            t += k * 10_000_000_000
            data.append(struct.pack("<IIII", t // 1_000_000, t % 1_000_000, len(frame), len(frame)) + frame)
        want += [[f"{float(row[0]) + k * 10_000:.6f}", *row[1:]] for row in expected_rows(trace, windows)]
    path = tmp_path / "all.pcap"
    path.write_bytes(trace_pcap([])[:24] + b"".join(data))
    got = tshark(path)
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g == w, (
            f"frame {i + 1}: tshark reads {dict(zip(TSHARK_FIELDS, g, strict=False))}, the trace says {dict(zip(TSHARK_FIELDS, w, strict=False))}"
        )


def test_tcpclose_simulate_writes_the_pcap_to_stdout_or_a_file(tmp_path):
    cli = [sys.executable, "-m", "autograder.cli", "simulate", "lost-final-ack", "--format", "pcap"]
    out = subprocess.run(cli, capture_output=True, timeout=60, check=True).stdout
    (tmp_path / "stdout.pcap").write_bytes(out)
    subprocess.run([*cli, "-o", str(tmp_path / "file.pcap")], capture_output=True, timeout=60, check=True)
    assert (tmp_path / "file.pcap").read_bytes() == out
    trace, windows = run("lost-final-ack", "rfc9293")
    assert tshark(tmp_path / "stdout.pcap") == expected_rows(trace, windows)
    lost = [r for r in trace.rows if r.event == "send" and r.fate == "lost"]
    assert lost, "the lost ACK is in the capture, where it left A"
