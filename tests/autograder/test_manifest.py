"""The grading manifests: one per notebook, the single statement of what each test cell checks."""

from __future__ import annotations

import nbformat
import pytest

from autograder.checks import CellTests, hidden_suite
from autograder.manifest import (
    COURSE,
    CheckSpec,
    ManifestError,
    cell,
    course_assignments,
    every_hidden_check,
    family,
    load_manifest,
    transition,
)
from reference_impl.profiles import LINUX
from reference_impl.segment import Segment
from reference_impl.states import AppClose, Arrival, State

ASSIGNMENTS = course_assignments()


def notebook_test_cells(assignment: str) -> dict[str, nbformat.NotebookNode]:
    nb = nbformat.read(COURSE / "source" / assignment / f"{assignment}.ipynb", as_version=4)
    return {
        c.metadata.nbgrader["grade_id"]: c
        for c in nb.cells
        if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata.nbgrader.get("solution")
    }


def test_every_notebook_has_a_manifest():
    sources = sorted(p.name for p in (COURSE / "source").iterdir() if (p / f"{p.name}.ipynb").is_file())
    assert ASSIGNMENTS == sources


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_manifest_and_the_notebook_name_the_same_cells_and_points(assignment):
    manifest = load_manifest(assignment)
    cells = notebook_test_cells(assignment)
    assert [c.grade_id for c in manifest.cells] == list(cells)
    for c in manifest.cells:
        assert c.points == cells[c.grade_id].metadata.nbgrader["points"], c.grade_id


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_test_cells_are_thin_and_say_what_they_check(assignment):
    """A test cell restates nothing: its comment line, one visible call, one hidden call."""
    for gid, c in notebook_test_cells(assignment).items():
        lines = c.source.splitlines()
        assert lines[0].startswith(f"# {gid} (") and "point" in lines[0], lines[0]
        code = [ln for ln in lines if not ln.startswith("#")]
        assert code[0] == f'tests.check(globals(), "{gid}")', gid
        assert code[1:] == [] or code[1:] == [f'tests.hidden_points(globals(), "{gid}")'], gid
        if code[1:]:
            assert "### BEGIN HIDDEN TESTS" in c.source and "### END HIDDEN TESTS" in c.source


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_hidden_checks_include_sequence_numbers_that_wrap(assignment):
    hidden = [spec for c in load_manifest(assignment).cells for spec in c.hidden]
    if all(spec.kind == "sockets" for spec in hidden):
        return  # real loopback connections (notebook 07): the kernel's sequence numbers, not the simulator's
    wrapped = [spec for spec in hidden if spec.wrap]
    assert wrapped, f"{assignment} grades no case near 2**32"
    # Every scenario the notebook's hidden families run is also run wrapped.
    plain = {name for spec in hidden if spec.kind == "family" and not spec.wrap for name in spec.args}
    assert plain <= {name for spec in wrapped if spec.kind == "family" for name in spec.args}
    # And every scenario a cell runs on its own, in that cell (or in one of the notebook's wrapped families).
    families = {name for spec in wrapped if spec.kind == "family" for name in spec.args}
    for c in load_manifest(assignment).cells:
        alone = {spec.args[0] for spec in c.hidden if spec.kind == "scenario" and not spec.wrap}
        twins = {spec.args[0] for spec in c.hidden if spec.kind == "scenario" and spec.wrap}
        assert alone <= twins | families, f"{c.grade_id} runs {sorted(alone - twins - families)} only at ISNs 100/300"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_before_you_submit_runs_what_the_manifest_selects(assignment):
    manifest = load_manifest(assignment)
    assert manifest.before_submit == every_hidden_check(manifest.cells)
    assert hidden_suite({}, assignment).total >= len(manifest.before_submit)


def test_a_check_is_plain_data():
    a = transition(State.FIN_WAIT_1, Arrival(Segment(seq=300, ack=101)), profile=LINUX)
    b = transition(State.FIN_WAIT_1, Arrival(Segment(seq=300, ack=101)), profile=LINUX)
    assert a == b and hash(a) == hash(b) and isinstance(a, CheckSpec)
    assert a.kind == "transition" and a.kwargs == {"profile": LINUX}
    assert family("active-close", k=0).kwargs["k"] == 0  # k=0 (as it is) is kept, not taken for "unset"


def test_manifest_mistakes_are_sentences():
    with pytest.raises(ManifestError, match="no grading manifest for 99_nothing"):
        load_manifest("99_nothing")
    with pytest.raises(ManifestError, match="has no test cell 'test_nothing'; it has test_"):
        load_manifest(ASSIGNMENTS[0]).cell("test_nothing")
    with pytest.raises(ManifestError, match="needs at least one visible and one hidden check"):
        cell("test_x", 1, visible=[], hidden=[family("active-close")])
    with pytest.raises(ManifestError, match="weight must be positive"):
        family("active-close", weight=0)


def test_a_notebook_without_its_manifest_says_so_in_the_cell(tmp_path):
    tests = CellTests("01_active_close", course_root=tmp_path)
    with pytest.raises(AssertionError, match="the checks of 01_active_close cannot run here: no grading manifest"):
        tests.check({}, "test_established_close")


def test_a_manifest_elsewhere_is_read_from_its_course(tmp_path):
    (tmp_path / "source" / "07_extra").mkdir(parents=True)
    (tmp_path / "source" / "07_extra" / "manifest.py").write_text(
        "from autograder.manifest import cell, scenario, family\n"
        "CELLS = [cell('test_extra', 1, visible=[scenario('active-close')], hidden=[family('active-close', k=0)])]\n"
    )
    manifest = load_manifest("07_extra", tmp_path)
    assert [c.grade_id for c in manifest.cells] == ["test_extra"] and manifest.points == 1
    assert course_assignments(tmp_path) == ["07_extra"]
    assert transition(State.ESTABLISHED, AppClose()) not in manifest.before_submit
