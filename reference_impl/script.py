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
    1s     A receives RST seq=301          # inject a crafted segment (FLAGS seq= ack= len=)
    2s     A receives ACK seq=RCV.NXT+RCV.WND ack=SND.NXT   # fields relative to A's TCB then
    lose B2                    # B's second segment is lost
    duplicate A2 100ms         # arrives twice, the copy 100 ms later
    delay A1 30ms              # arrives 30 ms late
    expect 0.03 A FIN_WAIT_2   # A's state after everything up to 0.03 s
    expect end B CLOSED

Errors carry file:line:col, so an author can jump to the mistake.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields

from .profiles import COUNT_OPTIONS, OPTION_NAMES, RFC9293, Profile, get_profile
from .segment import Flags, Segment
from .sim import VARIABLES, Action, Fate, Inject, Read, Reopen, Scenario, SegmentKey, place
from .states import AppAbort, AppClose, AppSend, State
from .trace import Trace, format_time


class ScriptError(ValueError):
    """A mistake in a script, located as file:line:col."""

    def __init__(self, path: str, line: int, col: int, message: str) -> None:
        self.path, self.line, self.col, self.message = path, line, col, message
        super().__init__(f"{path}:{line}:{col}: {message}")


@dataclass(frozen=True, slots=True)
class Expectation:
    time: int | None  # None: at the end
    endpoint: str
    state: State
    line: int

    def text(self) -> str:
        when = "at the end" if self.time is None else f"at {format_time(self.time)} s"
        return f"{self.endpoint} in {self.state} {when}"


@dataclass
class Script:
    scenario: Scenario
    profile: Profile
    expectations: list[Expectation] = field(default_factory=list)
    path: str = "<script>"

    def check(self, trace: Trace) -> list[str]:
        """The failed expectations, each as 'file:line: expected ..., but ...'."""
        failures = []
        for e in self.expectations:
            got = state_at(trace, e.endpoint, e.time)
            if got != str(e.state):
                failures.append(f"{self.path}:{e.line}: expected {e.text()}, but it was {got}")
        return failures


def state_at(trace: Trace, endpoint: str, time: int | None) -> str:
    """The endpoint's state after every row up to `time` (None: the final state)."""
    state = "ESTABLISHED"
    for r in trace.rows:
        if r.endpoint == endpoint and (time is None or r.time <= time):
            state = r.state_after
    return state


_UNITS = {"us": 1, "µs": 1, "ms": 1000, "s": 1_000_000, "": 1_000_000}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(us|µs|ms|s|)$")
_CALLS = ("close", "shutdown", "abort", "write", "read", "reopen", "receives")
_DIRECTIVES = ("profile", "option", "channel", "iss", "noread", "window", "mss", "lose", "duplicate", "delay",
               "expect")  # fmt: skip
_OPTIONAL = tuple(f.name for f in fields(Profile) if "None" in str(f.type))


def option_value(name: str, text: str) -> object:
    """A profile option's value from text: on/off, a count, a duration, or none."""
    if name not in OPTION_NAMES:
        raise ValueError(f"unknown profile option {name!r}; options: {', '.join(OPTION_NAMES)}")
    if isinstance(getattr(RFC9293, name), bool):
        if text not in ("on", "off", "true", "false"):
            raise ValueError(f"option {name} takes on or off, not {text!r}")
        return text in ("on", "true")
    if name in COUNT_OPTIONS:
        if not text.isdigit():
            raise ValueError(f"option {name} takes a whole number, not {text!r}")
        return int(text)
    if text == "none" and name in _OPTIONAL:
        return None
    if isinstance(getattr(RFC9293, name), str):
        if len(text) < 2 or not text.startswith('"') or not text.endswith('"'):
            raise ValueError(f'option {name} takes a quoted text, e.g. "broken pipe", not {text!r}')
        return text[1:-1]
    return parse_duration(text)


def parse_duration(text: str) -> int:
    """'10ms', '1.5s', '250us', '0' → microseconds."""
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a time (write 0, 10ms, 1.5s or 250us)")
    return int(round(float(m.group(1)) * _UNITS[m.group(2)]))


