"""`tcpclose`: the course's command line.

Exit codes: 0 ok, 1 a check or expectation failed, 2 bad input (and never a traceback).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reference_impl import scenarios
from reference_impl.profiles import PROFILES, get_profile
from reference_impl.script import ScriptError, option_value, parse_script
from reference_impl.sim import simulate
from reference_impl.trace import APP_CALLS, Trace, format_time

from .harness import LearnerError
from .reference_source import ReferenceUnavailable, reference_machine, reference_trace

OK, FAILED, BAD_INPUT = 0, 1, 2


class BadInput(Exception):
    """A mistake in what the user asked for: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own errors also exit 2, with usage
        self.print_usage(sys.stderr)
        raise BadInput(f"{self.prog}: {message}")


def render(trace: Trace, fmt: str) -> str:
    if fmt == "csv":
        return trace.to_csv()
    if fmt == "json":
        return trace.to_json() + "\n"
    return table(trace)


def table(trace: Trace) -> str:
    """A readable text table: time, who, what, state change, segment."""
    lines = [f"{trace.scenario} ({trace.profile})"]
    for r in trace.rows:
        change = str(r.state_before) if r.state_before is r.state_after else f"{r.state_before} → {r.state_after}"
        what = r.detail if r.event not in APP_CALLS else r.detail or ""
        fate = f" [{r.fate}]" if r.fate and r.fate != "delivered" else ""
        lines.append(f"{format_time(r.time):>10}  {r.endpoint}  {r.event:<8} {change:<26} {what}{fate}")
    lines += [f"note: {n}" for n in trace.notes]
    return "\n".join(lines) + "\n"


def cmd_scenarios(args) -> int:
    width = max(map(len, scenarios.CATALOGUE))
    for name, entry in scenarios.CATALOGUE.items():
        print(f"{name:<{width}}  {entry.scenario.description}")
    return OK


def _fates(keys: list[str]) -> dict:
    try:
        return scenarios.losses(keys)
    except ValueError as e:
        raise BadInput(str(e)) from None


def _profile(name: str, settings: list[str]):
    """--profile plus --set NAME=VALUE changes, e.g. --set time_wait=0 --set rfc1337=on."""
    changes = {}
    for item in settings:
        key, sep, value = item.partition("=")
        if not sep:
            raise BadInput(f"--set takes NAME=VALUE (e.g. time_wait=0), not {item!r}")
        try:
            changes[key.strip()] = option_value(key.strip(), value.strip())
        except ValueError as e:
            raise BadInput(f"--set {item}: {e}") from None
    base = get_profile(name)
    return base.replace(**changes) if changes else base


def cmd_simulate(args) -> int:
    try:
        scenarios.get(args.name)
    except ValueError as e:
        raise BadInput(str(e)) from None
    _fates(args.lose)  # a wrong segment name is bad input before anything runs
    try:
        if args.wrap:  # the grader's wrap-around variant: both ends' FINs on 2**32 - 1
            from autograder.checks.scenario_cases import as_fates, reference_run, resolve

            sc, profile, _, _ = resolve(args.name, _profile(args.profile, args.set), as_fates(args.lose), wrap=True)
            trace = reference_run(sc, profile).trace
        else:
            trace = reference_trace(args.name, _profile(args.profile, args.set), args.lose)
    except (ValueError, ReferenceUnavailable) as e:
        raise BadInput(str(e)) from None
    for kind, named, why in trace.unapplied:
        print(f"warning: --{kind} {named} never happened: {why}", file=sys.stderr)
    if args.format == "pcap" or args.output:
        return _write(trace, args.format, args.output)
    sys.stdout.write(render(trace, args.format))
    return OK


