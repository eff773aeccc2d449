"""Segments named by what they are: a scenario's own loss stays on its segment."""

from __future__ import annotations

import pytest

from reference_impl import scenarios
from reference_impl.handlers import HANDLERS
from reference_impl.profiles import LINUX, RFC9293
from reference_impl.roles import Role, key_text, parse_role, parse_segment_key, roles_of, where
from reference_impl.script import ScriptError, parse_script
from reference_impl.segment import ACK, FIN
from reference_impl.sim import Fate, simulate

LOSE = Fate("lose")

# What each catalogue scenario's own fates fell on when they were keyed by ordinal: roles name the same segments.
ORDINALS = {
    "lost-first-fin": ["A1"], "lost-ack-of-fin": ["B1"], "lost-second-fin": ["B2"], "lost-final-ack": ["A2"],
    "lost-final-ack-twice": ["A2", "A3"], "duplicate-fin-in-time-wait": ["B2"], "rst-in-time-wait": ["A2"],
    "late-acks-in-time-wait": ["A2", "B2"],
}  # fmt: skip


@pytest.mark.parametrize("profile", [RFC9293, LINUX], ids=lambda p: p.name)
@pytest.mark.parametrize("name", ORDINALS)
def test_the_catalogues_roles_name_the_segments_its_ordinals_named(name, profile):
    entry = scenarios.get(name)
    trace = scenarios.run(name, profile)
    assert [where(k, trace.rows) for k in entry.scenario.fates] == ORDINALS[name]
    by_ordinal = {scenarios.parse_key(o): f for o, f in zip(ORDINALS[name], entry.scenario.fates.values(), strict=True)}
    assert simulate(entry.scenario.with_fates(by_ordinal), entry.profile(profile), HANDLERS).to_csv() == trace.to_csv()


def test_an_earlier_loss_no_longer_moves_the_scenarios_own_loss():
    # lost-ack-of-fin loses B's ACK of A's FIN. Losing A's FIN too used to move the loss onto B's first
    # segment, which is then B's FIN; named by role, it stays on B's ACK of A's FIN.
    trace = scenarios.run("lost-ack-of-fin", fates={("A", 1): LOSE})
    lost = [r for r in trace.rows if r.event == "send" and r.fate == "lost"]
    assert [(r.endpoint, r.flags) for r in lost] == [("A", FIN | ACK), ("B", ACK)]
    assert lost[1].ack == 101  # it acknowledges A's FIN
    sc = scenarios.get("lost-ack-of-fin").scenario
    old = simulate(sc.with_fates({("B", 1): LOSE, ("A", 1): LOSE}), RFC9293, HANDLERS)
    assert [r.flags for r in old.rows if r.event == "send" and r.fate == "lost"] == [FIN | ACK, FIN | ACK]


def test_loss_patterns_never_add_a_segment_the_scenario_already_loses():
    for fates in scenarios.loss_patterns("lost-ack-of-fin", 2):
        trace = scenarios.run("lost-ack-of-fin", fates=fates)
        lost = {f"{r.endpoint}{n}" for r, n in _numbered(trace) if r.fate == "lost"}
        assert len(lost) == len(fates) + 1, (fates, lost)  # every pattern adds its own segments to the scenario's


def _numbered(trace):
    count = {"A": 0, "B": 0}
    for r in trace.rows:
        if r.event == "send":
            count[r.endpoint] += 1
            yield r, count[r.endpoint]


def test_roles_of_a_close():
    roles = {
        k: [str(r) for r in v if r.connection is None] for k, v in roles_of(scenarios.run("active-close").rows).items()
    }
    assert roles == {"A1": ["A's FIN"], "B1": ["B's ACK of A's FIN", "B's ACK"], "B2": ["B's FIN", "B's ACK of A's FIN, copy 2"],
                     "A2": ["A's ACK of B's FIN", "A's ACK"]}  # fmt: skip


@pytest.mark.parametrize(
    "text, role",
    [
        ("A's FIN", Role("A", "FIN")),
        ("B's ACK of A's FIN", Role("B", "ACK of FIN")),
        ("A's last ACK", Role("A", "ACK of FIN")),
        ("A's FIN, copy 2", Role("A", "FIN", 2)),
        ("A's FIN, second copy", Role("A", "FIN", 2)),
        ("a's syn (connection 2)", Role("A", "SYN", 1, 2)),
        ("B's SYN,ACK", Role("B", "SYN-ACK")),
        ("A's data, copy 3", Role("A", "data", 3)),
    ],
)
def test_role_names_read_and_print(text, role):
    assert parse_role(text) == role
    assert parse_role(str(role)) == role
    assert parse_segment_key(key_text(role)) == role


def test_bad_role_names_say_what_to_write():
    for bad in ("A's ACK of A's FIN", "C's FIN", "A's FINN", "A's FIN, copy 0"):
        with pytest.raises(ValueError, match=r"segment name|its peer's FIN|count from 1"):
            parse_segment_key(bad)
    assert parse_segment_key("B2") == ("B", 2)


def test_a_script_names_its_losses_by_role():
    text = "0 A close\n+50ms B close\nlose B's ACK of A's FIN\nduplicate B's FIN 100ms\ndelay A's last ACK 5ms\n"
    script = parse_script(text, "roles.script")
    assert script.scenario.fates == {Role("B", "ACK of FIN"): LOSE, Role("B", "FIN"): Fate("duplicate", 100_000),
                                     Role("A", "ACK of FIN"): Fate("delay", 5000)}  # fmt: skip
    same = simulate(parse_script("0 A close\n+50ms B close\nlose B's ACK of A's FIN\n").scenario, RFC9293, HANDLERS)
    assert same.to_csv().split("\n", 1)[1] == scenarios.run("lost-ack-of-fin").to_csv().split("\n", 1)[1]
    with pytest.raises(ScriptError, match=r"roles.script:1:6: \"A's FOO\" is not a segment name"):
        parse_script("lose A's FOO", "roles.script")
