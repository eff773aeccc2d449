"""The class's first tries at the predictions, read from the notebooks as submitted (never a score)."""

from __future__ import annotations

import json

import pandas as pd

from .course import Course

PREDICTION_COLUMNS = ["assignment", "student", "key", "question", "answer", "first_try", "right"]
_LONGEST = 500  # characters kept of a question or a choice: the records are the learner's file


def class_predictions(course: Course) -> pd.DataFrame:
    """One row per prediction a student answered, read from the notebooks as they were submitted.

    A prediction cell saves the learner's first try in its output (autograder.notebook_helpers,
    PREDICTION_MIME); autograding re-runs a notebook in a fresh kernel, so only the submitted copy
    holds them. They are the learner's own file, so they are read defensively (anything malformed
    is skipped, strings cut short), count one per student and question, and never touch a score:
    they show the class's misconceptions, nothing more."""
    from autograder.notebook_helpers import PREDICTION_MIME

    rows = []
    for a in course.assignments():
        for sid in course.students(a):
            seen = set()
            for path in sorted(course.path("submitted", sid, a).glob("*.ipynb")):
                for data in _prediction_records(path, PREDICTION_MIME):
                    key = str(data.get("key"))[:40]
                    if key in seen:
                        continue
                    seen.add(key)
                    answer = data.get("answer")
                    rows.append({"assignment": a, "student": sid, "key": key,
                                 "question": data["question"][:_LONGEST], "first_try": data["first_try"][:_LONGEST],
                                 "answer": answer[:_LONGEST] if isinstance(answer, str) else "",
                                 "right": isinstance(answer, str) and data["first_try"] == answer})  # fmt: skip
    return pd.DataFrame(rows, columns=PREDICTION_COLUMNS)


def _prediction_records(path, mime: str) -> list[dict]:
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
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