def _write(trace: Trace, fmt: str, output: str | None) -> int:
    """The trace to a file (-o) or stdout; a pcap (for Wireshark) is bytes, never sent to a terminal."""
    from autograder.pcap import trace_pcap

    data = trace_pcap(trace) if fmt == "pcap" else render(trace, fmt).encode()
    if output:
        try:
            Path(output).write_bytes(data)
        except OSError as e:
            raise BadInput(f"{output}: cannot write it ({e.strerror})") from None
        return OK
    if sys.stdout.isatty():
        raise BadInput("a pcap is binary: write it to a file with -o FILE (or redirect the output to one)")
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
    return OK


def cmd_run(args) -> int:
    path = Path(args.script)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise BadInput(f"{path}: cannot read the script ({e.strerror if isinstance(e, OSError) else e})") from None
    try:
        script = parse_script(text, str(path), get_profile(args.profile) if args.profile else None)
    except ScriptError as e:
        raise BadInput(str(e)) from None
    except ValueError as e:  # e.g. a profile option out of range
        raise BadInput(f"{path}: {e}") from None
    try:
        trace = simulate(script.scenario, script.profile, reference_machine())
    except ValueError as e:  # a scenario the network model cannot carry out, e.g. a delay past MSL
        raise BadInput(str(e) if str(e).startswith(f"{path}:") else f"{path}: {e}") from None
    except (ReferenceUnavailable, LearnerError):  # a learner build: only the catalogue's runs are recorded
        raise BadInput(
            f"{path}: a script needs the reference itself, which this learner build does not hold; "
            "run it with the full package (the catalogue's scenarios work here: tcpclose simulate)"
        ) from None
    sys.stdout.write(render(trace, args.format))
    for w in script.warnings(trace):
        print(f"warning: {w}", file=sys.stderr)
    failures = script.check(trace)
    for f in failures:
        print(f"FAILED {f}", file=sys.stderr)
    if script.expectations and not failures:
        print(f"ok: {len(script.expectations)} expectations met", file=sys.stderr)
    return FAILED if failures else OK


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="tcpclose", description="TCP goodbye: simulate, check and grade TCP connection termination.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    s = sub.add_parser("scenarios", help="list the scenario catalogue")
    s.set_defaults(func=cmd_scenarios)

    fmt = dict(choices=("table", "csv", "json"), default="table", help="output format (default: table)")
    s = sub.add_parser("simulate", help="simulate a catalogue scenario")
    s.add_argument("name", help="scenario name (see: tcpclose scenarios)")
    s.add_argument("--profile", choices=sorted(PROFILES), default="rfc9293")
    s.add_argument("--format", **{**fmt, "choices": (*fmt["choices"], "pcap"),
                                  "help": "output format (default: table; pcap: for Wireshark)"})  # fmt: skip
    s.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of the standard output")
    s.add_argument("--lose", action="append", default=[], metavar="SEG", help="also lose this segment, e.g. A3")
    s.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE",
        help="change a profile option, e.g. time_wait=0 or rfc1337=on",
    )  # fmt: skip
    s.add_argument(
        "--wrap",
        action="store_true",
        help="move both ends' sequence numbers so their FINs sit on 2**32 - 1 (they wrap to 0)",
    )
    s.set_defaults(func=cmd_simulate)

    s = sub.add_parser("run", help="run a scenario script and check its expectations")
    s.add_argument("script", help="path to a .script file")
    s.add_argument("--profile", choices=sorted(PROFILES), help="default profile if the script names none")
    s.add_argument("--format", **fmt)
    s.set_defaults(func=cmd_run)

    for register in _plugins():
        register(sub)
    return p


def _plugins():
    """Subcommands that drive the grading pipeline (they import nbgrader only when run); a learner
    build has no grading pipeline, and no such subcommands."""
    try:
        from autograder.grading_commands import register
    except ImportError:
        return []
    return [register]


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except BadInput as e:
        print(f"error: {e}" if not str(e).startswith("tcpclose") else str(e), file=sys.stderr)
        return BAD_INPUT
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return OK


if __name__ == "__main__":
    sys.exit(main())
