"""Every prediction in every notebook comes before its answer, and hides its own source.

A prediction is a `tests.predict(key, question, choices)` call in a code cell (its explanation is
the manifest's EXPLANATIONS[key] and its answer's source ANSWERS[key], from_trace(...) or
from_reply(...), both out of the cell's source). Its answer is taken from the reference, never from
the notebook text. An earlier cell *states* the answer when one of its passages (a markdown paragraph, a line
of code or of a figure) puts the answer in the question's context:

- a number (an ACK or SEQ field) is stated by "ACK=101", "ACK 101", "ACK is 101"... of that field;
- a state is stated when a passage names a state or a segment field value the question starts
  from ("in FIN_WAIT_2", "ACK=200") and then, within a short reach and with no other state in
  between, the answer, linked to it by an arrow or a verb of moving or staying ("FIN_WAIT_2 →
  TIME_WAIT", "ACK=200 ... A must stay in FIN_WAIT_1", "Remain in the TIME-WAIT state" when the
  question starts in TIME_WAIT). A list of states, or the English word "closed", states nothing.

State names are compared in the spellings the notebooks use (FIN_WAIT_2, FIN-WAIT-2), in capitals.
The predict call's own cell is collapsed (`jupyter.source_hidden`) and holds no explanation.
"""

from __future__ import annotations

import ast
import dataclasses
import re

import pytest

from autograder.manifest import load_manifest
from tests.course.conftest import ALL_NOTEBOOKS, NOTEBOOKS, source_notebook

REACH = 160  # characters from the context to the answer within one passage
STATES = ("ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "CLOSING", "TIME_WAIT", "CLOSE_WAIT", "LAST_ACK", "CLOSED",
          "SYN_SENT", "SYN_RECEIVED", "LISTEN")  # fmt: skip
_STATE_RE = re.compile(r"\b(" + "|".join(s.replace("_", "[-_ ]") for s in STATES) + r")\b")
_ANY_STATE = re.compile(r"\b(" + "|".join(STATES) + r")\b")
_FIELD_RE = re.compile(r"\b(ACK|SEQ)\s*=\s*(\d+)")
LINK = re.compile(r"→|->|-->|<--|⇒|⟶|\b(enter|enters|entering|go|goes|going|move|moves|stay|stays|remain|remains|"
                  r"straight|into|becomes?|then|next|ends up|lands?)\b", re.IGNORECASE)


STAYS = re.compile(r"\b(stay|stays|staying|remain|remains|remaining|keeps? waiting|still)\s+in")
# What an endpoint sends or its application hears (flags, an error), stated after the question's context.
SAYS = re.compile(LINK.pattern + r"|\b(send|sends|sent|answers?|repl(y|ies)|responds?|hears?|learns?|gets?|with|"
                  r"reports?|reads?)\b", re.IGNORECASE)


def normalize(text: str) -> str:
    """State names spelled as the State enum (FIN-WAIT-2 -> FIN_WAIT_2); only capitalised names count."""
    return _STATE_RE.sub(lambda m: re.sub(r"[-_ ]", "_", m.group(1)), text)


def passages(cell) -> list[str]:
    """Markdown: paragraphs; code: lines (a figure in a code block also reads line by line)."""
    text = normalize(cell.source)
    if cell.cell_type == "code":
        return text.splitlines()
    out = []
    for block in re.split(r"\n\s*\n", text):
        out += block.splitlines() if block.lstrip().startswith("|") else [block]  # a table: row by row
    return out


