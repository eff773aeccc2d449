"""One animation frame in a real browser (target ≤ 50 ms): front-end step vs the kernel round trip.

Starts an isolated JupyterLab (the browser tests' fixture code), runs a notebook with
the timeline, then steps the slider 30 times from JavaScript and measures, per step:
  style   – until the new frame's CSS is computed (same JavaScript task, no kernel),
  paint   – until the next two animation frames (the frame is on screen),
  kernel  – until the kernel's fallback style echoes the step (what a per-frame
            Python redraw would cost at the very least).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, _stop, start_server  # noqa: E402
from tests.browser.test_timeline_browser import demo_notebook, run_all_until  # noqa: E402

STEP_JS = """
async ([uid, n]) => {
  const root = document.querySelector('.' + uid);
  const handle = root.querySelector('.tl-step .noUi-handle');
  const wrap = root.querySelector('.tl-wrap');
  const frame = () => new Promise(r => requestAnimationFrame(() => r()));
  const echoed = (k) => new Promise(resolve => {
    const done = () => { const s = root.querySelector('style[data-step]'); return s && s.dataset.step === String(k); };
    if (done()) return resolve();
    const obs = new MutationObserver(() => { if (done()) { obs.disconnect(); resolve(); } });
    obs.observe(root, {childList: true, subtree: true, characterData: true});
  });
  const out = {style: [], paint: [], kernel: []};
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    handle.dispatchEvent(new KeyboardEvent('keydown', {key: 'ArrowRight', bubbles: true}));
    const k = parseInt(getComputedStyle(wrap).getPropertyValue('--k'));
    out.style.push(performance.now() - t0);
    await frame(); await frame();
    out.paint.push(performance.now() - t0);
    await echoed(k);
    out.kernel.push(performance.now() - t0);
  }
  return out;
}
"""


def main() -> None:
    from playwright.sync_api import sync_playwright

    base = Path(tempfile.mkdtemp(prefix="bench-views-"))
    srv, proc = start_server("lab", base, {"timeline.ipynb": demo_notebook()})
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1600, "height": 1100})
            page.goto(srv.page_url("timeline.ipynb"), wait_until="domcontentloaded", timeout=60_000)
            page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
            widget = page.locator(".tcp-timeline-widget").first
            run_all_until(page, widget.locator("svg.tcp-timeline"))
            uid = widget.evaluate("el => [...el.classList].find(c => /^tl-[0-9a-f]{10}$/.test(c))")
            steps = min(24, int(float(widget.locator(".tl-step .noUi-handle").get_attribute("aria-valuemax"))))
            out = page.evaluate(STEP_JS, [uid, steps])
            browser.close()
    finally:
        _stop(proc, srv.url, srv.token)
    print(f"{'one animation frame in chromium (median of ' + str(steps) + ' steps)':58} {'ms':>7}")
    for key, label in (("style", "front end: step → frame styled (no kernel)"),
                       ("paint", "front end: step → frame painted (2 rAF)"),
                       ("kernel", "kernel round trip: step → Python echo")):  # fmt: skip
        ms = statistics.median(out[key])
        target = "  ≤ 50 ms " + ("ok" if ms <= 50 else "MISSED") if key == "paint" else ""
        print(f"{label:58} {ms:7.2f}{target}")


if __name__ == "__main__":
    main()
