"""The learner wheel, installed into a fresh virtualenv as a lab's student image would install it:
all six solution notebooks run top to bottom, and nothing installed holds the answer key."""

from __future__ import annotations

import gzip
import inspect
import json
import os
import subprocess
import textwrap
from pathlib import Path

import nbformat

from autograder import visible
from autograder.manifest import course_assignments, load_manifest
from reference_impl import handlers
from tests.learner_build.conftest import solution

SOURCE = Path(__file__).resolve().parents[2] / "course" / "source"
NOTEBOOKS = sorted(SOURCE.glob("*/*.ipynb"))

RUN_NOTEBOOKS = """
    import sys
    from pathlib import Path
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    failed = []
    for path in sorted(Path(sys.argv[1]).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        try:
            NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
        except CellExecutionError as e:
            failed.append(f"{path.name}: {str(e)[-1500:]}")
        nbformat.write(nb, path)
    print("\\n".join(failed) or "all ran")
"""


def python(env: Path, code: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run `code` on the virtualenv's interpreter, with nothing of this process's package path."""
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return subprocess.run([str(env / "bin" / "python"), "-c", textwrap.dedent(code), *args], capture_output=True,
                          text=True, timeout=1800, cwd=cwd or env, env={**clean, "PYTHONNOUSERSITE": "1"})  # fmt: skip


def installed_files(env: Path) -> list[Path]:
    """Every file the learner wheel installed (its RECORD)."""
    (site,) = env.glob("lib/python*/site-packages")
    (record,) = site.glob("tcp_goodbye_learner-*.dist-info/RECORD")
    return [(site / line.split(",")[0]).resolve() for line in record.read_text().splitlines() if line]


def test_all_six_solution_notebooks_run_top_to_bottom(learner_venv, tmp_path):
    assert len(NOTEBOOKS) == 7  # 01-06 and 07_production
    for path in NOTEBOOKS:
        nb = solution(path)
        nb.cells.append(
            nbformat.v4.new_code_cell("from autograder.reference_source import source_kind\nprint(source_kind())")
        )
        nbformat.write(nb, tmp_path / path.name)
    done = python(learner_venv, RUN_NOTEBOOKS, str(tmp_path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "all ran", done.stdout
    for path in NOTEBOOKS:  # each kernel ran on the recorded reference, nothing else
        outputs = nbformat.read(tmp_path / path.name, as_version=4).cells[-1].outputs
        # one print may reach the notebook as two stream messages ("recorded", then "\n")
        assert "".join(o.get("text", "") for o in outputs if o.output_type == "stream") == "recorded\n", path.name
    first = nbformat.read(tmp_path / "01_active_close.ipynb", as_version=4)
    shown = json.dumps([c.outputs for c in first.cells if c.cell_type == "code"])
    assert "application/vnd.jupyter.widget-view+json" in shown  # timelines and predictions were drawn
    assert "No timeline here" not in shown and "Your run stopped" not in shown


def test_the_reference_handlers_cannot_be_imported(learner_venv):
    done = python(learner_venv, "import reference_impl.handlers")
    assert done.returncode != 0 and "No module named 'reference_impl.handlers'" in done.stderr
    done = python(learner_venv, "from autograder.reference_source import source_kind; print(source_kind())")
    assert done.stdout.strip() == "recorded", done.stderr


def test_no_installed_file_holds_a_reference_handler_or_a_hidden_check(learner_venv):
    files = installed_files(learner_venv)
    assert any(f.name == "reference.json.gz" for f in files)
    texts = {}
    for f in files:
        data = f.read_bytes()
        texts[f] = (gzip.decompress(data) if f.suffix == ".gz" else data).decode("utf-8", "replace")
    sources = [inspect.getsource(fn) for fn in (*handlers.HANDLERS.values(), handlers.handle)]
    bodies = [textwrap.dedent(s.split("\n", 1)[1]).strip() for s in sources]  # without the def line
    for f, text in texts.items():
        assert not (f.name == "handlers.py" and f.parent.name == "reference_impl") and "course" not in f.parts, f
        assert not [s for s in sources + bodies if s in text], f"{f} holds a reference handler's source"
        assert "BEGIN HIDDEN TESTS" not in text, f
    carried = {f.stem: visible.parse(f.read_bytes()) for f in files if f.parent.name == "_visible"}
    assert sorted(carried) == course_assignments()
    for assignment, manifest in carried.items():
        shown = {spec for c in load_manifest(assignment).cells for spec in c.visible}
        assert all(not c.hidden for c in manifest.cells)
        assert {spec for c in manifest.cells for spec in c.visible} <= shown
        # which handlers each cell takes as the learner's: the same as with the full package
        assert {c.grade_id: c.defined for c in manifest.cells} == {
            c.grade_id: c.defined for c in load_manifest(assignment).cells
        }


def test_tcpclose_replays_the_recorded_runs_and_has_no_grading_commands(learner_venv):
    tcpclose = str(learner_venv / "bin" / "tcpclose")
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([tcpclose, "simulate", "lost-final-ack", "--lose", "A3"], capture_output=True, text=True,
                          env=clean)  # fmt: skip
    assert done.returncode == 0 and "TIME_WAIT" in done.stdout, done.stderr
    done = subprocess.run([tcpclose, "grade", "autograde", "01_active_close"], capture_output=True, text=True,
                          env=clean)  # fmt: skip
    assert done.returncode == 2 and "invalid choice: 'grade'" in done.stderr


def test_a_students_lab_hides_nbgraders_instructor_panels(learner_venv):
    """The wheel installs deploy/learner's settings where Jupyter reads them ({sys.prefix}/etc/jupyter):
    no Formgrader, Create Assignment or Course List in a student's JupyterLab, nor their server parts."""
    page = json.loads((learner_venv / "etc/jupyter/labconfig/page_config.json").read_text())
    assert page["disabledExtensions"] == {f"@jupyter/nbgrader:{p}": True
                                          for p in ("formgrader", "create-assignment", "course-list")}  # fmt: skip
    server = json.loads((learner_venv / "etc/jupyter/jupyter_server_config.d/tcp_goodbye_learner.json").read_text())
    assert set(server["ServerApp"]["jpserver_extensions"].values()) == {False}
