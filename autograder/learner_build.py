"""The learner build: the course's two packages without the answer key.

    build_learner_view(dest, recordings=True)    the learner's environment (a lab's student image)
    build_learner_view(dest, recordings=False)   the grading sandbox's view: no reference at all
    python -m autograder.learner_build wheel DIST    what `make learner-build` runs

A view is an importable directory holding `reference_impl/` and `autograder/` as a learner may
have them. What goes in is decided file by file (LEARNER_FILES, INSTRUCTOR_FILES below): a module
that is in neither list stops the build, so a new instructor-only file can never slip into a
lab's image unnoticed. Left out: the reference's handlers (the answer key), the grading pipeline,
the sandbox, this builder, and the course source (solutions, hidden tests,
manifests). Each notebook's visible checks go in as data (`autograder.visible`), never the hidden
ones; with recordings, so does the recorded reference (`autograder.recorded`: every handler call
the reference made in the course's runs, with its answer).
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import os
import shutil
import site
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import reference_impl

from .recording import RECORDED_NAME, VISIBLE_DIR, course_root, write_visible_manifests

PACKAGES = Path(reference_impl.__file__).resolve().parent.parent  # holds reference_impl/ and autograder/
REPO = PACKAGES  # the full package's repository (its pyproject.toml, when there is one)

# What a learner's environment holds: the vocabulary, the simulator, the checks' machinery, the
# views, the loopback lab, and the seam that plays the recorded reference.
LEARNER_FILES = (
    "reference_impl/__init__.py", "reference_impl/actions.py", "reference_impl/inputs.py", "reference_impl/profiles.py",
    "reference_impl/scenarios.py", "reference_impl/script.py", "reference_impl/segment.py",
    "reference_impl/sim.py", "reference_impl/sim_outputs.py", "reference_impl/states.py", "reference_impl/tcb.py",
    "reference_impl/trace.py",
    "reference_impl/transitions.py", "reference_impl/roles.py", "reference_impl/channel.py",
    "reference_impl/script_parser.py", "reference_impl/script_values.py", "reference_impl/reuse.py",
    "reference_impl/timestamps.py", "reference_impl/sweep.py", "reference_impl/stack.py",
    "autograder/__init__.py", "autograder/cli.py", "autograder/pcap.py", "autograder/learner.py", "autograder/harness/*.py",
    "autograder/plain/*.py", "autograder/feedback.py", "autograder/integrity.py", "autograder/manifest.py",
    "autograder/checks/*.py", "autograder/reference_source.py", "autograder/recorded.py",
    "autograder/visible.py", "autograder/notebook_helpers.py", "autograder/course_map.py", "autograder/views/*.py",
    "autograder/predictions.py", "autograder/notebook_maps.py",  # notebook_helpers' questions and maps
    "autograder/cell_position.py",  # where the running cell is: the pickers offer what was named above it
    "autograder/kernel/*.py",
    "autograder/runner/*.py",  # what the grading sandbox runs: the learner's cells, answering handler calls
    "autograder/production.py", "autograder/production_checks.py", "autograder/production_calls.py",
    "autograder/production_peer.py", "autograder/production_drivers.py",  # notebook 07's loopback harness, visible checks
    "autograder/linux.py",  # Linux calls through ctypes: the kernel lab's namespaces (and the sandbox's)
)  # fmt: skip
# What stays with instructors, and why.
INSTRUCTOR_FILES = (
    "reference_impl/handlers.py",  # the answer key
    "reference_impl/opening.py",  # the opening states' handlers: the recorded reference plays them
    "autograder/production_hidden.py",  # notebook 07's hidden socket cases
    "autograder/pipeline/*",  # nbgrader workflow, hidden tests, gradebook
    "autograder/grading_commands.py",
    "autograder/sandbox.py", "autograder/sandbox/*",
    "autograder/learner_build.py", "autograder/recording.py",  # they run the reference to record it
)  # fmt: skip


class BuildError(Exception):
    """The build cannot be made; one sentence for whoever runs it."""


def _matches(rel: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(rel, p) for p in patterns)


def learner_files(packages: Path = PACKAGES) -> list[str]:
    """The package files of the learner view, relative to `packages`; BuildError for an unclassified one."""
    kept, unknown = [], []
    for package in ("reference_impl", "autograder"):
        for path in sorted((packages / package).rglob("*")):
            if path.is_dir() or "__pycache__" in path.parts:
                continue
            rel = path.relative_to(packages).as_posix()
            if _matches(rel, INSTRUCTOR_FILES):
                continue
            if _matches(rel, LEARNER_FILES):
                kept.append(rel)
            else:
                unknown.append(rel)
    if unknown:
        raise BuildError(f"{', '.join(unknown)}: not classified for the learner build; add it to LEARNER_FILES "
                         "or INSTRUCTOR_FILES in autograder/learner_build.py")  # fmt: skip
    return kept


def build_learner_view(dest: Path, *, recordings: bool) -> Path:
    """Write the learner view of `reference_impl` and `autograder` into `dest` and return `dest`,
    the directory to put on sys.path. Without recordings there is no reference behind
    `autograder.reference_source` at all (the grading sandbox's view)."""
    dest = Path(dest)
    for package in ("reference_impl", "autograder"):
        shutil.rmtree(dest / package, ignore_errors=True)
    for rel in learner_files():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PACKAGES / rel, target)
    course = course_root()
    write_visible_manifests(course, dest / "autograder" / VISIBLE_DIR)
    if recordings:
        shutil.copytree(recorded_data(course), dest / "autograder", dirs_exist_ok=True)
    return dest


