"""Reading a scenario script line by line (the format: `reference_impl.script`).

Directives set up the run (profile, options, channel, numbers, windows, fates, expectations);
timed lines are application calls and crafted segments. Every mistake is a ScriptError at the
line and column where it is, with what to write instead.
"""

from __future__ import annotations

import re

from .inputs import VARIABLES, Action, AppCall, Fate, FateKey, Inject, Read, Reopen, Scenario, place
from .profiles import OPTION_NAMES, RFC9293, Profile, get_profile
from .roles import key_text, parse_segment_key
from .script_values import Expectation, ScriptError, option_value, parse_duration
from .segment import Flags, Segment
from .states import AppAbort, AppClose, AppSend, State, format_time

CALLS = ("close", "shutdown", "abort", "write", "read", "reopen", "receives")
Tokens = list[tuple[int, str]]  # a line's words, each with the column it starts at
DIRECTIVES = ("profile", "option", "channel", "iss", "noread", "window", "mss", "lose", "duplicate", "delay",
              "expect")  # fmt: skip


class Parser:
    def __init__(self, text: str, path: str, profile: Profile | None) -> None:
        self.text, self.path = text, path
        self.profile = profile
        self.profile_line = 0
        self.options: dict[str, object] = {}
        self.actions: list[Action] = []
        self.fates: dict[FateKey, Fate] = {}
        self.fate_lines: dict[str, int] = {}  # the segment a fate names ("A2", "B's FIN") -> its line
        self.uses_ts_recent: tuple[int, int] | None = None  # (line, col) of the first crafted segment that does
        self.expectations: list[Expectation] = []
        self.iss = {"A": 100, "B": 300}
        self.delay = 10_000
        self.reads = {"A": True, "B": True}
        self.windows: dict[str, int] = {}
        self.mss: dict[str, int] = {}
        self.last_time = 0

    def fail(self, line: int, col: int, message: str) -> ScriptError:
        return ScriptError(self.path, line, col, message)

    def parse(self) -> tuple[Scenario, Profile, list[Expectation]]:
        for n, raw in enumerate(self.text.splitlines(), start=1):
            body = raw.split("#", 1)[0]
            tokens = [(m.start() + 1, m.group()) for m in re.finditer(r'"[^"]*"?|\S+', body)]
            if tokens:
                self.line(n, tokens)
        profile = self.profile or RFC9293
        if self.options:
            profile = profile.replace(**self.options)
        if self.uses_ts_recent and not profile.timestamps:
            raise self.fail(*self.uses_ts_recent, f"TS.RECENT needs timestamps, which {profile.name} has off "
                                                  "(option timestamps on, or profile linux)")  # fmt: skip
        scenario = Scenario(
            name=self.path, description=f"script {self.path}", actions=tuple(self.actions),
            fates=self.fates, iss_a=self.iss["A"], iss_b=self.iss["B"], delay=self.delay,
            reads=self.reads, windows=self.windows, mss=self.mss,
        )  # fmt: skip
        return scenario, profile, self.expectations

    # ---- one line ------------------------------------------------------------------------

    def line(self, n: int, toks: Tokens) -> None:
        col, word = toks[0]
        if word in DIRECTIVES:
            getattr(self, f"d_{word}")(n, toks)
        elif word[0].isdigit() or word[0] == "+":
            self.timed(n, toks)
        else:
            known = ", ".join(DIRECTIVES)
            raise self.fail(n, col, f"unknown directive {word!r}; a line starts with a time or one of: {known}")

    def arity(self, n: int, toks: Tokens, lo: int, hi: int, usage: str) -> None:
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

    def key(self, n: int, toks: Tokens) -> FateKey:
        """A segment named by ordinal (A2) or by role (A's FIN, B's ACK of A's FIN, copy 2)."""
        col, text = toks[0][0], " ".join(word for _, word in toks)
        try:
            return parse_segment_key(text)
        except ValueError as e:
            raise self.fail(n, col, str(e)) from None

    # ---- directives ----------------------------------------------------------------------

    def d_profile(self, n: int, toks: Tokens) -> None:
        self.arity(n, toks, 2, 2, "profile rfc9293|linux")
        if self.profile_line:
            raise self.fail(n, toks[0][0], f"the profile is already chosen on line {self.profile_line}; a script "
                                           "runs under one profile")  # fmt: skip
        self.profile_line = n
        try:
            self.profile = get_profile(toks[1][1])
        except ValueError as e:
            raise self.fail(n, toks[1][0], str(e)) from None

    def d_option(self, n: int, toks: Tokens) -> None:
        self.arity(n, toks, 3, 3, "option FIELD VALUE (e.g. option time_wait 30s)")
        (fcol, name), (vcol, value) = toks[1], toks[2]
        if name not in OPTION_NAMES:
            raise self.fail(n, fcol, f"unknown profile option {name!r}; options: {', '.join(OPTION_NAMES)}")
        try:
            self.options[name] = option_value(name, value)
        except ValueError as e:
            raise self.fail(n, vcol, str(e)) from None

    def d_channel(self, n: int, toks: Tokens) -> None:
        self.arity(n, toks, 3, 3, "channel delay DURATION")
        if toks[1][1] != "delay":
            raise self.fail(n, toks[1][0], "the only channel setting is 'delay'")
        self.delay = self.duration(n, toks[2])

    def d_iss(self, n: int, toks: Tokens) -> None:
        self.arity(n, toks, 3, 3, "iss A|B NUMBER")
        self.iss[self.endpoint(n, toks[1])] = self.number(n, toks[2], "a sequence number")

    def d_noread(self, n: int, toks: Tokens) -> None:
        self.arity(n, toks, 2, 2, "noread A|B")
        self.reads[self.endpoint(n, toks[1])] = False

    def d_window(self, n: int, toks: Tokens) -> None:
        self.arity(n, toks, 3, 3, "window A|B BYTES (its receive window at time 0; 0 holds the peer's data and FIN)")
        self.windows[self.endpoint(n, toks[1])] = self.number(n, toks[2], "a window", 65536)

    def d_mss(self, n: int, toks: Tokens) -> None:
        self.arity(n, toks, 3, 3, "mss A|B BYTES (the most data one of its segments carries)")
        ep = self.endpoint(n, toks[1])
        value = self.number(n, toks[2], "an MSS", 65536)
        if value == 0:
            raise self.fail(n, toks[2][0], "an MSS must be at least 1 byte")
        self.mss[ep] = value

    def d_lose(self, n: int, toks: Tokens) -> None:
        self.arity(n, toks, 2, 12, "lose A2   or   lose A's FIN   or   lose B's ACK of A's FIN, copy 2")
        self.fate(n, toks[1:], Fate("lose"))

    def d_duplicate(self, n: int, toks: Tokens) -> None:
        self.arity(n, toks, 2, 13, "duplicate A2 [GAP]   or   duplicate B's FIN [GAP]")
        try:
            gap, named = parse_duration(toks[-1][1]), toks[1:-1]
        except ValueError:
            gap, named = 0, toks[1:]
        if not named:
            raise self.fail(n, toks[1][0], "expected: duplicate A2 [GAP] (which segment, then the copy's gap)")
        self.fate(n, named, Fate("duplicate", gap))

    def d_delay(self, n: int, toks: Tokens) -> None:
        self.arity(n, toks, 3, 13, "delay A2 EXTRA   or   delay A's last ACK EXTRA")
        self.fate(n, toks[1:-1], Fate("delay", self.duration(n, toks[-1])))

    def fate(self, n: int, named: Tokens, fate: Fate) -> None:
        """One fate per segment: a second would silently replace the first."""
        key = self.key(n, named)
        if key in self.fates:
            raise self.fail(n, named[0][0], f"{key_text(key)} already has a fate (line {self.fate_lines[key_text(key)]}): "
                                            "a segment takes one fate: lost, duplicated or delayed")  # fmt: skip
        self.fates[key] = fate
        self.fate_lines[key_text(key)] = n

    def d_expect(self, n: int, toks: Tokens) -> None:
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

    def timed(self, n: int, toks: Tokens) -> None:
        col, word = toks[0]
        t = self.line_time(n, toks[0])
        if len(toks) < 3:
            raise self.fail(
                n, col + len(word) + 1, "expected: TIME A|B close|shutdown|abort|write N|read|reopen|receives"
            )
        ep = self.endpoint(n, toks[1])
        self.actions.append(Action(t, ep, self.app_call(n, toks, ep)))

    def line_time(self, n: int, tok: tuple[int, str]) -> int:
        """A line's time, absolute or +relative to the line before; it may not go backwards."""
        col, word = tok
        rel = word.startswith("+")
        t = self.duration(n, (col + rel, word[1:] if rel else word))
        t = self.last_time + t if rel else t
        if t < self.last_time:
            raise self.fail(n, col, f"time goes backwards ({format_time(t)} s after {format_time(self.last_time)} s)")
        self.last_time = t
        return t

    def app_call(self, n: int, toks: Tokens, ep: str) -> AppCall:
        """The application call (or injected segment) named by a timed line's third word."""
        ccol, call = toks[2]
        args = toks[3:]
        stim: AppCall
        if call == "shutdown":
            self.arity(n, toks, 3, 4, f"TIME {ep} shutdown   or   TIME {ep} shutdown rdwr")
            if args and args[0][1] not in ("wr", "rdwr"):
                raise self.fail(n, args[0][0], f"shutdown takes wr or rdwr, not {args[0][1]!r}")
            stim = AppClose(shutdown=True, rdwr=bool(args) and args[0][1] == "rdwr")
        elif call in ("close", "abort"):
            self.arity(n, toks, 3, 3, f"TIME {ep} {call}")
            stim = AppClose() if call == "close" else AppAbort()
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
            raise self.fail(n, ccol, f"unknown call {call!r}; use one of: {', '.join(CALLS)}")
        return stim

    def segment(self, n: int, args: Tokens, col: int) -> Inject:
        if not args:
            raise self.fail(n, col, "expected: receives FLAGS seq=N [ack=N] [len=N] [win=N] [tsval=N]")
        fcol, ftext = args[0]
        try:
            flags = Flags.parse(ftext)
        except ValueError as e:
            raise self.fail(n, fcol, str(e)) from None
        values: dict[str, int] = {}  # the fields given; ack and len default to 0, tsval to none
        at: list[tuple[str, str]] = []
        for acol, a in args[1:]:
            name, _, value = a.partition("=")
            if name not in ("seq", "ack", "len", "win", "tsval") or not value:
                raise self.fail(n, acol, f"expected seq=N, ack=N, len=N, win=N or tsval=N, not {a!r}")
            if name == "win":
                values[name] = self.number(n, (acol + 4, value), "a window", 65536)
                continue
            if name != "len" and not value.isdigit():
                try:  # relative to the receiver's TCB when it arrives, e.g. seq=RCV.NXT+RCV.WND
                    place(value, lambda _name: 0)
                except ValueError:
                    raise self.fail(
                        n,
                        acol + len(name) + 1,
                        f"{name} must be a whole number or a sum like "
                        f"RCV.NXT+RCV.WND-1 (names: {', '.join(VARIABLES)}), not {value!r}",
                    ) from None
                values[name] = 0
                at.append((name, value))
                continue
            values[name] = self.number(n, (acol + len(name) + 1, value), name)
        if "seq" not in values:
            raise self.fail(n, fcol, "an injected segment needs seq=N (or seq=RCV.NXT and the like)")
        seq, ack, length = values["seq"], values.get("ack", 0), values.get("len", 0)
        seg = Segment(seq=seq, ack=ack, flags=flags, payload=b"x" * length, tsval=values.get("tsval"),
                      window=values.get("win", 65535))  # fmt: skip
        if any("TS.RECENT" in e.upper() for _, e in at):
            self.uses_ts_recent = self.uses_ts_recent or (n, fcol)
        return Inject(seg, tuple(at), where=f"{self.path}:{n}:{fcol}")
