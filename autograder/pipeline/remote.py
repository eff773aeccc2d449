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

from autograder.harness import LearnerError, LearnerMachine, Limits
from autograder.runner import COMMAND
from autograder.runner.channel import ChannelClosed, ChannelTimeout, ProtocolError
from autograder.runner.watch import LOOPBACK_NOTES
from autograder.sandbox import Confined, SandboxError, SandboxPolicy, start
from reference_impl.states import State, Step

from .remote_calls import HandlerCalls, RemoteHandler
from .remote_records import Flag, GradingPoint, Ran, RunnerGone, RunnerLimits
from .renumber import Renumbering

STRAYS = 100  # unexpected messages borne while waiting for one answer; past that the runner is restarted


class RunnerSession(HandlerCalls):
    """One notebook's runner, restarted and replayed as needed."""

    def __init__(self, policy: Callable[[], SandboxPolicy], watch: tuple[str, ...], limits: RunnerLimits,
                 numbers: Renumbering, starter: Callable[[SandboxPolicy], Confined] | None = None) -> None:  # fmt: skip
        self.policy, self.watch, self.limits, self.numbers = policy, watch, limits, numbers
        self.starter = starter  # forks the runner from a fork server; None: the launcher execs a fresh one
        self.confined: Confined | None = None
        self.history: list[tuple[int, str, bool]] = []  # cells that ran to completion: replayed after a restart
        self.flags: list[Flag] = []
        self.loopback = False  # Manifest.loopback: the course itself opens loopback sockets here
        self.sandbox: dict = {"achieved": [], "missing": {}}
        self.restarts = 0
        self.point: GradingPoint | None = None
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
        strays = 0
        while True:
            frame = confined.channel.recv(deadline)
            if not isinstance(frame, dict):
                raise ProtocolError("a frame that is not a record")
            got = frame.get("op")
            if got == op or (op == "step" and got == "refused"):
                if (ident is None or frame.get("id") == ident) and (cell is None or frame.get("cell") == cell):
                    return frame
            strays += 1
            if strays == 1 and not any(f.kind == "protocol" and f.cell == doing for f in self.flags):
                self.flags.append(Flag("protocol", doing, f"the runner sent an unexpected message while {doing} "
                                       f"({str(got)[:40]!r}); it was ignored"))  # fmt: skip
            if strays > STRAYS:
                raise ProtocolError(f"more than {STRAYS} unexpected messages in a row (a flood)")

    def _seen(self, frame: dict, where: str) -> None:
        seen = frame.get("seen")
        if not isinstance(seen, list):
            return
        for item in seen[:40]:
            if isinstance(item, dict) and isinstance(item.get("what"), str):
                if self.loopback and item["what"].startswith(LOOPBACK_NOTES):
                    continue
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

    def test(self, index: int, grade_id: str, defined: frozenset[State] = frozenset()) -> tuple[LearnerMachine, list]:
        """At a test cell's place: the learner's machine there, and whatever their hooks displayed.
        `defined`: the handlers the release defines above this cell (plan.released_handlers)."""
        if self._memo_epoch != self.epoch:
            self._memo, self._memo_epoch = {}, self.epoch
        self.point = GradingPoint(index, grade_id, answers=self._memo)
        self.pending, self._pending_hits = [], 0
        try:
            self._alive()
            outputs = self._test(self.point)
        except RunnerGone as e:
            self.point.handlers = {}
            return LearnerMachine({}, frozenset(), None, f"your notebook could not be run up to here ({e})"), []
        self._gone(self.point, defined)
        return self.machine(), outputs

    def _gone(self, point: GradingPoint, defined: frozenset[State]) -> None:
        """A handler the notebook defines above this cell but the learner's code removed: theirs all the
        same, and not written (the reference plays only what the notebook leaves to it)."""
        for state in sorted(defined - point.handlers.keys(), key=list(State).index):
            name = state.value.lower()
            point.handlers[state] = (name, False)
            point.gone.add(state)
            point.broken[state] = LearnerError(f"is not defined at this test cell, though the notebook defines "
                                               f"{name} above it (removed, renamed, or its cell failed)", "missing")  # fmt: skip
            if not any(f.kind == "gone" and f.text.startswith(f"{name},") for f in self.flags):
                self.flags.append(Flag("gone", point.grade_id, f"{name}, which the notebook defines above this "
                                       "test cell, was gone before it (removed or never run); graded as not "
                                       "written, never played by the reference"))  # fmt: skip

    def _test(self, point: GradingPoint, replaying: bool = False) -> list[dict]:
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
        stubs = frozenset(s for s, (_, stub) in point.handlers.items() if stub)
        handlers = {state: RemoteHandler(self, state, stub=state in stubs | point.gone) for state in point.handlers}
        # The runner keeps the per-call limit and this side its own deadline past it; the checks' own
        # limit is only a backstop, wide enough for a restart and a replay inside one call.
        limits = Limits(per_call=self.limits.per_call + self.limits.grace + self.limits.start + 2 * self.limits.cell)
        code = tuple(source for _, source, trusted in self.history if not trusted)  # what this side sent to run
        return LearnerMachine(handlers, stubs, None, "", limits, code=code, sockets=self.sockets)
