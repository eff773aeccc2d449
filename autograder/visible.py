"""The visible half of each grading manifest, as data a learner build carries.

A learner build holds no course source, so the manifests (course/source/<NN>/manifest.py) are not
there. What its test cells need of them is the visible checks; `dump` writes those (and only
those) as JSON when the build is made, and `visible_manifest` reads them back as a Manifest whose
cells have no hidden checks. Check arguments are reference_impl values (states, stimuli, TCBs,
profiles, timers), written as tagged plain data (`autograder.plain`).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from reference_impl.profiles import Profile
from reference_impl.states import OUTPUT_TYPES, AppAbort, AppClose, AppSend, Arrival, State, Timeout, Timer
from reference_impl.tcb import TCB

from . import plain
from .manifest import CheckSpec, Manifest, TestCell, WriteYourself
from .predictions import Answer, ReplyAnswer, TraceAnswer

DIR = Path(__file__).parent / "_visible"
_STIMULI = (AppClose, AppSend, AppAbort, Arrival, Timeout)


def _encode(v: object) -> object:
    if v is None or type(v) in (bool, int, float, str):
        return v
    if isinstance(v, tuple | list):
        return {"tuple": [_encode(x) for x in v]}
    if isinstance(v, State):
        return {"State": v.name}
    if isinstance(v, Timer):
        return {"Timer": v.name}
    if isinstance(v, Profile):
        return {"Profile": plain.encode_profile(v)}
    if isinstance(v, TCB):
        return {"TCB": plain.encode_tcb(v)}
    if isinstance(v, _STIMULI):
        return {"Stimulus": plain.encode_stimulus(v)}
    if v in _STIMULI:  # a stimulus's kind: (State.FIN_WAIT_2, Arrival) in a check's `given`
        return {"StimulusKind": v.__name__}  # type: ignore[union-attr]
    kind = "an output" if isinstance(v, OUTPUT_TYPES) else type(v).__name__
    raise TypeError(
        f"a visible check's argument of type {kind} cannot be written as data; extend autograder/visible.py"
    )


def _decode(v: object) -> object:
    if not isinstance(v, dict):
        return v
    ((tag, value),) = v.items()
    if tag == "tuple":
        return tuple(_decode(x) for x in value)
    if tag == "State":
        return State[value]
    if tag == "Timer":
        return Timer[value]
    if tag == "Profile":
        return plain.decode_profile(value)
    if tag == "TCB":
        return plain.decode_tcb(value)
    if tag == "Stimulus":
        return plain.decode_stimulus(value)
    if tag == "StimulusKind":
        return next(k for k in _STIMULI if k.__name__ == value)
    raise ValueError(f"unknown tag {tag!r} in a visible manifest: rebuild the learner build")


def _spec(spec: CheckSpec) -> dict:
    return {"kind": spec.kind, "args": _encode(spec.args), "options": _encode(spec.options), "weight": spec.weight}


_ANSWERS = {"trace": TraceAnswer, "reply": ReplyAnswer}


def _answer(answer: Answer) -> dict:
    """A prediction's answer (a profile variant, e.g. TIME_WAIT = 0, written as data)."""
    kind = next(k for k, cls in _ANSWERS.items() if isinstance(answer, cls))
    return {"kind": kind, **{f.name: _encode(getattr(answer, f.name)) for f in dataclasses.fields(answer)}}


def _parse_answer(a: dict) -> Answer:
    fields = dict(a)
    return _ANSWERS[fields.pop("kind", "trace")](**{f: _decode(v) for f, v in fields.items()})


def dump(manifest: Manifest) -> bytes:
    """The manifest's visible checks (never its hidden ones, nor its "before you submit" selection)."""
    cells = [{"grade_id": c.grade_id, "points": c.points, "visible": [_spec(s) for s in c.visible],
              "yourself": [[w.state.name, list(w.blocks), w.what] for w in c.yourself],
              "defined": [s.name for s in State if s in c.defined]}
             for c in manifest.cells]  # fmt: skip
    return json.dumps(
        {
            "assignment": manifest.assignment,
            "cells": cells,
            "explanations": dict(manifest.explanations),
            "answers": {k: _answer(a) for k, a in manifest.answers},
        },
        indent=1,
        sort_keys=True,
    ).encode()


def parse(data: bytes) -> Manifest:
    doc = json.loads(data)
    cells = tuple(
        TestCell(c["grade_id"], float(c["points"]),
                 tuple(CheckSpec(s["kind"], _decode(s["args"]), _decode(s["options"]), s["weight"]) for s in c["visible"]),
                 (), tuple(WriteYourself(State[n], tuple(b), w) for n, b, w in c.get("yourself", ())),
                 frozenset(State[n] for n in c.get("defined", ())))
        for c in doc["cells"]
    )  # fmt: skip
    answers = tuple((k, _parse_answer(a)) for k, a in doc.get("answers", {}).items())
    return Manifest(doc["assignment"], cells, (), tuple(doc.get("explanations", {}).items()), answers)


def visible_manifest(assignment: str, directory: Path = DIR) -> Manifest | None:
    """The visible checks of `assignment` this build carries, or None (the full package has none)."""
    try:
        data = (directory / f"{assignment}.json").read_bytes()
    except OSError:
        return None
    return parse(data)
