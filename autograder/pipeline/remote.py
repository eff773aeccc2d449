"""The grader's side of the runner: a submission's cells run in the sandbox, its handlers called from here.

`RunnerSession` starts the runner (autograder.runner) through the sandbox and keeps it going:
a cell that hangs (even ignoring interrupts) or kills the runner costs that cell only: the
runner is restarted, the cells that ran before are replayed (their outputs discarded), that
cell is skipped, and grading goes on. At a test cell's place, `machine()` gives a LearnerMachine
whose handlers are proxies: each call crosses the pipe as plain data (renumbered on the way,
autograder.pipeline.renumber, so no recorded table answers it), is answered within a
deadline kept on this side, and is decoded strictly (autograder.plain) into a real Step. A call
that hangs or crashes the runner fails, and so does that handler for the rest of the grading
point. Handlers are pure by contract, so identical calls within one grading point are asked once.

Everything the runner says is checked and bounded; what it reports seeing, and anything odd
about the conversation itself, becomes a flag for the instructor, never a score.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from autograder import plain
from autograder.harness import LearnerError, LearnerMachine, Limits
from autograder.pipeline import renumber
from autograder.runner import COMMAND
from autograder.runner.channel import ChannelClosed, ChannelTimeout, ProtocolError
from autograder.sandbox import Confined, SandboxError, SandboxPolicy, start
from reference_impl.profiles import Profile
from reference_impl.states import State, Step, Stimulus
from reference_impl.tcb import TCB

REFUSAL_KINDS = ("exception", "return", "frozen", "timeout", "output", "missing", "protocol")
BATCH = 400  # calls per message of a prefetched battery (well under the message size limit)


@dataclass(frozen=True)
class RunnerLimits:
    """Time and size limits on the learner's side of grading (seconds, characters)."""

    cell: float = 60.0  # one non-test cell
    grace: float = 2.0  # past a limit before the runner is killed rather than trusted to stop
    per_call: float = 1.0  # one handler call
    call_output: int = 20_000  # what one handler call may print
    output: int = 100_000  # what one cell may show
    start: float = 30.0  # the runner up and ready
    restarts: int = 10  # per notebook; then the remaining cells are not run
    batch: float = 5.0  # seconds a prefetched battery may take in the runner; the rest is asked one by one


@dataclass
class Flag:
    """Something seen that the instructor should know; it never changes a score."""

    kind: str  # seen | displayed | protocol | replay | tampered | saved-output
    cell: str  # grade_id or "cell N"
    text: str

    def as_dict(self) -> dict:
        return {"kind": self.kind, "cell": self.cell, "text": self.text}


@dataclass
class Ran:
    """One non-test cell: its outputs, and how it ended: ok, error, timeout (killed), died, not-run."""

    outputs: list[dict]
    status: str
    note: str = ""


@dataclass
class _Point:
    """One grading point (a test cell's place): the handlers there and the answers so far."""

    cell: int
    grade_id: str
    handlers: dict[State, tuple[str, bool]] = field(default_factory=dict)
    answers: dict[tuple, Step | LearnerError] = field(default_factory=dict)
    broken: dict[State, LearnerError] = field(default_factory=dict)


