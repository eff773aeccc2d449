"""The class's first tries at the predictions, read from the notebooks as submitted (never a score)."""

from __future__ import annotations

import ast
import json

import pandas as pd

from .course import Course

PREDICTION_COLUMNS = ["assignment", "student", "key", "question", "answer", "first_try", "right"]
READ_LIMIT = 20 * 2**20  # bytes: a larger notebook is not read (autograde refuses it too)


def class_predictions(course: Course) -> pd.DataFrame:
    """One row per prediction a student answered, read from the notebooks as they were submitted.

    A prediction cell saves the learner's first try in its output (autograder.notebook_helpers,
    PREDICTION_MIME); autograding re-runs a notebook in a fresh kernel, so only the submitted copy
    holds them. They are the learner's own file, so they are read defensively: only questions the
    release asks and choices it offers, in the release's words; the answer from the grading
    manifest (else the class's commonest); one per student and question; never a score. They show
    the class's misconceptions, nothing more."""
    from autograder.notebook_helpers import PREDICTION_MIME

    rows = []
    for a in course.assignments():
        asked = released_questions(course, a)
        for sid in course.students(a):
            seen = set()
            for path in sorted(course.path("submitted", sid, a).glob("*.ipynb")):
                for data in _prediction_records(path, PREDICTION_MIME):
                    key = data.get("key")
                    if key not in asked or key in seen or data["first_try"] not in asked[key][1]:
                        continue  # a question the release never asks, or a choice it never offers
                    seen.add(key)
                    answer = data.get("answer") if data.get("answer") in asked[key][1] else None
                    rows.append({"assignment": a, "student": sid, "key": key, "question": asked[key][0],
                                 "first_try": data["first_try"], "answer": answer, "right": False})  # fmt: skip
    frame = pd.DataFrame(rows, columns=PREDICTION_COLUMNS)
    for (a, key), group in frame.groupby(["assignment", "key"], sort=False):
        answer = _trusted_answer(course, a, key) or _commonest(group["answer"])
        frame.loc[group.index, "answer"] = answer
        frame.loc[group.index, "right"] = group["first_try"] == answer
    return frame


def released_questions(course: Course, assignment: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    """key -> (question, choices) of every `tests.predict(key, question, choices, ...)` the release
    asks: a submission's records are kept only for these, with the release's words, never theirs."""
    found: dict[str, tuple[str, tuple[str, ...]]] = {}
    for path in sorted(course.path("release", "", assignment).glob("*.ipynb")):
        try:
            cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
        except (OSError, ValueError):
            continue
        for cell in cells:
            source = "".join(cell.get("source", "")) if cell.get("cell_type") == "code" else ""
            try:
                tree = ast.parse(source)
            except SyntaxError:
                continue
            for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call) and len(n.args) >= 3):
                name = getattr(call.func, "attr", getattr(call.func, "id", ""))
                key, question, choices = call.args[:3]
                if (name == "predict" and isinstance(key, ast.Constant) and isinstance(question, ast.Constant)
                        and isinstance(choices, ast.List | ast.Tuple)):  # fmt: skip
                    options = tuple(c.value for c in choices.elts if isinstance(c, ast.Constant))
                    found[str(key.value)] = (str(question.value), tuple(str(o) for o in options))
    return found


def _trusted_answer(course: Course, assignment: str, key: str) -> str | None:
    """The reference's own answer where the grading manifest says where it lies (ANSWERS), else None."""
    try:
        from autograder.manifest import load_manifest

        where = load_manifest(assignment, course.root).answer(key)
        return None if where is None else str(where())
    except Exception:  # noqa: BLE001 - a course without that manifest or reference: the class's commonest answer
        return None


def _commonest(answers: pd.Series) -> str:
    """The answer most records carry (a prediction computed in its cell has none in the manifest)."""
    counts = answers.dropna().value_counts()
    return str(counts.index[0]) if len(counts) else ""


def _prediction_records(path, mime: str) -> list[dict]:
    try:
        if path.stat().st_size > READ_LIMIT:
            return []
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError, RecursionError):
        return []
    found = []
    for cell in nb.get("cells", []) if isinstance(nb, dict) and isinstance(nb.get("cells"), list) else []:
        outputs = cell.get("outputs") if isinstance(cell, dict) else None
        for out in outputs if isinstance(outputs, list) else []:
            data = out.get("data") if isinstance(out, dict) else None
            record = data.get(mime) if isinstance(data, dict) else None
            if (isinstance(record, dict) and isinstance(record.get("question"), str)
                    and isinstance(record.get("first_try"), str)):  # fmt: skip
                found.append(record)
    return found


def prediction_summary(predictions: pd.DataFrame) -> pd.DataFrame:
    """Per assignment and question: how many answered, the share right at the first try, and the
    commonest wrong first try with its count (the misconception to discuss in class)."""
    columns = ["assignment", "question", "answer", "answered", "right_first", "common_wrong", "common_wrong_n"]
    out = []
    for (a, _key), g in predictions.groupby(["assignment", "key"], sort=False):
        wrong = g.loc[~g["right"], "first_try"].value_counts()
        out.append({"assignment": a, "question": g["question"].iloc[0], "answer": g["answer"].iloc[0],
                    "answered": len(g), "right_first": float(g["right"].mean()),
                    "common_wrong": wrong.index[0] if len(wrong) else "", "common_wrong_n": int(wrong.iloc[0]) if len(wrong) else 0})  # fmt: skip
    return pd.DataFrame(out, columns=columns)
