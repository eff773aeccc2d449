"""Every picture legible at 1400x900: measured in chromium, over every catalogue scenario under
both profiles, alone and side by side (with a divergence marked), and over a sample of learners'
mistakes beside the reference, in one page load.

A JupyterLab at 1400x900 with its file browser open gives a cell's output 960 px; every
picture is drawn for that width at 1:1. What is measured is what the browser rendered:
each text's font size times the scale it is drawn at, each text's box (rotated labels as
rotated boxes; the em box less its empty top and bottom, so lines set 12 px apart do not
touch), the lost crosses, the timer bars and the break bands. A failure lists every
overlap, cut or small text with the scenario it is in.
"""

from __future__ import annotations

import functools
import html
import json
import random

import pytest

from autograder.views import render_svg
from autograder.views.animation import animated_html
from autograder.views.model import events_of
from autograder.views.side_by_side import first_difference
from reference_impl import scenarios
from reference_impl.profiles import PROFILES

pytestmark = pytest.mark.browser

OUTPUT_WIDTH = 960  # a JupyterLab cell output at 1400x900, file browser open
MIN_PX = 11

MEASURE_JS = r"""
() => {
  const quad = (el) => {
    const b = el.getBBox(); const m = el.getCTM(); const fs = parseFloat(getComputedStyle(el).fontSize) || 0;
    const inset = el.tagName === 'text' ? 0.14 * fs : 0;
    const pts = [[b.x, b.y + inset], [b.x + b.width, b.y + inset], [b.x + b.width, b.y + b.height - inset],
                 [b.x, b.y + b.height - inset]];
    return pts.map(([x, y]) => [m.a * x + m.c * y + m.e, m.b * x + m.d * y + m.f]);
  };
  const overlap = (a, b) => {
    for (const poly of [a, b]) for (let i = 0; i < poly.length; i++) {
      const [x0, y0] = poly[i], [x1, y1] = poly[(i + 1) % poly.length];
      let nx = y0 - y1, ny = x1 - x0; const n = Math.hypot(nx, ny) || 1; nx /= n; ny /= n;
      const pa = a.map(([x, y]) => x * nx + y * ny), pb = b.map(([x, y]) => x * nx + y * ny);
      if (Math.min(Math.max(...pa), Math.max(...pb)) - Math.max(Math.min(...pa), Math.min(...pb)) <= 1.0) return false;
    }
    return true;
  };
  const label = (t) => [...t.childNodes].filter(n => n.nodeName !== 'title').map(n => n.textContent).join('');
  const out = [];
  for (const fig of document.querySelectorAll('figure')) {
    const name = fig.dataset.name, svg = fig.querySelector('svg');
    const problems = []; let smallest = 1e9, count = 0;
    const vb = svg.viewBox.baseVal, scale = svg.getBoundingClientRect().width / vb.width;
    if (fig.scrollWidth > fig.clientWidth + 1) problems.push(`wider than the output: ${fig.scrollWidth} px`);
    const texts = [...svg.querySelectorAll('text')].filter(t => label(t).trim());
    const boxes = texts.map(quad);
    texts.forEach((t, i) => {
      count++;
      const px = parseFloat(getComputedStyle(t).fontSize) * scale;
      smallest = Math.min(smallest, px);
      if (px < MIN - 0.01) problems.push(`${px.toFixed(1)} px text "${label(t)}"`);
      if (boxes[i].some(([x, y]) => x < -0.5 || y < -0.5 || x > vb.width + 0.5 || y > vb.height + 0.5))
        problems.push(`cut at the edge: "${label(t)}"`);
      if (label(t).includes('…')) problems.push(`shortened: "${label(t)}"`);
    });
    for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++)
      if (overlap(boxes[i], boxes[j])) problems.push(`"${label(texts[i])}" over "${label(texts[j])}"`);
    const crosses = [...svg.querySelectorAll('[data-kind="lost"]')].map(quad);
    const bands = [...svg.querySelectorAll('[data-kind="break"]')].map(el => el.getBBox());
    crosses.forEach(c => texts.forEach((t, i) => { if (overlap(c, boxes[i])) problems.push(`lost ✕ over "${label(t)}"`); }));
    for (const bar of svg.querySelectorAll('line[data-kind="timer"]')) {
      const y0 = Math.min(bar.y1.baseVal.value, bar.y2.baseVal.value), y1 = Math.max(bar.y1.baseVal.value, bar.y2.baseVal.value);
      const x = bar.x1.baseVal.value;
      for (const b of bands) if (x > b.x && x < b.x + b.width && y0 < b.y + b.height - 1 && y1 > b.y + 1)
        problems.push(`timer bar across the break at y=${b.y.toFixed(0)}`);
    }
    for (const el of fig.querySelectorAll('.tl-head, .tl-head *')) {
      if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflow !== 'visible')
        problems.push(`status box cut: "${el.textContent.slice(0, 40)}"`);
    }
    for (const el of fig.querySelectorAll('.tl-eplabel')) {
      const r = el.getBoundingClientRect(), lh = parseFloat(getComputedStyle(el).lineHeight) || 18;
      if (r.height > 1.6 * lh) problems.push(`"${el.textContent}" wraps in its status box`);
    }
    for (const el of fig.querySelectorAll('.tl-head *')) {
      const px = parseFloat(getComputedStyle(el).fontSize);
      if (el.textContent.trim() && px < MIN - 0.01) problems.push(`${px} px status text "${el.textContent.slice(0, 30)}"`);
    }
    out.push({name, smallest, count, problems});
  }
  return out;
}
""".replace("MIN", str(MIN_PX))


