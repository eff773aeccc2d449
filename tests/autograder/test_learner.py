"""The notebook vocabulary: everything a learner needs to write handlers, and no answers."""

import pytest

import autograder.learner as learner
from reference_impl import actions, handlers
from reference_impl.profiles import LINUX, RFC9293
from reference_impl.segment import Flags


def test_vocabulary_exports_exactly_its_all():
    ns: dict = {}
    exec("from autograder.learner import *", ns)
    exported = {k for k in ns if k != "__builtins__"}
    assert exported == set(learner.__all__)
    for name in (
        "Segment",
        "FIN",
        "seq_lt",
        "State",
        "Timeout",
        "Error",
        "Step",
        "TCB",
        "screen",
        "Verdict",
        "Screened",
        "Profile",
        "RFC9293",
        "LINUX",
        "ms",
        "sec",
        "send_fin",
        "take_text",
        "reset_for",
    ):
        assert name in exported, name


def test_no_reference_handlers_are_exported():
    ns: dict = {}
    exec("from autograder.learner import *", ns)
    answers = {id(f) for f in handlers.HANDLERS.values()} | {id(handlers.HANDLERS), id(handlers.handle)}
    assert not [k for k, v in ns.items() if id(v) in answers]
    assert not {s.value.lower() for s in handlers.State} & set(ns)


def test_every_building_block_is_exported():
    blocks = [n for n, v in vars(actions).items() if callable(v) and getattr(v, "__module__", "") == actions.__name__]
    assert set(blocks) <= set(learner.__all__)


def test_a_notebooks_tables_show_whole_cells():
    import pandas as pd

    import autograder.learner  # noqa: F401 - what a notebook's setup cell imports

    assert pd.get_option("display.max_colwidth") is None
    long = "x" * 200
    assert long in pd.DataFrame({"why": [long]}).to_html()


def test_every_name_is_documented_where_a_learner_meets_it():
    """`help(name)` in a notebook says what it is, and the notebooks' text names each one: a name that
    only a code cell uses, with no word about it anywhere, is a name a learner has to guess."""
    import json
    import re
    from pathlib import Path

    text = ""
    for path in sorted(Path(__file__).parents[2].glob("course/source/0[1-6]_*/*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        text += "\n".join("".join(c["source"]) for c in cells)
    for name in learner.__all__:
        value = getattr(learner, name)
        if callable(value) and not isinstance(value, int):
            assert (value.__doc__ or "").strip(), f"{name} has no docstring"
        assert re.search(rf"\b{name}\b", text), f"{name} is exported but no notebook uses or names it"


def test_building_blocks_return_outputs_not_the_next_state():
    """'Mechanics, not decisions': a building block returns what to send (and the TCB), never a Step;
    only the stand-ins for a later notebook's exercise return a whole Step."""
    import inspect
    import re

    stand_ins = {"fin_crossed", "on_retransmit_timeout", "timewait_state_process", "on_reset", "on_unread_close"}
    for name, value in vars(actions).items():
        if inspect.isfunction(value) and value.__module__ == actions.__name__ and not name.startswith("_"):
            returns_step = bool(re.search(r"\bStep\b", str(inspect.signature(value).return_annotation)))
            assert returns_step == (name in stand_ins), name


@pytest.mark.parametrize(
    "profile", [RFC9293, LINUX, RFC9293.replace(rfc1337=True)], ids=["rfc9293", "linux", "rfc1337"]
)
def test_notebook_6s_stand_ins_answer_as_the_reference_does(profile):
    """on_reset and on_unread_close give the notebooks before 06 its answers without stating them:
    they must be the reference's answers, in every situation of every state the course reaches."""
    from autograder.checks import fixtures
    from reference_impl.handlers import HANDLERS
    from reference_impl.segment import Segment
    from reference_impl.states import CLOSE_STATES, AppClose, Arrival, State
    from reference_impl.tcb import Verdict, screen

    met = 0
    for state, found in fixtures(profile).items():
        for fx in found:
            rst = Segment(seq=fx.tcb.rcv_nxt, ack=0, flags=Flags.RST)
            closing = state in CLOSE_STATES and state is not State.CLOSED
            if closing and screen(fx.tcb, rst, profile).verdict is Verdict.RESET:
                assert actions.on_reset(fx.tcb, state, profile) == HANDLERS[state](fx.tcb, Arrival(rst), profile)
                met += 1
            if state in (State.ESTABLISHED, State.CLOSE_WAIT):
                for close in (AppClose(unread=6), AppClose(shutdown=True, unread=6), AppClose()):
                    step = actions.on_unread_close(fx.tcb, close, profile)
                    if step is not None:
                        assert step == HANDLERS[state](fx.tcb, close, profile)
                        met += 1
    assert met >= 20
