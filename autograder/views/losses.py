"""The network picker's options: which segments a learner may have the network lose, named by role.

Kept apart from the widget: the recorder of the learner build (autograder.recording) and the
tests enumerate the same patterns without building a widget.
"""

from __future__ import annotations

from .model import events_of
from .pairing import segment_roles

PICKER_LOSSES = 2  # the network picker offers every pattern of up to this many lost segments...
PAIRS_UP_TO = 8  # ...in a run of at most this many segments; a longer one offers single losses only
# (05's old duplicate offered 122 options, "a 3rd time" after "a 2nd time": nobody reads that far)


def reference_trace_losing(name: str, profile: object, lose: tuple[str, ...] = ()) -> object:
    """The reference close machine on a catalogue scenario (profile: a name or a Profile),
    with extra segments lost. In a learner build, the recorded reference plays it."""
    from ..reference_source import reference_trace

    return reference_trace(name, profile, lose)


def picker_patterns(name: str, profile: object, k: int = PICKER_LOSSES) -> list[tuple[str, ...]]:
    """The loss patterns the network picker offers: up to k lost segments, or single losses when the
    run is long (an ACK war with TIME_WAIT = 0 sends over a hundred segments; their pairs would be
    thousands of options nobody scrolls through, and seconds of simulation before the picture)."""
    from ..reference_source import loss_patterns

    singles = loss_patterns(name, 1, profile)
    return singles if k <= 1 or len(singles) - 1 > PAIRS_UP_TO else loss_patterns(name, k, profile)


def loss_choices(name: str, profile: object, k: int = PICKER_LOSSES) -> list[tuple[str, tuple[str, ...]]]:
    """The loss patterns of picker_patterns as picker options named by role: "lose A's FIN (A1)",
    "lose B's ACK of A's FIN (B1) + A's FIN, again (A2)". A segment's name counts its sender's
    segments in the run where the losses before it already happened."""
    roles: dict[tuple[str, ...], dict[str, str]] = {}

    def role(before: tuple[str, ...], key: str) -> str:
        if before not in roles:
            roles[before] = segment_roles(events_of(reference_trace_losing(name, profile, before)))
        return f"{roles[before].get(key, 'segment')} ({key})"

    out = [("no extra loss", ())]
    for keys in picker_patterns(name, profile, k):
        if keys:
            out.append(("lose " + " + ".join(role(keys[:i], key) for i, key in enumerate(keys)), tuple(keys)))
    return out


def own_losses(name: str, profile: object, lose: tuple[str, ...] = ()) -> str:
    """A sentence naming the scenario's own lost segments by role in the run shown, and saying so
    when an extra loss has moved one of them onto another segment."""
    from reference_impl import scenarios
    from reference_impl.roles import Role, where

    own = [k if isinstance(k, Role) else f"{k[0]}{k[1]}"
           for k, fate in scenarios.get(name).scenario.fates.items() if fate.kind == "lose"]  # fmt: skip
    if not own:
        return ""
    base = segment_roles(events_of(reference_trace_losing(name, profile)))
    shown = segment_roles(events_of(reference_trace_losing(name, profile, lose))) if lose else base
    lost, moved = [], []  # "A's FIN (A1)"; "its own loss A2 falls on ... (it was ...)"
    for key in own:  # only the segments this run sends: fin-retry-limit loses up to 15, 7 are sent
        if isinstance(key, Role):  # named by what it is: it stays on its segment whatever else is lost
            at = where(key, reference_trace_losing(name, profile, lose).rows)
            if at is not None:
                lost.append(f"{key} ({at})")
            continue
        was, now = base.get(key), shown.get(key)
        if now is None:
            continue
        if was != now:
            moved.append(f"with this extra loss, the scenario's own loss {key} falls on {now} (it was {was})")
        else:
            lost.append(f"{now} ({key})")
    more = f" and {len(lost) - 3} more" if len(lost) > 3 else ""
    lost = lost[:3]
    parts = ([f"the scenario itself loses {', '.join(lost)}"] if lost else []) + moved
    text = "; ".join(parts) + more + "."
    return text[0].upper() + text[1:] if parts else ""
