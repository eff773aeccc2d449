"""The network between A and B: what happens to each segment sent (RFC 9293 §3.4.2's MSL bounds it).

Each direction delivers a segment after the scenario's one-way delay unless a fate says
otherwise: "lose", "duplicate" (a second copy arrives `delay` later) or "delay" (arrives
`delay` late). A fate names its segment by ordinal ("A2") or by role ("A's FIN",
`reference_impl.roles`); an ordinal key wins when both name the same segment.
"""

from __future__ import annotations

from collections.abc import Mapping

from .inputs import Fate, FateKey
from .profiles import Profile
from .roles import Role, RoleCounter, key_text
from .segment import Segment
from .states import format_duration

LABELS = {None: "delivered", "lose": "lost", "duplicate": "duplicated", "delay": "delayed"}


def check_lifetimes(fates: Mapping[FateKey, Fate], delay: int, profile: Profile) -> None:
    """RFC 9293 §3.4.2: no segment lives longer than MSL; TIME_WAIT's 2 MSL rests on it."""
    if delay > profile.msl:
        raise ValueError(f"a one-way delay of {format_duration(delay)} keeps every segment in the network "
                         f"longer than the MSL of {format_duration(profile.msl)}")  # fmt: skip
    for key, fate in fates.items():
        if fate.kind != "lose" and delay + fate.delay > profile.msl:
            raise ValueError(
                f"segment {key_text(key)} would spend {format_duration(delay + fate.delay)} "
                f"in the network, longer than the MSL of {format_duration(profile.msl)}"
            )


class Channel:
    """Both directions of the network for one run: `send` says what becomes of a segment."""

    def __init__(self, fates: Mapping[FateKey, Fate], delay: int) -> None:
        self.delay = delay
        self._ordinal = {k: f for k, f in fates.items() if not isinstance(k, Role)}
        self._role = {k: f for k, f in fates.items() if isinstance(k, Role)}
        self._counter = RoleCounter() if self._role else None  # roles are named only when a fate uses one
        self.applied: set[FateKey] = set()  # the fates that met their segment

    def reopen(self, endpoint: str) -> None:
        """`endpoint` starts a new connection of the 4-tuple (roles may count per connection)."""
        if self._counter is not None:
            self._counter.reopen(endpoint)

    def fate(self, sender: str, ordinal: int, seg: Segment) -> Fate | None:
        """The fate of the `ordinal`-th segment `sender` sends (None: delivered after the delay)."""
        roles: tuple[Role, ...] = ()
        if self._counter is not None:
            roles = self._counter.send(sender, int(seg.flags), seg.seq, seg.ack, len(seg.payload))
        key: FateKey | None = (sender, ordinal) if (sender, ordinal) in self._ordinal else None
        if key is None:
            key = next((r for r in roles if r in self._role), None)
        if key is None:
            return None
        self.applied.add(key)
        return self._ordinal[key] if not isinstance(key, Role) else self._role[key]

    def unapplied(self) -> list[FateKey]:
        """The fates no segment of the run met (a script naming A9 when A sent 3, or B's FIN when B sent
        none): an author's miscount, which would otherwise run the plain scenario without a word."""
        named: list[FateKey] = [*self._ordinal, *self._role]
        return [k for k in named if k not in self.applied]

    def arrivals(self, fate: Fate | None) -> tuple[str, tuple[tuple[int, str], ...]]:
        """The trace's word for the fate, and each copy that arrives: (after how long, note)."""
        if fate is None:
            return LABELS[None], ((self.delay, ""),)
        if fate.kind == "lose":
            return LABELS["lose"], ()
        if fate.kind == "duplicate":
            return LABELS["duplicate"], ((self.delay, ""), (self.delay + fate.delay, "second copy"))
        return LABELS["delay"], ((self.delay + fate.delay, f"delayed {format_duration(fate.delay)}"),)