class Prediction:
    def __init__(self, index: int, call: ast.Call, namespace: dict | None = None, manifest=None) -> None:
        self.index = index
        self.namespace = namespace if namespace is not None else {}
        args = call.args
        self.key = None
        if isinstance(call.func, ast.Attribute):  # tests.predict(key, question, ...)
            self.key, args = ast.literal_eval(args[0]), args[1:]
        self.question = ast.literal_eval(args[0])
        self.choices = [str(c) for c in ast.literal_eval(args[1])]
        spec = args[2] if len(args) > 2 else next((k.value for k in call.keywords if k.arg == "answer_from"), None)
        self.spec = spec  # None: the manifest's ANSWERS[key]
        self.given = manifest.answer(self.key) if spec is None and manifest is not None and self.key else None
        self.field = self.given.field if self.given is not None else "state_after"
        if isinstance(spec, ast.Call) and getattr(spec.func, "id", "") == "from_trace":
            field = next((k.value for k in spec.keywords if k.arg == "field"), None)
            if isinstance(field, ast.Constant):
                self.field = field.value

    def answer(self) -> str:
        """The reference's answer: the manifest's, or answer_from evaluated with what the notebook
        defined above it."""
        if self.spec is None:
            assert self.given is not None, f"cell {self.index}: no answer_from, and no ANSWERS[{self.key!r}]"
            return str(self.given())
        value = eval(compile(ast.Expression(self.spec), "<answer_from>", "eval"), dict(self.namespace))  # noqa: S307
        return str(value() if callable(value) else value)

    def stated_in(self, passage: str, answer: str, same_section: bool = True) -> str | None:
        """The words of `passage` that state the answer, or None. In the question's own section, "A stays
        in FIN_WAIT_1" gives away a question whose answer is that A stays."""
        if answer.isdigit():
            name = {"ack": "ACK", "seq": "SEQ"}.get(self.field, self.field.upper())
            m = re.search(rf"\b{name}\s*(=|:|IS|OF)?\s*{answer}\b", passage)
            return m.group(0) if m else None
        target = normalize(answer)
        link = LINK if target in STATES else SAYS
        question = normalize(self.question)
        states = set(_ANY_STATE.findall(question))
        context = states | {f"{f}={n}" for f, n in _FIELD_RE.findall(question)}
        flat = re.sub(r"\b(ACK|SEQ)\s*=\s*", r"\1=", passage)
        if same_section and target in states:  # the answer is "it stays", and the section says so
            m = re.search(rf"{STAYS.pattern}\s+(the\s+)?{re.escape(target)}\b", flat, re.IGNORECASE)
            if m:
                return m.group(0)
        for word in context:
            for m in re.finditer(rf"(?<![\w=]){re.escape(word)}\b", flat):
                after = flat[m.end(): m.end() + REACH]
                hit = re.search(rf"(?<![\w|]){re.escape(target)}(?![\w|])", after)
                if not hit:
                    continue
                between = after[: hit.start()]
                if set(_ANY_STATE.findall(between)) - states - {target}:
                    continue  # another state comes first: the passage is about that one
                if link.search(between):
                    return flat[m.start(): m.end() + hit.end()]
        return None