def view_python(view: Path) -> tuple[list[str], dict[str, str]]:
    """How to run this interpreter on a view alone: (argv prefix, environment to add).

    `-S` keeps site-packages' .pth files from running: an editable install of the full package
    (`make setup`) maps every `reference_impl.*` module back to the repository through one, so
    `import reference_impl.handlers` would succeed even with the view first on sys.path. The
    interpreter's site-packages directories go on PYTHONPATH after the view instead, for the
    other dependencies (ipywidgets, pandas).
    """
    paths = [str(Path(view).resolve())] + [p for p in dict.fromkeys(site.getsitepackages()) if Path(p).is_dir()]
    return [sys.executable, "-S"], {"PYTHONPATH": os.pathsep.join(paths), "PYTHONNOUSERSITE": "1"}


# ---- the recorded data, made in a fresh process of the full package -------------------------------


def _fingerprint(course: Path) -> str:
    """What the recordings depend on: every source file of both packages and the course's notebooks
    and manifests."""
    h = hashlib.sha256()
    files = [p for package in ("reference_impl", "autograder") for p in (PACKAGES / package).rglob("*.py")]
    files += list((course / "source").glob("*/*.ipynb")) + list((course / "source").glob("*/manifest.py"))
    for path in sorted(files):
        h.update(path.as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:20]


def recorded_data(course: Path | None = None) -> Path:
    """A directory holding `_recorded/` for this source, made once per fingerprint
    (a cache under $XDG_CACHE_HOME) by `python -m autograder.recording` in a fresh process, so no
    cache of this one holds a reference run made outside the recorder."""
    course = course or course_root()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tcp-goodbye"
    out = cache / f"learner-data-{_fingerprint(course)}"
    if (out / RECORDED_NAME).is_file():
        return out
    tmp = Path(tempfile.mkdtemp(prefix="partial-", dir=_mkdir(cache)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PACKAGES), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "autograder.recording", str(course), str(tmp)],
                          env=env, capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise BuildError(f"recording the reference failed: {lines[-1] if lines else 'no output'}")
    if not (out / RECORDED_NAME).is_file():  # another build may have finished the same data meanwhile
        shutil.rmtree(out, ignore_errors=True)
        try:
            tmp.rename(out)
        except OSError:
            if not (out / RECORDED_NAME).is_file():
                raise
    shutil.rmtree(tmp, ignore_errors=True)
    _prune(cache, keep=3)
    return out


def _prune(cache: Path, keep: int) -> None:
    """Keep the newest few fingerprints' data only."""
    found = []
    for d in cache.glob("learner-data-*"):
        try:
            found.append((d.stat().st_mtime, str(d)))
        except OSError:  # another build removed it meanwhile
            pass
    for _, d in sorted(found)[:-keep]:
        shutil.rmtree(d, ignore_errors=True)


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


# ---- the wheel for a lab's image ----------------------------------------------------------------