def figures() -> list[tuple[str, str]]:
    """(name, HTML) of every picture: each scenario x profile alone, beside the other profile's
    run with their first difference marked, and as the animated widget's frames."""
    out = []
    runs = {(n, p): scenarios.run(n, PROFILES[p]) for n in scenarios.CATALOGUE for p in PROFILES}
    profiles = list(PROFILES)
    for (name, prof), trace in runs.items():
        other = runs[(name, profiles[1 - profiles.index(prof)])]
        out.append((f"{name} ({prof})", render_svg(trace)))
        diff = first_difference(events_of(trace), events_of(other))
        hl = dict(highlight=diff[0], reference_highlight=diff[1]) if diff and diff[0] >= 0 and diff[1] >= 0 else {}
        out.append((f"{name} ({prof}) beside {name} ({profiles[1 - profiles.index(prof)]})",
                    render_svg(trace, reference=other, **hl)))  # fmt: skip
        if prof == "linux":
            uid = f"tl-{len(out)}"
            frames, _ = animated_html(trace, other, uid=uid, **hl)
            # the widget carries its uid as a class, which its CSS is scoped to
            out.append((f"{name} widget, side by side", f'<div class="{uid}">{frames}</div>'))
    return out


def mistake_figures(count: int = 30, per_mutant: int = 3) -> list[tuple[str, str]]:
    """A learner's mistakes beside the reference, as show_mine draws them: a fixed sample of the
    mutation corpus's mutants (seeded), each run on scenarios where it parts from the reference.
    Their tags find room among other labels than two profiles' runs do (a tag once fell back onto
    "B1 <SEQ=300>…" in a dense start, with the line under the panel's name free)."""
    from autograder.notebook_helpers import LearnerRun
    from tests.mutation import mutants

    rng = random.Random(12)
    reference = functools.cache(lambda name, profile: scenarios.run(name, PROFILES[profile]))
    out = []
    for m in rng.sample(mutants.generate(), count):
        run = LearnerRun({state.value.lower(): fn for state, fn in mutants.build(m).items()})
        shown = 0
        for name in rng.sample(sorted(scenarios.CATALOGUE), 10):
            profile = rng.choice(sorted(PROFILES))
            mine, ref = run(name, profile), reference(name, profile)
            diff = first_difference(events_of(mine), events_of(ref)) if len(mine) else None
            if diff is None or min(diff) < 0:
                continue
            out.append((f"{m.key} in {name} ({profile})",
                        render_svg(mine, reference=ref, highlight=diff[0], reference_highlight=diff[1])))  # fmt: skip
            shown += 1
            if shown == per_mutant:
                break
    return out


def page_html(figs: list[tuple[str, str]]) -> str:
    body = "".join(
        f'<figure data-name="{html.escape(n)}" style="width:{OUTPUT_WIDTH}px;margin:0 0 24px;overflow-x:auto">{f}</figure>'
        for n, f in figs
    )
    return f"<!doctype html><html><body style='margin:8px;font-family:sans-serif'>{body}</body></html>"


def test_every_picture_is_legible_at_1400x900(browser, screenshots, tmp_path):
    figs = figures() + mistake_figures()
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        path = tmp_path / "all.html"
        path.write_text(page_html(figs), encoding="utf-8")
        page.goto(path.as_uri())
        page.wait_for_timeout(300)
        results = page.evaluate(MEASURE_JS)
        assert len(results) == len(figs)
        smallest = min(r["smallest"] for r in results)
        (screenshots.parent / "legibility.json").write_text(json.dumps(
            {"pictures": len(results), "texts": sum(r["count"] for r in results), "smallest_px": smallest,
             "problems": {r["name"]: r["problems"] for r in results if r["problems"]}}, indent=1))  # fmt: skip
        bad = [f"{r['name']}: {p}" for r in results for p in r["problems"]]
        assert not bad, f"{len(bad)} legibility problems:\n" + "\n".join(bad[:80])
        assert smallest >= MIN_PX
    finally:
        page.close()