def _definitions(namespace: dict, source: str) -> None:
    """Run a cell's imports and plain assignments (profiles, TCBs a question uses), nothing else:
    no widget, no check, no learner handler."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Import | ast.ImportFrom | ast.Assign):
            try:
                exec(compile(ast.Module([node], []), "<cell>", "exec"), namespace)  # noqa: S102
            except Exception:  # noqa: BLE001, S110 - a name the question does not use
                pass


def predictions(nb, manifest=None) -> list[tuple[Prediction, object]]:
    found = []
    namespace: dict = {}
    exec("from autograder.learner import *\nfrom autograder.notebook_helpers import *", namespace)  # noqa: S102
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        tree = ast.parse(cell.source)
        _definitions(namespace, cell.source)  # a predict cell may define the TCB its question uses
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and (getattr(node.func, "id", "") == "predict"
                                               or getattr(node.func, "attr", "") == "predict"):
                found.append((Prediction(i, node, dict(namespace), manifest), cell))
    return found


# Notebooks still being reordered so that their predictions come first: each is expected to fail
# (strictly: once it passes, this test fails until its name is taken off the list).
REORDERING: set[str] = set()
PREDICTING = [pytest.param(a, marks=pytest.mark.xfail(strict=True, reason="being reordered"))
              if a in REORDERING else a for a in NOTEBOOKS if predictions(source_notebook(a), load_manifest(a))]
HIDING = [a for a in NOTEBOOKS if predictions(source_notebook(a), load_manifest(a))]


@pytest.mark.parametrize("assignment", PREDICTING)
def test_no_earlier_cell_states_a_predictions_answer(assignment):
    nb = source_notebook(assignment)
    problems = []
    for p, _ in predictions(nb, load_manifest(assignment)):
        answer = p.answer()
        assert answer in p.choices, f"cell {p.index}: the reference's answer {answer!r} is not a choice"
        section = max((j for j, c in enumerate(nb.cells[: p.index])
                       if c.cell_type == "markdown" and c.source.lstrip().startswith("#")), default=0)
        for j, earlier in enumerate(nb.cells[: p.index]):
            if "predict(" in earlier.source:  # another question's own cell: hidden, and asked first
                continue
            for passage in passages(earlier):
                words = p.stated_in(passage, answer, same_section=j >= section)
                if words:
                    problems.append(f"cell {j} answers the prediction in cell {p.index} "
                                    f"({p.question!r} -> {answer}): {' '.join(words.split())[:120]!r}")
                    break
    assert not problems, "\n".join(problems)


SCREEN = 30  # source lines below a question that are on screen with it, before anything is opened


def shown_below(nb, index: int) -> list[tuple[int, object]]:
    """The cells on screen below a question, as a learner meets them (no outputs yet, nothing opened):
    (cell index, the cell with each <details> block cut down to its summary), SCREEN lines in all."""
    out, left = [], SCREEN
    for j in range(index + 1, len(nb.cells)):
        cell = nb.cells[j]
        if left <= 0:
            break
        if "predict(" in cell.source:
            left -= 3  # a collapsed question: a line or two
            continue
        shown = re.sub(r"<details>.*?</details>", "<details>", cell.source, flags=re.DOTALL)
        lines = shown.splitlines()[:left]
        left -= len(lines) + 1
        out.append((j, type(cell)(cell, source="\n".join(lines))))  # a NotebookNode: the same cell, cut
    return out


@pytest.mark.parametrize("assignment", PREDICTING)
def test_nothing_on_screen_below_a_question_states_its_answer(assignment):
    """Readers met the answer on the same screen as the question, just below it, without opening
    anything: 05's "the CLOSED A answers with RST" (a test cell's comment, and the paragraph after
    the timeline), 06's reset table and a test comment. What shows below a question before it is
    answered must not state the answer either; the answer goes in the block opened after answering."""
    nb = source_notebook(assignment)
    problems = []
    for p, _ in predictions(nb, load_manifest(assignment)):
        answer = p.answer()
        for j, cell in shown_below(nb, p.index):
            for passage in passages(cell):
                words = p.stated_in(passage, answer)
                if words:
                    problems.append(f"cell {j}, on screen below the prediction in cell {p.index} "
                                    f"({p.question!r} -> {answer}): {' '.join(words.split())[:120]!r}")
                    break
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("assignment", HIDING)
def test_every_predict_cell_hides_its_source(assignment):
    nb = source_notebook(assignment)
    shown = [p.index for p, cell in predictions(nb) if not cell.metadata.get("jupyter", {}).get("source_hidden")]
    assert not shown, f"predict cells whose source is shown: {shown}"


@pytest.mark.parametrize("assignment", HIDING)
def test_explanations_live_in_the_manifest_not_in_the_cell(assignment):
    """A collapsed cell is one click from the learner: its source carries the question, the choices and
    where the answer comes from, never the explanation (why=), which the manifest keeps by key."""
    nb = source_notebook(assignment)
    found = predictions(nb, load_manifest(assignment))
    in_cell = [p.index for p, cell in found if p.key is None or "why=" in cell.source]
    assert not in_cell, f"predictions that carry their explanation in the cell, or have no key: {in_cell}"
    manifest = load_manifest(assignment)
    keys = [p.key for p, _ in found]
    assert len(keys) == len(set(keys)), f"a prediction key is used twice: {keys}"
    assert sorted(keys) == sorted(k for k, _ in manifest.explanations), "EXPLANATIONS and the predictions differ"
    # The key is in the cell too, one click away (and on screen while the cell runs): it names the
    # question's situation, never a new state, nor the answer of an earlier question ("ack-in-closing"
    # under the question whose answer was CLOSING).
    answered: set[str] = set()
    for p, _ in found:
        named = set(_ANY_STATE.findall(normalize(p.key.upper())))
        new = named - set(_ANY_STATE.findall(normalize(p.question)))
        assert not new, f"the key {p.key!r} names {new}, which the question does not"
        assert not named & answered, f"the key {p.key!r} names {named & answered}, an earlier question's answer"
        answered |= set(_ANY_STATE.findall(normalize(p.answer().upper())))


@pytest.mark.parametrize("assignment", HIDING)
def test_a_predict_cell_computes_no_answer(assignment):
    """06's cell built a TCB and passed answer_from=reply_of(...): a reader saw that one run away from the
    answer. Every answer lives in the manifest's ANSWERS; the cell holds its question and choices."""
    nb = source_notebook(assignment)
    computing = [p.index for p, _ in predictions(nb) if p.spec is not None]
    assert not computing, f"predict cells that compute their own answer: {computing}"


@pytest.mark.parametrize("assignment", HIDING)
def test_a_predict_cells_source_names_no_scenario(assignment):
    """A scenario's name says what happens in it ("lost-final-ack", "ack-of-data-not-fin"): once
    the cell is expanded, it would answer its own question. The manifest's ANSWERS names it."""
    from autograder.course_map import scenarios_named
    from reference_impl import scenarios

    nb = source_notebook(assignment)
    named = {p.index: scenarios_named([cell.source.replace(f'"{p.key}"', "")], scenarios.CATALOGUE)
             for p, cell in predictions(nb)}
    named = {i: names for i, names in named.items() if names}
    assert not named, f"predict cells that name a scenario: {named}"