class RunnerSession:
    """One notebook's runner, restarted and replayed as needed."""

    def __init__(self, policy: Callable[[], SandboxPolicy], watch: tuple[str, ...], limits: RunnerLimits,
                 starter: Callable[[SandboxPolicy], Confined] | None = None) -> None:  # fmt: skip
        self.policy, self.watch, self.limits = policy, watch, limits
        self.starter = starter  # forks the runner from a fork server; None: the launcher execs a fresh one
        self.confined: Confined | None = None
        self.history: list[tuple[int, str, bool]] = []  # cells that ran to completion: replayed after a restart
        self.flags: list[Flag] = []
        self.sandbox: dict = {"achieved": [], "missing": {}}
        self.restarts = 0
        self.point: _Point | None = None
        self.pending: list[tuple] = []  # calls to ask in one go once the handlers are seen answering
        self._pending_hits = 0
        self._ids = 0
        self.calls = 0
        self.started = False
        # Answers stay valid from one test cell to the next while no cell runs in between
        # (nothing can have changed the handlers or what they use): one memo per such stretch.
        self._memo: dict[tuple, Step | LearnerError] = {}
        self._memo_epoch = 0
        self.epoch = 0
        self.start_error = ""  # why the very first start failed: the submission could not be graded

    # ---- the process -------------------------------------------------------------------------

    def _start(self) -> Confined:
        policy = self.policy()
        if self.starter is not None:
            confined = self.starter(policy)
        else:
            confined = start(policy, [policy.python, *COMMAND], timeout=self.limits.start)
        self.sandbox = {"achieved": confined.achieved, "missing": confined.missing}
        confined.channel.send({"op": "hello", "watch": list(self.watch), "per_call": self.limits.per_call,
                               "call_output": self.limits.call_output, "output": self.limits.output})  # fmt: skip
        self._expect(confined, "ready", time.monotonic() + self.limits.start, "starting")
        return confined

    def _alive(self) -> Confined:
        """The runner, started or restarted (and replayed up to where grading is) if need be."""
        if self.confined is not None:
            return self.confined
        if self.restarts > self.limits.restarts:
            raise RunnerGone(f"the runner was restarted {self.limits.restarts} times; the rest is not run")
        try:
            self.confined = self._start()
        except (SandboxError, ChannelClosed, ChannelTimeout, ProtocolError) as e:
            self._stop()
            why = f"the grading sandbox could not start ({type(e).__name__}: {e})"
            if not self.started:
                self.start_error = why
            self.restarts = self.limits.restarts + 1  # do not try again for every cell
            raise RunnerGone(why) from None
        self.started = True
        replay, self.history = self.history, []
        for index, source, trusted in replay:
            ran = self._run(index, source, trusted, replaying=True)
            if ran.status in ("timeout", "died"):
                self.flags.append(
                    Flag(
                        "replay",
                        f"cell {index + 1}",
                        f"cell {index + 1} ran before but {ran.note} "
                        "when run again after a restart; it was left out from then on",
                    )
                )
                return self._alive()
        if self.point is not None:  # a restart in the middle of a grading point: find its handlers again
            self._test(self.point, replaying=True)
        return self.confined  # type: ignore[return-value]

    def _stop(self) -> None:
        if self.confined is not None:
            self.confined.kill()
            self.confined = None

    def _lost(self) -> None:
        """The runner hung, died or garbled the conversation: kill it; the next request restarts it."""
        self._stop()
        self.restarts += 1

    def close(self) -> None:
        if self.confined is not None:
            try:
                self.confined.channel.send({"op": "bye"})
            except ChannelClosed:
                pass
            if self.confined.wait(2.0) is None:
                self.confined.kill()
            self.confined = None

    def _expect(self, confined: Confined, op: str, deadline: float, doing: str, ident: object = None,
                cell: int | None = None) -> dict:  # fmt: skip
        """The next frame answering `op` (for call `ident`, or cell `cell`); anything else in between
        is flagged and dropped."""
        while True:
            frame = confined.channel.recv(deadline)
            if not isinstance(frame, dict):
                raise ProtocolError("a frame that is not a record")
            got = frame.get("op")
            if got == op or (op == "step" and got == "refused"):
                if (ident is None or frame.get("id") == ident) and (cell is None or frame.get("cell") == cell):
                    return frame
            self.flags.append(Flag("protocol", doing, f"the runner sent an unexpected message while {doing} "
                                   f"({str(got)[:40]!r}); it was ignored"))  # fmt: skip

    def _seen(self, frame: dict, where: str) -> None:
        seen = frame.get("seen")
        if not isinstance(seen, list):
            return
        for item in seen[:40]:
            if isinstance(item, dict) and isinstance(item.get("what"), str):
                detail = item.get("detail") if isinstance(item.get("detail"), str) else ""
                text = item["what"][:200] + (f" ({detail[:200]})" if detail else "")
                if not any(f.kind == "seen" and f.text == text for f in self.flags):
                    self.flags.append(Flag("seen", where, text))

    # ---- cells -------------------------------------------------------------------------------

    def run(self, index: int, source: str, trusted: bool = False) -> Ran:
        """Run one non-test cell; a hang or a crash costs this cell and nothing else."""
        self.epoch += 1
        try:
            self._alive()
        except RunnerGone as e:
            return Ran([], "not-run", str(e))
        return self._run(index, source, trusted)

    def _run(self, index: int, source: str, trusted: bool, replaying: bool = False) -> Ran:
        confined = self.confined
        assert confined is not None
        timeout = self.limits.cell
        try:
            confined.channel.send(
                {"op": "run", "cell": index, "source": source, "timeout": timeout, "trusted": trusted}
            )
            frame = self._expect(confined, "ran", time.monotonic() + timeout + self.limits.grace, f"cell {index + 1}",
                                 cell=index)  # fmt: skip
        except ChannelTimeout:
            self._lost()
            return Ran([], "timeout", f"ran past its time limit ({timeout:g} s) and did not stop when interrupted")
        except ChannelClosed:
            code = confined.wait(2.0)
            self._lost()
            return Ran([], "died", "stopped the grading process" + (f" (exit status {code})" if code else ""))
        except ProtocolError as e:
            self._lost()
            self.flags.append(Flag("protocol", f"cell {index + 1}", f"the runner's answer was garbled ({e})"))
            return Ran([], "died", "garbled the conversation with the grader")
        self.history.append((index, source, trusted))
        if replaying:
            return Ran([], "ok")
        self._seen(frame, f"cell {index + 1}")
        outputs = frame.get("outputs") if isinstance(frame.get("outputs"), list) else []
        timed_out = any(isinstance(o, dict) and o.get("ename") == "CellTimeoutError" for o in outputs)
        status = "timeout-interrupted" if timed_out else ("error" if frame.get("failed") is True else "ok")
        return Ran(outputs, status)

    # ---- grading points ----------------------------------------------------------------------

    def test(self, index: int, grade_id: str) -> tuple[LearnerMachine, list[dict]]:
        """At a test cell's place: the learner's machine there, and whatever their hooks displayed."""
        if self._memo_epoch != self.epoch:
            self._memo, self._memo_epoch = {}, self.epoch
        self.point = _Point(index, grade_id, answers=self._memo)
        self.pending, self._pending_hits = [], 0
        try:
            self._alive()
            outputs = self._test(self.point)
        except RunnerGone as e:
            self.point.handlers = {}
            return LearnerMachine({}, frozenset(), None, f"your notebook could not be run up to here ({e})"), []
        return self.machine(), outputs

    def _test(self, point: _Point, replaying: bool = False) -> list[dict]:
        confined = self.confined
        assert confined is not None
        try:
            confined.channel.send({"op": "test", "cell": point.cell, "grade_id": point.grade_id})
            frame = self._expect(confined, "test", time.monotonic() + 10 + self.limits.grace, point.grade_id,
                                 cell=point.cell)  # fmt: skip
        except (ChannelTimeout, ChannelClosed, ProtocolError):
            self._lost()
            if not any(f.kind == "stopped" and f.cell == point.grade_id for f in self.flags):
                self.flags.append(Flag("stopped", point.grade_id, "the grading process stopped at this test cell "
                                       "(the submission's code stopped it); it was restarted"))  # fmt: skip
            self._restartable()  # a restart replays the cells and finds this point's handlers again
            return []
        handlers = frame.get("handlers") if isinstance(frame.get("handlers"), dict) else {}
        point.handlers = {}
        for name, entry in handlers.items():
            if name in State.__members__ and isinstance(entry, dict) and isinstance(entry.get("name"), str):
                point.handlers[State[name]] = (entry["name"][:100], entry.get("stub") is True)
        if replaying:
            return []
        self._seen(frame, point.grade_id)
        return frame.get("outputs") if isinstance(frame.get("outputs"), list) else []

    def _restartable(self) -> bool:
        try:
            self._alive()
        except RunnerGone:
            return False
        return True

    def machine(self) -> LearnerMachine:
        point = self.point
        assert point is not None
        handlers = {state: RemoteHandler(self, state) for state in point.handlers}
        stubs = frozenset(s for s, (_, stub) in point.handlers.items() if stub)
        # The runner keeps the per-call limit and this side its own deadline past it; the checks' own
        # limit is only a backstop, wide enough for a restart and a replay inside one call.
        limits = Limits(per_call=self.limits.per_call + self.limits.grace + self.limits.start + 2 * self.limits.cell)
        code = tuple(source for _, source, trusted in self.history if not trusted)  # what this side sent to run
        return LearnerMachine(handlers, stubs, None, "", limits, code=code, sockets=self.sockets)

    def sockets(self, driver: str, socks: list, args: dict, timeout: float) -> dict:
        """A socket exercise (autograder.production_checks): hand `socks` (this side's TCP sockets)
        to the runner's `driver` and the learner's function; this side's copies are closed, so the
        learner's code owns the connections. {"value": dict} or {"refused": kind, "sentence": str};
        the grader scores what its own ends of the connections see, never this answer alone."""
        point = self.point
        where = point.grade_id if point is not None else "a socket exercise"
        fds = [s.fileno() for s in socks]
        try:
            confined = self._alive()
        except RunnerGone as e:
            return {"refused": "missing", "sentence": f"could not be called ({e})"}
        self.calls += 1
        self._ids += 1
        ident = self._ids
        request = {"op": "sockets", "id": ident, "driver": driver, "fds": len(fds), "args": args, "timeout": timeout}
        try:
            confined.channel.send_with_fds(request, fds)
            for s in socks:
                s.close()
            frame = self._expect(confined, "answer", time.monotonic() + timeout + self.limits.grace, where, ident)
        except ChannelTimeout:
            self._lost()
            return {
                "refused": "timeout",
                "sentence": f"ran longer than {timeout:g} s and did not stop when interrupted",
            }
        except (ChannelClosed, ProtocolError):
            self._lost()
            return {"refused": "exception", "sentence": "stopped the grading process (it exited or crashed)"}
        finally:
            for s in socks:
                s.close()
        self._seen(frame, where)
        if isinstance(frame.get("value"), dict):
            return {"value": frame["value"]}
        kind = frame.get("refused") if frame.get("refused") in REFUSAL_KINDS else "exception"
        return {"refused": kind, "sentence": _sentence(frame.get("sentence"))}

    def call(self, state: State, tcb: TCB, ev: Stimulus, profile: Profile) -> Step:
        point = self.point
        assert point is not None
        key = (state, tcb, ev, profile)
        known = point.answers.get(key)
        if known is None and self.pending and key in set(self.pending):
            # The second such call: the handlers answer (a blank notebook's first call already fails
            # and ends its check, and with it the cell, before anything is asked in bulk).
            self._pending_hits += 1
            if self._pending_hits >= 2:
                batch, self.pending = self.pending, []
                self.prefetch(batch)
                known = point.answers.get(key)
        if known is None:
            known = point.broken.get(state) or self._ask(point, state, tcb, ev, profile)
            point.answers[key] = known
        if isinstance(known, LearnerError):
            raise _copy(known)
        return known

    def _ask(self, point: _Point, state: State, tcb: TCB, ev: Stimulus, profile: Profile) -> Step | LearnerError:
        self.calls += 1
        try:
            confined = self._alive()
        except RunnerGone as e:
            return LearnerError(f"could not be called ({e})", "missing")
        self._ids += 1
        ident = self._ids
        deadline = time.monotonic() + self.limits.per_call + self.limits.grace
        try:
            confined.channel.send({"op": "call", "id": ident, "call": _encode(state, tcb, ev, profile)})
            frame = self._expect(confined, "step", deadline, point.grade_id, ident)
        except ChannelTimeout:
            self._lost()
            return self._break(
                point,
                state,
                LearnerError(
                    f"ran longer than {self.limits.per_call:g} s and did not stop when interrupted (an endless loop?)",
                    "timeout",
                ),
            )
        except ChannelClosed:
            self._lost()
            return self._break(
                point, state, LearnerError("stopped the grading process (it exited or crashed)", "exception")
            )
        except ProtocolError as e:
            self._lost()
            self.flags.append(Flag("protocol", point.grade_id, f"the runner's answer was garbled ({e})"))
            return self._break(point, state, LearnerError("answered with something that is not a step", "return"))
        except BaseException:  # interrupted mid-conversation (the checks' own time limit): start afresh
            self._lost()
            raise
        self._seen(frame, point.grade_id)
        if frame.get("op") == "refused":
            return self._answer(
                point, (state, tcb, ev), {"refused": frame.get("kind"), "sentence": frame.get("sentence")}
            )
        return self._answer(point, (state, tcb, ev), {"step": frame.get("step")})

    def prefetch(self, questions: list[tuple[State, TCB, Stimulus, Profile]]) -> int:
        """Ask many independent calls in one message each batch (a battery's, known in advance);
        their answers wait in the memo. Anything not answered is simply asked again one by one.
        Returns how many answers arrived."""
        point = self.point
        if point is None:
            return 0
        todo = list(dict.fromkeys(q for q in questions if q[0] in point.handlers and q[0] not in point.broken
                                  and q not in point.answers))  # fmt: skip
        got = 0
        for first in range(0, len(todo), BATCH):
            batch = todo[first : first + BATCH]
            try:
                confined = self._alive()
                self._ids += 1
                ident = self._ids
                confined.channel.send({"op": "calls", "id": ident, "budget": self.limits.batch,
                                       "calls": [_encode(*q) for q in batch]})  # fmt: skip
                deadline = time.monotonic() + self.limits.batch + self.limits.per_call + self.limits.grace
                frame = self._expect(confined, "steps", deadline, point.grade_id, ident)
            except (ChannelTimeout, ChannelClosed, ProtocolError):
                self._lost()  # one by one from here: the call that hangs or crashes will show itself
                return got
            except RunnerGone:
                return got
            except BaseException:
                self._lost()
                raise
            self._seen(frame, point.grade_id)
            answers = frame.get("answers") if isinstance(frame.get("answers"), list) else []
            for question, answer in zip(batch, answers[: len(batch)], strict=False):
                known = self._answer(point, question[:3], answer if isinstance(answer, dict) else {})
                point.answers[question] = known
                self.calls += 1
                got += 1
            if len(answers) < len(batch):
                return got
        return got

    def _answer(self, point: _Point, asked: tuple[State, TCB, Stimulus], answer: dict) -> Step | LearnerError:
        """The runner's answer to `asked` (as this side put it, before renumbering), checked."""
        state, tcb, ev = asked
        if "step" in answer:
            try:
                return renumber.back(tcb, ev, plain.decode_step(answer["step"]))
            except plain.PlainError as e:
                return LearnerError(e.sentence, "return")
        kind = answer.get("refused") if answer.get("refused") in REFUSAL_KINDS else "exception"
        error = LearnerError(_sentence(answer.get("sentence")), kind)
        return self._break(point, state, error) if kind == "timeout" else error

    @staticmethod
    def _break(point: _Point, state: State, error: LearnerError) -> LearnerError:
        point.broken[state] = error
        return error

    def end_point(self) -> None:
        self.point, self.pending = None, []


class RunnerGone(Exception):
    """The runner cannot be (re)started any more; the message says why."""


class RemoteHandler:
    """A learner's handler that runs in the sandbox: called like one, answered across the pipe."""

    def __init__(self, session: RunnerSession, state: State) -> None:
        self.session, self.state = session, state

    def __call__(self, tcb: TCB, ev: Stimulus, profile: Profile) -> Step:
        return self.session.call(self.state, tcb, ev, profile)

    def __repr__(self) -> str:
        return f"<your {self.state.value.lower()} handler, in the grading sandbox>"


def _encode(state: State, tcb: TCB, ev: Stimulus, profile: Profile) -> dict:
    """A call as the runner is asked it: renumbered past anything a learner build recorded."""
    return plain.encode_call(state, *renumber.forward(tcb, ev), profile)


def _copy(error: LearnerError) -> LearnerError:
    fresh = LearnerError(error.sentence, error.kind)
    return fresh


def _sentence(text: object) -> str:
    """A sentence from the runner, made safe to show: one line, printable, bounded."""
    if not isinstance(text, str) or not text.strip():
        return "failed (the grading process gave no reason)"
    line = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    return line if len(line) <= 300 else line[:297] + "..."
