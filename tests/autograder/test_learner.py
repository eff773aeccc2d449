"""The notebook vocabulary: everything a learner needs to write handlers, and no answers."""

import autograder.learner as learner
from reference_impl import actions, handlers


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
