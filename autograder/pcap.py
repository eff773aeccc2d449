"""A trace as a classic pcap file, so any close opens in Wireshark (Statistics > Flow Graph).

One IPv4/TCP frame per segment sent, lost ones included: the capture point is where each
segment leaves its sender, as `tcpdump` on the sender's interface would see it. Timestamps
are the simulator's virtual clock (the capture starts at the epoch, 1970-01-01 00:00:00).
Addresses come from the documentation ranges (RFC 5737): A, the client, is 192.0.2.1;
B, the server, 198.51.100.1. Pure bytes from a Trace: no I/O, no clock.

The trace records each segment's SEQ, ACK, control bits and data length. It does not record
the window, which every segment carries as its sender's RCV.WND (reference_impl.tcb): that
is 65,535 unless the scenario starts an endpoint with another window, and an application
read announces a new one ("read" rows, RCV.WND=n). Data bytes are not in the trace either;
each data octet is written as a dot.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping

from reference_impl.trace import EventKind

__all__ = ["ADDRESSES", "PORTS", "trace_pcap", "scenario_windows"]

ADDRESSES = {"A": (192, 0, 2, 1), "B": (198, 51, 100, 1)}  # RFC 5737 documentation ranges
PORTS = {"A": 49152, "B": 7777}  # an ephemeral client port; a server port no dissector claims
LINKTYPE_RAW = 101  # each frame starts with the IP header
DEFAULT_WINDOW = 65535


def scenario_windows(name: str) -> dict[str, int]:
    """Each endpoint's receive window at the start of a catalogue scenario ("name+lose:A2" too);
    {} when the name is not in the catalogue."""
    from reference_impl import scenarios

    entry = scenarios.CATALOGUE.get(name.split("+", 1)[0])
    return dict(entry.scenario.windows) if entry is not None else {}


def trace_pcap(trace: object, windows: Mapping[str, int] | None = None) -> bytes:
    """The pcap file (libpcap format, microsecond timestamps, raw IPv4) of a Trace's sent segments.

    windows: each endpoint's receive window at the start; by default the catalogue scenario's
    (see `scenario_windows`), else 65,535.
    """
    rows = list(getattr(trace, "rows", trace))
    start = dict(windows) if windows is not None else scenario_windows(getattr(trace, "scenario", "") or "")
    wnd = {ep: start.get(ep, DEFAULT_WINDOW) for ep in ADDRESSES}
    ip_id = dict.fromkeys(ADDRESSES, 0)
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, LINKTYPE_RAW)]
    for r in rows:
        ep = r.endpoint
        if ep not in ADDRESSES:
            continue
        if r.event == EventKind.READ and r.detail.startswith("RCV.WND="):
            wnd[ep] = int(r.detail.removeprefix("RCV.WND="))
        elif r.event == EventKind.REOPEN:
            wnd[ep] = start.get(ep, DEFAULT_WINDOW)
        elif r.event == EventKind.SEND:
            ip_id[ep] = (ip_id[ep] + 1) & 0xFFFF
            # Flags' values are the TCP header's control bits (RFC 9293 §3.1).
            frame = _frame(ep, r.seq or 0, r.ack, int(r.flags or 0), r.len or 0, min(wnd[ep], 0xFFFF), ip_id[ep])
            sec, usec = divmod(int(r.time), 1_000_000)
            out.append(struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame)
    return b"".join(out)


def _frame(ep: str, seq: int, ack: int | None, bits: int, length: int, window: int, ip_id: int) -> bytes:
    peer = "B" if ep == "A" else "A"
    src, dst = bytes(ADDRESSES[ep]), bytes(ADDRESSES[peer])
    payload = b"." * length
    tcp = struct.pack("!HHIIBBHHH", PORTS[ep], PORTS[peer], seq & 0xFFFFFFFF,
                      (ack or 0) & 0xFFFFFFFF, 5 << 4, bits, window, 0, 0) + payload  # fmt: skip
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", internet_checksum(pseudo + tcp)) + tcp[18:]
    # IPv4: version 4, 20-byte header, DF (no fragments), TTL 64, protocol 6 (TCP).
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), ip_id, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", internet_checksum(ip)) + ip[12:]
    return ip + tcp


def internet_checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071): one's complement of the one's-complement sum."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def read_pcap(data: bytes) -> Iterable[tuple[int, bytes]]:
    """(time µs, frame) for each record of a classic pcap: what tests and tools read back."""
    magic, _, _, _, _, _, link = struct.unpack_from("<IHHiIII", data)
    if magic != 0xA1B2C3D4 or link != LINKTYPE_RAW:
        raise ValueError("not a microsecond pcap of raw IP frames")
    pos = 24
    while pos < len(data):
        sec, usec, incl, _ = struct.unpack_from("<IIII", data, pos)
        yield sec * 1_000_000 + usec, data[pos + 16 : pos + 16 + incl]
        pos += 16 + incl
