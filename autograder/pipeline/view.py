"""The packages as the grading sandbox sees them: the learner view, without recordings.

The sandbox shows learner code only this directory of the course's code: `reference_impl`
without its handlers and `autograder` without the pipeline, the sandbox and every
recorded reference run, so a handler that tries to delegate to the reference finds nothing
there. `real_package_dirs` names what the sandbox must mask wherever it would show.
"""

from __future__ import annotations

from pathlib import Path

import autograder
import reference_impl


class ViewError(Exception):
    """The grading view cannot be made; one sentence for the instructor."""


def grading_view(dest: Path) -> Path:
    """Write the grading sandbox's view into `dest` (made once per batch) and return it."""
    dest.mkdir(parents=True, exist_ok=True)
    try:
        from autograder.learner_build import BuildError, build_learner_view
    except ImportError:  # a checkout without the learner build: the same view, by exclusion
        view = _copied_view(dest)
    else:
        try:
            view = build_learner_view(dest, recordings=False)
        except BuildError as e:
            raise ViewError(f"the grading sandbox's view of the packages cannot be built: {e}") from None
    if (view / "reference_impl" / "handlers.py").exists() or not (view / "autograder" / "runner").is_dir():
        raise ViewError(f"{view}: not a grading view (it must hold the runner and no reference handlers)")
    return view


LEFT_OUT = ("reference_impl/handlers.py", "autograder/pipeline", "autograder/sandbox",
            "autograder/grading_commands.py", "autograder/learner_build.py", "autograder/recording.py",
            "autograder/checks_old.py", "autograder/_recorded", "autograder/_visible")  # fmt: skip


def _copied_view(dest: Path) -> Path:
    """Both packages as Python files, without the answer key, the grading pipeline or any recording."""
    import shutil

    top = Path(reference_impl.__file__).resolve().parent.parent
    for package in ("reference_impl", "autograder"):
        shutil.rmtree(dest / package, ignore_errors=True)
        for path in sorted((top / package).rglob("*.py")):
            rel = path.relative_to(top).as_posix()
            if "__pycache__" in rel or any(rel == x or rel.startswith(x + "/") for x in LEFT_OUT):
                continue
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest / rel)
    return dest


def real_package_dirs() -> list[str]:
    """The full packages' directories and, for an editable install, the checkout that holds them."""
    dirs = [Path(reference_impl.__file__).resolve().parent, Path(autograder.__file__).resolve().parent]
    checkout = dirs[0].parent
    if (checkout / "pyproject.toml").is_file() or (checkout / ".git").exists():
        dirs.append(checkout)  # tests/ there hold whole implementations, course/ the solutions
    return [str(d) for d in dirs]
