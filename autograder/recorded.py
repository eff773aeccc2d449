"""The recorded reference: what the reference answered, kept as data for a learner build.

A learner build of the course holds no handler code. In its place is this module and a file,
`_recorded/reference.json.gz`, written when the build was made (`autograder.learner_build`):
every handler call the reference made in the course's runs (each catalogue scenario under the
course's profiles, with every loss pattern the timeline offers, and each visible check of the
notebooks) as its exact input, (state, TCB, stimulus, profile), and the Step it returned, all
as plain data (`autograder.plain`).

`RecordedMachine` plays the reference from that table. A call whose exact input was recorded
gets the recorded Step, so a learner's run that follows the reference's is answered exactly as
the reference would. Any other input stops the run with `RecordedMiss`: the recorded runs never
reach that input, so the learner's run must already have departed from the reference's, which
is where the check fails and show_mine marks the first difference.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Mapping
from dataclasses import fields
from pathlib import Path

from reference_impl.profiles import Profile, profile_text
from reference_impl.states import State, Step, Stimulus, stimulus_text
from reference_impl.tcb import TCB

from . import plain
from .harness import LearnerError

DATA = Path(__file__).parent / "_recorded" / "reference.json.gz"
FORMAT = 1

Key = tuple[State, TCB, Stimulus, Profile]


class RecordedMiss(LearnerError):
    """The recorded reference was asked about an input the reference's recorded runs never reach."""

    def __init__(self, sentence: str, state: State, tcb: TCB, stimulus: Stimulus, profile: Profile) -> None:
        super().__init__(sentence, "recorded")
        self.state, self.stimulus = state, stimulus
        self.tcb, self.profile = tcb, profile

    def _render_traceback_(self) -> list[str]:  # IPython shows the sentence, not the frames
        return [self.sentence]


class RecordedReference:
    """The answers, the profiles they were recorded under, and a machine that plays them."""

    kind = "recorded"
    Miss = RecordedMiss

    def __init__(self, answers: Mapping[Key, Step], profiles: Iterable[Profile], k: int) -> None:
        self.answers = dict(answers)
        self.profiles = tuple(profiles)  # the base profiles of the course's runs
        self.k = k  # extra losses per run, as the timeline's picker offers them
        self._by_situation: dict[tuple[State, Stimulus, Profile], list[TCB]] = {}
        for state, tcb, stimulus, profile in self.answers:
            self._by_situation.setdefault((state, stimulus, profile), []).append(tcb)
        self._seen_profiles = {profile for _, _, _, profile in self.answers}
        self._machine = {state: self._handler(state) for state in State}

    def machine(self) -> Mapping[State, object]:
        return self._machine

    def not_recorded(self, name: str, profile: Profile, lose: Iterable[str]) -> str:
        """Why a run the recordings do not cover cannot be shown, in one sentence."""
        losses = f" losing {', '.join(lose)}" if lose else ""
        return (
            f"this learner build holds the reference's runs of the catalogue's scenarios under "
            f"{', '.join(map(profile_text, self.profiles))}, with the timeline's extra losses (up to {self.k} "
            f"segments, one in a long run); "
            f"{name} under {profile_text(profile)}{losses} is not among them"
        )

    def _handler(self, state: State):
        answers = self.answers

        def recorded_reference(tcb: TCB, ev: Stimulus, profile: Profile) -> Step:
            step = answers.get((state, tcb, ev, profile))
            if step is None:
                raise self.miss(state, tcb, ev, profile)
            return step

        recorded_reference.__qualname__ = f"recorded reference {state.value.lower()}"
        return recorded_reference

    def miss(self, state: State, tcb: TCB, ev: Stimulus, profile: Profile) -> RecordedMiss:
        """The sentence for an input the recordings do not hold, with the nearest recorded TCB's
        differences when the situation itself was recorded."""
        head = f"the recorded reference, playing {state} for you, stops at the {stimulus_text(ev)}"
        near = self._by_situation.get((state, ev, profile))
        if profile not in self._seen_profiles:
            sentence = (
                f"{head}: this build recorded the reference under "
                f"{', '.join(map(profile_text, self.profiles))} only, not {profile_text(profile)}"
            )
        else:
            if near:
                closest = min(near, key=lambda t: len(_tcb_difference(tcb, t)))
                why = f"they meet this only with another TCB ({_tcb_difference(tcb, closest)})"
            else:
                why = f"they never get here (TCB: {tcb})"
            sentence = (
                f"{head}: this build holds the reference's answers in the course's own runs and checks only, "
                f"and {why}; so your run had already left the reference's path before this point (fix the "
                "first difference from the reference, which the check and show_mine name, and it goes on), "
                "or this is a check of your own making, which needs the full package"
            )
        return RecordedMiss(sentence, state, tcb, ev, profile)


def _tcb_difference(mine: TCB, recorded: TCB) -> str:
    diffs = [f"yours has {f.name}={getattr(mine, f.name)!r}, the reference's {getattr(recorded, f.name)!r}"
             for f in fields(TCB) if getattr(mine, f.name) != getattr(recorded, f.name)]  # fmt: skip
    return ", ".join(diffs) or "the same TCB"


# ---- the data file -----------------------------------------------------------------------------


def dump(answers: Mapping[Key, Step], profiles: Iterable[Profile], k: int) -> bytes:
    """The recorded answers as gzipped JSON of plain data (deterministic: same answers, same bytes)."""
    profiles = list(profiles)
    table: list[dict] = []
    index: dict[Profile, int] = {}
    calls = []
    for (state, tcb, stimulus, profile), step in answers.items():
        if profile not in index:
            index[profile] = len(table)
            table.append(plain.encode_profile(profile))
        call = plain.encode_call(state, tcb, stimulus, profile)
        calls.append([call["state"], call["tcb"], call["stimulus"], index[profile], plain.encode_step(step)])
    calls.sort(key=lambda c: json.dumps(c, sort_keys=True))
    doc = {"format": FORMAT, "k": k, "profiles": [plain.encode_profile(p) for p in profiles],
           "call_profiles": table, "calls": calls}  # fmt: skip
    text = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    return gzip.compress(text, compresslevel=9, mtime=0)


def parse(data: bytes) -> RecordedReference:
    doc = json.loads(gzip.decompress(data))
    if doc.get("format") != FORMAT:
        raise ValueError(f"recorded reference of format {doc.get('format')!r}, expected {FORMAT}: rebuild it")
    limits = plain.Limits(message=1 << 30)
    call_profiles = [plain.decode_profile(p, limits) for p in doc["call_profiles"]]
    answers: dict[Key, Step] = {}
    for state, tcb, stimulus, p, step in doc["calls"]:
        key = (State[state], plain.decode_tcb(tcb, limits), plain.decode_stimulus(stimulus, limits), call_profiles[p])
        answers[key] = plain.decode_step(step, limits)
    return RecordedReference(answers, [plain.decode_profile(p, limits) for p in doc["profiles"]], doc["k"])


def load(path: Path = DATA) -> RecordedReference | None:
    """The recorded reference of this build, or None where there is none (the full package, the
    grading sandbox)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return parse(data)
