"""The values a scenario script's lines hold: durations, profile options, segment names, and
the expectations; and the error every mistake in a script becomes (file:line:col)."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

from .profiles import COUNT_OPTIONS, OPTION_NAMES, RFC9293, Profile
from .states import State, format_time


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


_UNITS = {"us": 1, "µs": 1, "ms": 1000, "s": 1_000_000, "": 1_000_000}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?|\.\d+)(us|µs|ms|s|)$")  # ".01" too, as packetdrill writes it
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
