"""Notebook 06's table of the profiles' differences gives a reason for every row.

The table is generated from the profiles, so a new Profile field that differs between `rfc9293` and
`linux` appears in it at once; its reason is written in the notebook (WHY), and this test fails
until it is, rather than show a row nobody explains (issue 12: `close_detaches` unexplained).
"""

from __future__ import annotations

import ast
from dataclasses import fields

from reference_impl.profiles import LINUX, RFC9293, Profile
from tests.course.conftest import source_notebook


def explained() -> dict[str, str]:
    nb = source_notebook("06_resets")
    for cell in nb.cells:
        if cell.cell_type == "code" and "WHY = {" in cell.source:
            for node in ast.walk(ast.parse(cell.source)):
                if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "WHY":
                    return ast.literal_eval(node.value)
    raise AssertionError("notebook 06 has no WHY table of the profiles' differences")


def test_every_difference_between_the_profiles_has_its_reason_in_notebook_06():
    differing = {f.name for f in fields(Profile)
                 if f.name != "name" and getattr(RFC9293, f.name) != getattr(LINUX, f.name)}  # fmt: skip
    why = explained()
    assert differing <= why.keys(), f"explain in notebook 06's WHY: {sorted(differing - why.keys())}"
    assert all(isinstance(v, str) and len(v) > 20 for v in why.values())
    assert not why.keys() - {f.name for f in fields(Profile)}, "WHY names fields the Profile no longer has"