def test_the_check_finds_an_answer_given_away():
    """The detector itself: each way the notebooks used to give answers away is caught, and
    passages that mention the states without the answer are not."""
    q = Prediction(0, ast.parse("predict('A is in FIN_WAIT_2 when B\\'s FIN arrives. Which state?', "
                                "['TIME_WAIT', 'CLOSED'], answer_from='TIME_WAIT')").body[0].value)
    assert q.stated_in(normalize("ESTABLISHED → FIN_WAIT_1 → FIN_WAIT_2 → TIME_WAIT → CLOSED"), "TIME_WAIT")
    assert q.stated_in(normalize("FIN-WAIT-2 <-- <SEQ=300><CTL=FIN,ACK> <-- ... TIME-WAIT"), "TIME_WAIT")
    assert not q.stated_in(normalize("FIN_WAIT_2, TIME_WAIT and CLOSED are A's states."), "TIME_WAIT")
    assert not q.stated_in(normalize("In FIN_WAIT_2 A's direction is closed; later, in TIME_WAIT..."), "CLOSED")
    assert not q.stated_in(normalize("In FIN_WAIT_2, B may still send data. You write the handler."), "TIME_WAIT")
    n = Prediction(0, ast.parse("predict('Which ACK does B send?', ['100', '101'], "
                                "answer_from=from_trace('active-close', 'B', 'send', field='ack'))").body[0].value)
    assert n.stated_in(normalize("FIN-WAIT-2  <-- <SEQ=300><ACK=101><CTL=ACK>"), "101")
    assert not n.stated_in(normalize("<SEQ=101><ACK=301>"), "101")
    d = Prediction(0, ast.parse("predict('B\\'s first ACK says ACK=200. Which state is A in after it?', "
                                "['FIN_WAIT_1', 'FIN_WAIT_2'], answer_from='FIN_WAIT_1')").body[0].value)
    assert d.stated_in(normalize('an ACK=200 says "I have all your bytes" — but not the FIN. A must stay in '
                                 "FIN_WAIT_1"), "FIN_WAIT_1")
    t = Prediction(0, ast.parse("predict('A is in TIME_WAIT. Which state after the FIN?', ['TIME_WAIT', 'CLOSED'], "
                                "answer_from='TIME_WAIT')").body[0].value)
    assert t.stated_in(normalize("TIME-WAIT: *Remain in the TIME-WAIT state.*"), "TIME_WAIT")
    s = Prediction(0, ast.parse("predict('A is in FIN_WAIT_1 and ACK=200 arrives. Which state is A in after it?', "
                                "['FIN_WAIT_1', 'FIN_WAIT_2'], answer_from='FIN_WAIT_1')").body[0].value)
    assert s.stated_in(normalize("the FIN is still out there, so A stays in FIN_WAIT_1 with its timer"), "FIN_WAIT_1")
    assert not s.stated_in(normalize("the FIN is still out there, so A stays in FIN_WAIT_1"), "FIN_WAIT_1",
                           same_section=False)  # said in another section, of another event
    assert not s.stated_in(normalize("A stays in FIN_WAIT_2 until the peer's FIN"), "FIN_WAIT_1")
    f = Prediction(0, ast.parse("predict('A is in TIME_WAIT and the FIN of B arrives again. What does A send?', "
                                "['ACK', 'RST'], answer_from='ACK')").body[0].value)
    assert f.stated_in(normalize("In TIME_WAIT a retransmitted FIN gets an ACK"), "ACK")
    assert not f.stated_in(normalize("TIME_WAIT lasts 2 MSL. B's FIN|ACK"), "ACK")


def _event(question: str) -> str:
    """The event a transition question is about, as the map labels it ("rcv FIN", "timeout")."""
    for word, label in (("RST", "rcv RST"), ("timer", "timeout"), ("FIN", "rcv FIN"), ("ACK", "rcv ACK")):
        if word in question:
            return label
    return "close"


def _maps(nb) -> list[str]:
    """The state maps a notebook draws (its state_map calls, evaluated), as HTML."""
    from autograder.notebook_helpers import state_map

    drawn = []
    for cell in nb.cells:
        if cell.cell_type == "code" and "state_map(" in cell.source:
            for node in ast.walk(ast.parse(cell.source)):
                if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "state_map":
                    args = [ast.literal_eval(a) for a in node.args]
                    kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
                    drawn.append(state_map(*args, **kwargs).data)
    return drawn


