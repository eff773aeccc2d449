"""Handler calls asked across the pipe to the runner: remembered, batched, bounded in time, decoded strictly.

`HandlerCalls` is the half of `RunnerSession` (autograder.pipeline.remote) that answers a
LearnerMachine's handler calls and socket exercises once the runner is at a grading point.
"""

from __future__ import annotations

import os
import time

from autograder import plain
from autograder.harness import LearnerError
from autograder.runner.channel import ChannelClosed, ChannelTimeout, ProtocolError
from reference_impl.profiles import Profile
from reference_impl.states import State, Step, Stimulus
from reference_impl.tcb import TCB

from .remote_records import Flag, GradingPoint, RunnerGone, RunnerLimits
from .renumber import Renumbering

REFUSAL_KINDS = ("exception", "return", "frozen", "timeout", "output", "missing", "protocol")
BATCH = 400  # calls per message of a prefetched battery (well under the message size limit)


class HandlerCalls:
    """Answers handler calls at the current grading point; the session supplies the runner
    (`_alive`, `_lost`, `_expect`, `_seen`)."""

    limits: RunnerLimits
    numbers: Renumbering  # the course's: every call crosses renumbered (autograder.pipeline.renumber)
    flags: list[Flag]
    point: GradingPoint | None
    pending: list[tuple]  # calls to ask in one go once the handlers are seen answering
    _pending_hits: int
    _ids: int
    calls: int

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
        if os.geteuid() != 0:  # autograder.production_calls.isolated gives each case a network only as root
            confined.missing.setdefault("socket-network", "the socket exercises' connections were made in the "
                                        "grader's own network (no root to give each case a private one), and a "
                                        "socket handed to the submission can be connected elsewhere")  # fmt: skip
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

    def _ask(self, point: GradingPoint, state: State, tcb: TCB, ev: Stimulus, profile: Profile) -> Step | LearnerError:
        self.calls += 1
        try:
            confined = self._alive()
        except RunnerGone as e:
            return LearnerError(f"could not be called ({e})", "missing")
        self._ids += 1
        ident = self._ids
        deadline = time.monotonic() + self.limits.per_call + self.limits.grace
        try:
            confined.channel.send({"op": "call", "id": ident, "call": self._encode(state, tcb, ev, profile)})
            frame = self._expect(confined, "step", deadline, point.grade_id, ident)
        except (ChannelTimeout, ChannelClosed, ProtocolError) as e:
            self._lost()
            return self._break(point, state, self._call_lost(point, e))
        except BaseException:  # interrupted mid-conversation (the checks' own time limit): start afresh
            self._lost()
            raise
        self._seen(frame, point.grade_id)
        if frame.get("op") == "refused":
            return self._answer(
                point, (state, tcb, ev), {"refused": frame.get("kind"), "sentence": frame.get("sentence")}
            )
        return self._answer(point, (state, tcb, ev), {"step": frame.get("step")})

    def _call_lost(self, point: GradingPoint, error: Exception) -> LearnerError:
        """What a call that lost the runner (hung, crashed it, garbled its answer) tells the learner."""
        if isinstance(error, ChannelTimeout):
            return LearnerError(
                f"ran longer than {self.limits.per_call:g} s and did not stop when interrupted (an endless loop?)",
                "timeout",
            )
        if isinstance(error, ChannelClosed):
            return LearnerError("stopped the grading process (it exited or crashed)", "exception")
        self.flags.append(Flag("protocol", point.grade_id, f"the runner's answer was garbled ({error})"))
        return LearnerError("answered with something that is not a step", "return")

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
                                       "calls": [self._encode(*q) for q in batch]})  # fmt: skip
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

    def _answer(self, point: GradingPoint, asked: tuple[State, TCB, Stimulus], answer: dict) -> Step | LearnerError:
        """The runner's answer to `asked` (as this side put it, before renumbering), checked."""
        state, tcb, ev = asked
        if "step" in answer:
            try:
                return self.numbers.back(tcb, ev, plain.decode_step(answer["step"]))
            except plain.PlainError as e:
                return LearnerError(e.sentence, "return")
        kind = answer.get("refused") if answer.get("refused") in REFUSAL_KINDS else "exception"
        error = LearnerError(_sentence(answer.get("sentence")), kind)
        return self._break(point, state, error) if kind == "timeout" else error

    @staticmethod
    def _break(point: GradingPoint, state: State, error: LearnerError) -> LearnerError:
        point.broken[state] = error
        return error

    def _encode(self, state: State, tcb: TCB, ev: Stimulus, profile: Profile) -> dict:
        """A call as the runner is asked it: at the course's numbers, past anything a build recorded."""
        return plain.encode_call(state, *self.numbers.forward(tcb, ev), profile)

    def end_point(self) -> None:
        self.point, self.pending = None, []


class RemoteHandler:
    """A learner's handler that runs in the sandbox: called like one, answered across the pipe."""

    def __init__(self, session: HandlerCalls, state: State, stub: bool = False) -> None:
        self.session, self.state = session, state
        self.stub = stub  # still as released (the runner said so): it raises NotImplementedError

    def __call__(self, tcb: TCB, ev: Stimulus, profile: Profile) -> Step:
        return self.session.call(self.state, tcb, ev, profile)

    def __repr__(self) -> str:
        return f"<your {self.state.value.lower()} handler, in the grading sandbox>"


def _copy(error: LearnerError) -> LearnerError:
    fresh = LearnerError(error.sentence, error.kind)
    return fresh


def _sentence(text: object) -> str:
    """A sentence from the runner, made safe to show: one line, printable, bounded."""
    if not isinstance(text, str) or not text.strip():
        return "failed (the grading process gave no reason)"
    line = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    return line if len(line) <= 300 else line[:297] + "..."