def _pins(main: dict, names: tuple[str, ...]) -> list[str]:
    """The full package's own requirement strings for these distributions (same pins in both builds)."""
    deps = main["project"]["dependencies"]
    return [d for d in deps if d.split("=")[0].split(">")[0].split("<")[0].strip() in names]


def build_wheel(dist: Path) -> Path:
    """A wheel of the learner view with recordings, for a lab's JupyterHub image; returns its path."""
    main = tomllib.loads((REPO / "pyproject.toml").read_text())
    dist = _mkdir(Path(dist).resolve())
    with tempfile.TemporaryDirectory(prefix="learner-wheel-") as tmp:
        src = build_learner_view(Path(tmp), recordings=True)
        (src / "pyproject.toml").write_text(_PYPROJECT.format(
            version=main["project"]["version"],
            deps=", ".join(f'"{d}"' for d in _pins(main, ("ipywidgets", "pandas"))),
            lab=", ".join(f'"{d}"' for d in _pins(main, ("jupyterlab", "notebook", "nbgrader"))),
            data_files="\n".join(f'"{where}" = ["{rel}"]' for where, rel in _LAB_CONFIG.items()),
        ))  # fmt: skip
        (src / "README.md").write_text(_README)
        for rel in _LAB_CONFIG.values():  # a learner's lab: nbgrader's instructor panels stay hidden
            _mkdir((src / rel).parent)
            shutil.copy(REPO / "deploy" / "learner" / rel, src / rel)
        before = set(dist.glob("*.whl"))
        # pip builds in an isolated environment with a current setuptools (from the index or pip's cache)
        done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist),
                               str(src)], capture_output=True, text=True)  # fmt: skip
        if done.returncode != 0:
            raise BuildError(f"pip wheel failed: {(done.stderr or done.stdout).strip().splitlines()[-1]}")
    made = sorted(set(dist.glob("tcp_goodbye_learner-*.whl")) - before) or sorted(
        dist.glob("tcp_goodbye_learner-*.whl")
    )
    return made[-1]


_PYPROJECT = """\
[build-system]
requires = ["setuptools>=77"]
build-backend = "setuptools.build_meta"

[project]
name = "tcp-goodbye-learner"
version = "{version}"
description = "TCP goodbye, the learner build: the course's notebooks run on recorded reference data"
readme = "README.md"
requires-python = ">=3.11"
license = "MIT"
dependencies = [{deps}]

[project.optional-dependencies]
lab = [{lab}]

[project.scripts]
tcpclose = "autograder.cli:main"

[tool.setuptools.packages.find]
include = ["reference_impl*", "autograder*"]

[tool.setuptools.package-data]
autograder = ["_recorded/*", "_visible/*"]

[tool.setuptools.data-files]
{data_files}
"""
# deploy/learner's files a wheel installs under {sys.prefix}/etc/jupyter, where Jupyter reads them:
# nbgrader's Formgrader, Create Assignment and Course List hidden in a student's JupyterLab
_LAB_CONFIG = {
    "etc/jupyter/labconfig": "labconfig/page_config.json",
    "etc/jupyter/jupyter_server_config.d": "jupyter_server_config.d/tcp_goodbye_learner.json",
}

_README = """\
# TCP goodbye: learner build

The course's packages for a lab's student image: the notebooks' vocabulary, simulator, visible
checks, timelines and predictions, with the reference's behaviour recorded as data. No reference
handlers, no hidden tests, no grading pipeline: grading happens on the instructor's side.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.learner_build",
                                     description="Build the learner view of the course's packages.")  # fmt: skip
    sub = parser.add_subparsers(dest="what", required=True)
    w = sub.add_parser("wheel", help="a wheel for a lab's JupyterHub image")
    w.add_argument("dist", type=Path)
    v = sub.add_parser("view", help="an importable directory")
    v.add_argument("dest", type=Path)
    v.add_argument("--no-recordings", action="store_true", help="the grading sandbox's view")
    args = parser.parse_args(argv)
    try:
        if args.what == "wheel":
            wheel = build_wheel(args.dist)
            print(f"{wheel} ({wheel.stat().st_size / 1e6:.2f} MB)")
        else:
            print(build_learner_view(args.dest, recordings=not args.no_recordings))
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
