"""Scenario scripts: a small, packetdrill-inspired text format.

    # A closes, B's FIN is lost once
    profile rfc9293            # or linux
    option time_wait 30s       # any profile field
    channel delay 10ms         # one-way delay
    iss A 100                  # initial sequence numbers
    noread A                   # A's application never reads
    window B 0                 # B's receive window at time 0 (A's SND.WND): 0 holds A's data and FIN
    mss A 536                  # A's segments carry at most 536 bytes
    0      A close             # close | shutdown | shutdown rdwr | abort | write 100 | write "text"
    +50ms  B close             # +t: relative to the previous timed line
    +1s    B read              # B's application reads: RCV.WND opens (read N: to N), announced
    1s     A receives RST seq=301          # inject a crafted segment (FLAGS seq= ack= len= win=; F. = FIN,ACK)
    2s     A receives ACK seq=RCV.NXT+RCV.WND ack=SND.NXT   # fields relative to A's TCB then
    2s     A receives ACK seq=RCV.NXT len=3 tsval=TS.RECENT-1000   # an old timestamp: PAWS refuses it
    3s     A reopen 2000 4000  # a new connection on the 4-tuple: A connects once it is CLOSED
    lose B2                    # B's second segment is lost
    lose B's ACK of A's FIN    # ... or a segment named by what it is (reference_impl.roles)
    duplicate A2 100ms         # arrives twice, the copy 100 ms later
    delay A's last ACK 30ms    # arrives 30 ms late
    expect 0.03 A FIN_WAIT_2   # A's state after everything up to 0.03 s
    expect end B CLOSED

A segment named by role stays on its segment when another is lost ("A's FIN, copy 2" is the
first retransmission of A's FIN, whatever else happened); an ordinal counts every segment.
Errors carry file:line:col, so an author can jump to the mistake.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .inputs import Scenario
from .profiles import Profile
from .script_parser import Parser
from .script_values import Expectation, ScriptError, option_value, parse_duration  # noqa: F401 - re-exported
from .states import State
from .trace import Trace


@dataclass
class Script:
    scenario: Scenario
    profile: Profile
    expectations: list[Expectation] = field(default_factory=list)
    path: str = "<script>"
    fate_lines: dict[str, int] = field(default_factory=dict)  # the segment a fate names ("A2") -> its line

    def check(self, trace: Trace) -> list[str]:
        """The failed expectations, each as 'file:line: expected ..., but ...'."""
        failures = []
        for e in self.expectations:
            got = state_at(trace, e.endpoint, e.time)
            if got is not e.state:
                failures.append(f"{self.path}:{e.line}: expected {e.text()}, but it was {got}")
        return failures

    def warnings(self, trace: Trace) -> list[str]:
        """Each fate no segment of the run met, as 'file:line: lose A9 never happened: A sent 3 ...'.
        Often a miscount that leaves the plain run unremarked; sometimes meant (lose A's answer, if any)."""
        return [f"{self.path}:{self.fate_lines.get(named, '?')}: {kind} {named} never happened: {why}"
                for kind, named, why in trace.unapplied]  # fmt: skip


def state_at(trace: Trace, endpoint: str, time: int | None) -> State:
    """The endpoint's state after every row up to `time` (None: the final state)."""
    state = State.ESTABLISHED
    for r in trace.rows:
        if r.endpoint == endpoint and (time is None or r.time <= time):
            state = r.state_after
    return state


def parse_script(text: str, path: str = "<script>", profile: Profile | None = None) -> Script:
    """Parse a script. `profile` is the default when the script names none."""
    parser = Parser(text, path, profile)
    scenario, profile, expectations = parser.parse()
    return Script(scenario, profile, expectations, path, parser.fate_lines)