def test_no_earlier_notebooks_map_draws_the_arrow_a_later_prediction_asks_for():
    """A map in notebook 02 must not draw FIN_WAIT_1 → CLOSING on a FIN, lit or faint, which notebook 03
    asks the learner to predict; an arrow an earlier notebook already asked about may stay."""
    asked: list[tuple[int, str, str, str]] = []  # (notebook index, from, to, question)
    for i, a in enumerate(ALL_NOTEBOOKS):
        for p, _ in predictions(source_notebook(a), load_manifest(a)):
            answer, starts = p.answer(), set(_ANY_STATE.findall(normalize(p.question)))
            if answer in STATES and len(starts) == 1 and answer not in starts:
                asked.append((i, starts.pop(), answer, p.question))
    assert asked, "no prediction asks for a transition: the test would check nothing"
    problems = []
    for i, a in enumerate(ALL_NOTEBOOKS):
        drawn = "".join(_maps(source_notebook(a)))
        for j, src, dst, question in asked:
            earlier = any(k <= i and (s, d) == (src, dst) for k, s, d, _ in asked)
            edge = re.search(rf'<g class="edge[^"]*" data-from="{src}" data-to="{dst}">.*?</g>', drawn, re.S)
            if j > i and not earlier and edge and _event(question) in edge.group(0):
                problems.append(f"{a}'s map draws {src} → {dst} on {_event(question)}, asked in {ALL_NOTEBOOKS[j]}: "
                                f"{question!r}")
    assert not problems, "\n".join(problems)


def _row(p: Prediction, field: str) -> tuple[str, ...]:
    """Another field of the trace row a from_trace prediction reads its answer from (the state it starts
    in, the segment's flags): two questions about the same row and field ask the same thing."""
    spec = p.spec
    if p.given is not None:
        return (str(dataclasses.replace(p.given, field=field)()),)
    if not (isinstance(spec, ast.Call) and getattr(spec.func, "id", "") == "from_trace"):
        return (p.question,)
    other = ast.Call(spec.func, spec.args, [k for k in spec.keywords if k.arg != "field"]
                     + [ast.keyword("field", ast.Constant(field))])
    call = ast.fix_missing_locations(ast.Call(ast.Name("predict"), [ast.Constant(p.question), ast.Constant(p.choices),
                                                                    other], []))
    return (Prediction(p.index, call, p.namespace).answer(),)


def test_no_prediction_asks_again_what_an_earlier_one_asked():
    """A question asked before is a recall, not a prediction (notebook 04 asked notebook 01's and 03's again)."""
    seen: dict[tuple, str] = {}
    repeats = []
    for a in ALL_NOTEBOOKS:
        for p, _ in predictions(source_notebook(a), load_manifest(a)):
            asked = (*_row(p, "state_before"), *_row(p, "event"), *_row(p, "flags"), p.field, p.answer())
            if asked in seen:
                repeats.append(f"{a}: {p.question!r} asks again what {seen[asked]} asked")
            seen.setdefault(asked, f"{a} ({p.key})")
    assert not repeats, "\n".join(repeats)


def _leads_into_a_question(nb, index: int) -> bool:
    """A markdown cell that only sets up the next question (the cell after it asks one)."""
    return index + 1 < len(nb.cells) and "predict(" in nb.cells[index + 1].source


@pytest.mark.parametrize("assignment", HIDING)
def test_the_text_just_below_a_prediction_is_collapsed(assignment):
    """Answering a question scrolls its explanation into view, and with it whatever follows on the same
    screen: a reveal right below a prediction (an RFC quote, a figure, the exercise that states the
    rule) opens only on a click. A heading may stay open; a cell that leads into the next question
    states no answer (the test above reads it) and may too."""
    nb = source_notebook(assignment)
    open_below = {}
    for p, _ in predictions(nb):
        after = p.index + 1
        while after < len(nb.cells) and "predict(" in nb.cells[after].source:
            after += 1  # a run of questions: the reveal follows the last
        if after == len(nb.cells) or nb.cells[after].cell_type != "markdown" or _leads_into_a_question(nb, after):
            continue
        body = re.sub(r"\A#[^\n]*\n+", "", nb.cells[after].source.lstrip())
        if not body.startswith("<details>"):
            open_below[after] = f"cell {after}, below the prediction {p.key!r}: {' '.join(body.split())[:80]!r}"
    assert not open_below, "\n".join(open_below.values())