class _Parser:
    def __init__(self, text: str, path: str, profile: Profile | None) -> None:
        self.text, self.path = text, path
        self.profile = profile
        self.profile_line = 0
        self.options: dict[str, object] = {}
        self.actions: list[Action] = []
        self.fates: dict[SegmentKey, Fate] = {}
        self.expectations: list[Expectation] = []
        self.iss = {"A": 100, "B": 300}
        self.delay = 10_000
        self.reads = {"A": True, "B": True}
        self.windows: dict[str, int] = {}
        self.mss: dict[str, int] = {}
        self.last_time = 0

    def fail(self, line: int, col: int, message: str) -> ScriptError:
        return ScriptError(self.path, line, col, message)

    def parse(self) -> Script:
        for n, raw in enumerate(self.text.splitlines(), start=1):
            body = raw.split("#", 1)[0]
            tokens = [(m.start() + 1, m.group()) for m in re.finditer(r'"[^"]*"?|\S+', body)]
            if tokens:
                self.line(n, tokens)
        profile = self.profile or RFC9293
        if self.options:
            profile = profile.replace(**self.options)
        scenario = Scenario(
            name=self.path, description=f"script {self.path}", actions=tuple(self.actions),
            fates=self.fates, iss_a=self.iss["A"], iss_b=self.iss["B"], delay=self.delay,
            reads=self.reads, windows=self.windows, mss=self.mss,
        )  # fmt: skip
        return Script(scenario, profile, self.expectations, self.path)

    # ---- one line ------------------------------------------------------------------------

    def line(self, n: int, toks: list[tuple[int, str]]) -> None:
        col, word = toks[0]
        if word in _DIRECTIVES:
            getattr(self, f"d_{word}")(n, toks)
        elif word[0].isdigit() or word[0] == "+":
            self.timed(n, toks)
        else:
            known = ", ".join(_DIRECTIVES)
            raise self.fail(
                n, col, f"unknown directive {word!r}; a line starts with a time or one of: {known}"
            )

    def arity(self, n: int, toks, lo: int, hi: int, usage: str) -> None:
        if not lo <= len(toks) <= hi:
            col = toks[min(len(toks), hi)][0] if len(toks) > hi else toks[-1][0] + len(toks[-1][1])
            raise self.fail(n, col, f"expected: {usage}")

    def endpoint(self, n: int, tok: tuple[int, str]) -> str:
        col, word = tok
        if word not in ("A", "B"):
            raise self.fail(n, col, f"unknown endpoint {word!r}; use A (client) or B (server)")
        return word

    def duration(self, n: int, tok: tuple[int, str]) -> int:
        try:
            return parse_duration(tok[1])
        except ValueError as e:
            raise self.fail(n, tok[0], str(e)) from None

    def number(self, n: int, tok: tuple[int, str], what: str, limit: int = 2**32) -> int:
        col, word = tok
        if not word.isdigit() or int(word) >= limit:
            raise self.fail(n, col, f"{what} must be a whole number below {limit}, not {word!r}")
        return int(word)

    def key(self, n: int, tok: tuple[int, str]) -> SegmentKey:
        col, word = tok
        m = re.fullmatch(r"([AB])#?(\d+)", word)
        if not m or int(m.group(2)) < 1:
            raise self.fail(n, col, f"{word!r} is not a segment name like A2 (A's second segment)")
        return m.group(1), int(m.group(2))

    # ---- directives ----------------------------------------------------------------------

    def d_profile(self, n, toks) -> None:
        self.arity(n, toks, 2, 2, "profile rfc9293|linux")
        try:
            self.profile = get_profile(toks[1][1])
        except ValueError as e:
            raise self.fail(n, toks[1][0], str(e)) from None

    def d_option(self, n, toks) -> None:
        self.arity(n, toks, 3, 3, "option FIELD VALUE (e.g. option time_wait 30s)")
        (fcol, name), (vcol, value) = toks[1], toks[2]
        if name not in OPTION_NAMES:
            raise self.fail(n, fcol, f"unknown profile option {name!r}; options: {', '.join(OPTION_NAMES)}")
        try:
            self.options[name] = option_value(name, value)
        except ValueError as e:
            raise self.fail(n, vcol, str(e)) from None

    def d_channel(self, n, toks) -> None:
        self.arity(n, toks, 3, 3, "channel delay DURATION")
        if toks[1][1] != "delay":
            raise self.fail(n, toks[1][0], "the only channel setting is 'delay'")
        self.delay = self.duration(n, toks[2])

    def d_iss(self, n, toks) -> None:
        self.arity(n, toks, 3, 3, "iss A|B NUMBER")
        self.iss[self.endpoint(n, toks[1])] = self.number(n, toks[2], "a sequence number")

    def d_noread(self, n, toks) -> None:
        self.arity(n, toks, 2, 2, "noread A|B")
        self.reads[self.endpoint(n, toks[1])] = False

    def d_window(self, n, toks) -> None:
        self.arity(n, toks, 3, 3, "window A|B BYTES (its receive window at time 0; 0 holds the peer's data and FIN)")
        self.windows[self.endpoint(n, toks[1])] = self.number(n, toks[2], "a window", 65536)

    def d_mss(self, n, toks) -> None:
        self.arity(n, toks, 3, 3, "mss A|B BYTES (the most data one of its segments carries)")
        ep = self.endpoint(n, toks[1])
        value = self.number(n, toks[2], "an MSS", 65536)
        if value == 0:
            raise self.fail(n, toks[2][0], "an MSS must be at least 1 byte")
        self.mss[ep] = value

    def d_lose(self, n, toks) -> None:
        self.arity(n, toks, 2, 2, "lose A2")
        self.fates[self.key(n, toks[1])] = Fate("lose")

    def d_duplicate(self, n, toks) -> None:
        self.arity(n, toks, 2, 3, "duplicate A2 [GAP]")
        gap = self.duration(n, toks[2]) if len(toks) == 3 else 0
        self.fates[self.key(n, toks[1])] = Fate("duplicate", gap)

    def d_delay(self, n, toks) -> None:
        self.arity(n, toks, 3, 3, "delay A2 EXTRA")
        self.fates[self.key(n, toks[1])] = Fate("delay", self.duration(n, toks[2]))

    def d_expect(self, n, toks) -> None:
        self.arity(n, toks, 4, 4, "expect TIME|end A|B STATE")
        when = None if toks[1][1] == "end" else self.duration(n, toks[1])
        ep = self.endpoint(n, toks[2])
        col, name = toks[3]
        try:
            state = State[name.upper().replace("-", "_")]
        except KeyError:
            names = ", ".join(s.name for s in State)
            raise self.fail(n, col, f"unknown state {name!r}; states: {names}") from None
        self.expectations.append(Expectation(when, ep, state, n))

    # ---- timed lines: application calls and injected segments -----------------------------

    def timed(self, n: int, toks) -> None:
        col, word = toks[0]
        rel = word.startswith("+")
        t = self.duration(n, (col + rel, word[1:] if rel else word))
        t = self.last_time + t if rel else t
        if t < self.last_time:
            raise self.fail(
                n, col, f"time goes backwards ({format_time(t)} s after {format_time(self.last_time)} s)"
            )
        self.last_time = t
        if len(toks) < 3:
            raise self.fail(
                n, col + len(word) + 1, "expected: TIME A|B close|shutdown|abort|write N|read|reopen|receives"
            )
        ep = self.endpoint(n, toks[1])
        ccol, call = toks[2]
        args = toks[3:]
        if call == "shutdown":
            self.arity(n, toks, 3, 4, f"TIME {ep} shutdown   or   TIME {ep} shutdown rdwr")
            if args and args[0][1] not in ("wr", "rdwr"):
                raise self.fail(n, args[0][0], f"shutdown takes wr or rdwr, not {args[0][1]!r}")
            stim = AppClose(shutdown=True, rdwr=bool(args) and args[0][1] == "rdwr")
        elif call in ("close", "abort"):
            self.arity(n, toks, 3, 3, f"TIME {ep} {call}")
            stim = {"close": AppClose(), "abort": AppAbort()}[call]
        elif call == "read":
            self.arity(n, toks, 3, 4, f"TIME {ep} read   or   TIME {ep} read WINDOW")
            stim = Read(self.number(n, args[0], "a window", 65536)) if args else Read()
        elif call == "write":
            self.arity(n, toks, 4, 4, 'TIME A write 100   or   TIME A write "text"')
            acol, arg = args[0]
            if arg.startswith('"'):
                if len(arg) < 2 or not arg.endswith('"'):
                    raise self.fail(n, acol, "unterminated string")
                stim = AppSend(arg[1:-1].encode())
            else:
                stim = AppSend(b"x" * self.number(n, args[0], "the byte count", 1 << 20))
        elif call == "reopen":
            self.arity(n, toks, 5, 5, "TIME A reopen ISS_A ISS_B")
            stim = Reopen(self.number(n, args[0], "ISS_A"), self.number(n, args[1], "ISS_B"))
        elif call == "receives":
            stim = self.segment(n, args, ccol + len(call) + 1)
        else:
            raise self.fail(n, ccol, f"unknown call {call!r}; use one of: {', '.join(_CALLS)}")
        self.actions.append(Action(t, ep, stim))

    def segment(self, n: int, args, col: int) -> Inject:
        if not args:
            raise self.fail(n, col, "expected: receives FLAGS seq=N [ack=N] [len=N]")
        fcol, ftext = args[0]
        try:
            flags = Flags.parse(ftext)
        except ValueError as e:
            raise self.fail(n, fcol, str(e)) from None
        values: dict[str, int | None] = {"seq": None, "ack": 0, "len": 0}
        at: list[tuple[str, str]] = []
        for acol, a in args[1:]:
            name, _, value = a.partition("=")
            if name not in values or not value:
                raise self.fail(n, acol, f"expected seq=N, ack=N or len=N, not {a!r}")
            if name != "len" and not value.isdigit():
                try:  # relative to the receiver's TCB when it arrives, e.g. seq=RCV.NXT+RCV.WND
                    place(value, lambda _name: 0)
                except ValueError:
                    raise self.fail(n, acol + len(name) + 1, f"{name} must be a whole number or a sum like "
                                    f"RCV.NXT+RCV.WND-1 (names: {', '.join(VARIABLES)}), not {value!r}") from None
                values[name] = 0
                at.append((name, value))
                continue
            values[name] = self.number(n, (acol + len(name) + 1, value), name)
        if values["seq"] is None:
            raise self.fail(n, fcol, "an injected segment needs seq=N (or seq=RCV.NXT and the like)")
        seg = Segment(seq=values["seq"], ack=values["ack"], flags=flags, payload=b"x" * values["len"])
        return Inject(seg, tuple(at))


def parse_script(text: str, path: str = "<script>", profile: Profile | None = None) -> Script:
    """Parse a script. `profile` is the default when the script names none."""
    return _Parser(text, path, profile).parse()
