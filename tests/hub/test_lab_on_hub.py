"""A university lab on a real JupyterHub, from release to feedback, in Debian's chromium.

An instructor and two students log in with their Unix passwords. Each student's server runs the
learner build and shows nbgrader's Assignments tab only; the instructor's runs the full package
with the Formgrader, Create Assignment and the Course List. The instructor generates and releases
notebook 01 in the Formgrader; each student fetches it in the Assignments tab, types the answers
into the notebook (the second one with a realistic mistake from tests/course/bugs), saves and
submits; the instructor collects in the Formgrader, runs `tcpclose grade autograde` and
`tcpclose grade feedback` in a terminal of their own server, and releases the feedback in the
Formgrader; each student fetches the feedback and opens it: the mistake's page shows its first
divergence drawn. Every file moves through nbgrader's exchange; the test only clicks and types.
"""

from __future__ import annotations

import base64
import re
import time

import nbformat
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.course.bugs import SOURCE, answer, load

from .conftest import REPO, Lab, User

pytestmark = [pytest.mark.hub, pytest.mark.browser]

NB = "01_active_close"
BUG = "closed-instead-of-time-wait"  # FIN_WAIT_2 closes at once: the feedback draws where it left TIME_WAIT out
UI_TIMEOUT = 120_000  # ms; a server or nbgrader command on a busy 2-core machine
GRADE_TIMEOUT = 900  # s for `tcpclose grade autograde` of two submissions

# A kernel of the user's own server, through the hub: start one, run `code`, return what it printed.
RUN_IN_KERNEL = """async ([base, code]) => {
  const xsrf = (document.cookie.match(/(?:^|; )_xsrf=([^;]*)/) || [])[1];
  const headers = {"Content-Type": "application/json"};
  if (xsrf) headers["X-XSRFToken"] = decodeURIComponent(xsrf);
  const made = await fetch(base + "api/kernels", {method: "POST", headers, body: "{}"});
  if (!made.ok) return "no kernel: HTTP " + made.status;
  const kernel = await made.json();
  try {
    const ws = new WebSocket(location.origin.replace(/^http/, "ws") + base + "api/kernels/" + kernel.id + "/channels");
    return await new Promise((resolve, reject) => {
      const id = "probe-" + Math.random().toString(16).slice(2);
      let text = "";
      ws.onopen = () => ws.send(JSON.stringify({
        header: {msg_id: id, msg_type: "execute_request", username: "", session: id, version: "5.3",
                 date: new Date().toISOString()},
        parent_header: {}, metadata: {}, channel: "shell", buffers: [],
        content: {code, silent: false, store_history: false, user_expressions: {}, allow_stdin: false,
                  stop_on_error: true}}));
      ws.onmessage = (event) => {
        const msg = JSON.parse(event.data);
        if (!msg.parent_header || msg.parent_header.msg_id !== id) return;
        if (msg.msg_type === "stream") text += msg.content.text;
        if (msg.msg_type === "error") text += msg.content.ename + ": " + msg.content.evalue + "\\n";
        if (msg.msg_type === "status" && msg.content.execution_state === "idle") { ws.close(); resolve(text); }
      };
      ws.onerror = () => reject(new Error("the kernel's websocket failed"));
      setTimeout(() => reject(new Error("the kernel did not answer within 120 s")), 120000);
    });
  } finally {
    await fetch(base + "api/kernels/" + kernel.id, {method: "DELETE", headers});
  }
}"""

WHICH_BUILD = """\
try:
    import reference_impl.handlers
    print("handlers: importable")
except ImportError as e:
    print("handlers:", type(e).__name__)
from autograder.reference_source import source_kind
print("reference:", source_kind())"""


# ---- the people ----------------------------------------------------------------------------------


def log_in(browser, lab: Lab, user: User):
    """The hub's login form, as a person fills it in; the hub starts their server."""
    page = browser.new_context(viewport={"width": 1500, "height": 1000}).new_page()
    page.goto(f"{lab.url}/hub/login", wait_until="domcontentloaded", timeout=UI_TIMEOUT)
    page.fill("#username_input", user.name)
    page.fill("#password_input", user.password)
    page.click("#login_submit")
    return page


def wait_for_lab(page, lab: Lab, user: User) -> None:
    try:
        page.wait_for_url(re.compile(rf"/user/{re.escape(user.name)}/lab"), timeout=3 * UI_TIMEOUT)
        page.locator(".jp-LabShell").wait_for(timeout=UI_TIMEOUT)
        page.locator(".lm-MenuBar-item", has_text="Nbgrader").wait_for(timeout=UI_TIMEOUT)
    except Exception:
        raise AssertionError(f"{user.name}'s JupyterLab did not open through the hub:\n{lab.log_tail()}") from None


@pytest.fixture(scope="module")
def people(lab, browser):
    """Everyone logged in, in their own browser context, their JupyterLab open."""
    users = [lab.instructor, *lab.students]
    pages = {u.name: log_in(browser, lab, u) for u in users}  # the three servers start side by side
    try:
        for u in users:
            wait_for_lab(pages[u.name], lab, u)
        yield pages
    finally:
        for page in pages.values():
            page.context.close()


def api(page, lab: Lab, user: User, path: str):
    """GET a Jupyter REST path of `user`'s server as their browser would (their hub login)."""
    return page.request.get(f"{lab.server(user)}/api/{path}", timeout=60_000)


def read_file(page, lab: Lab, user: User, path: str) -> str | None:
    r = api(page, lab, user, f"contents/{path}?content=1&type=file&format=text")
    return r.json()["content"] if r.ok else None


def read_notebook(page, lab: Lab, user: User, path: str) -> nbformat.NotebookNode:
    for _ in range(3):  # a read that meets the browser's own save half done is answered 500: read again
        r = api(page, lab, user, f"contents/{path}?content=1&type=notebook")
        if r.status != 500:
            break
        page.wait_for_timeout(1000)
    assert r.ok, f"{user.name}: {path} is not there (HTTP {r.status}: {r.text()[:600]})\n{lab.log_tail()}"
    return nbformat.from_dict(r.json()["content"])


def in_kernel(page, lab: Lab, user: User, code: str) -> str:
    return page.evaluate(RUN_IN_KERNEL, [f"/user/{user.name}/", code])


def nbgrader_menu(page) -> list[str]:
    """The items of JupyterLab's Nbgrader menu that this user can see."""
    page.locator(".lm-MenuBar-item", has_text="Nbgrader").click()
    menu = page.locator("#jp-mainmenu-nbgrader")
    menu.wait_for(timeout=10_000)
    items = menu.locator(".lm-Menu-item:not(.lm-mod-hidden) .lm-Menu-itemLabel").all_inner_texts()
    page.keyboard.press("Escape")
    return [i.strip() for i in items if i.strip()]


def shot(page, screenshots, name: str) -> None:
    page.screenshot(path=str(screenshots / f"hub-{name}.png"))


# ---- the roles -----------------------------------------------------------------------------------


def test_students_see_the_assignments_tab_and_no_instructor_panel(lab, people, screenshots):
    for student in lab.students:
        page = people[student.name]
        assert nbgrader_menu(page) == ["Assignment List"], f"{student.name} sees instructor panels"
        assert page.locator("#nbgrader-create_assignemnt").count() == 0, "a student has Create Assignment"
        assert page.locator(".lm-TabBar-tab", has_text="Create Assignment").count() == 0
        # Not only hidden: the Formgrader and the course list are not served to a student at all.
        assert page.request.get(f"{lab.server(student)}/formgrader").status == 404
        assert page.request.get(f"{lab.server(student)}/formgraders").status == 404
    shot(people[lab.students[0].name], screenshots, "student-lab")
    page = people[lab.instructor.name]
    assert {"Assignment List", "Course List", "Formgrader"} <= set(nbgrader_menu(page))
    assert page.locator(".lm-TabBar-tab", has_text="Create Assignment").count() == 1
    assert page.request.get(f"{lab.server(lab.instructor)}/formgrader").ok


def test_a_students_server_runs_the_learner_build(lab, people):
    student, instructor = lab.students[0], lab.instructor
    said = in_kernel(people[student.name], lab, student, WHICH_BUILD)
    assert said.splitlines() == ["handlers: ModuleNotFoundError", "reference: recorded"], said
    said = in_kernel(people[instructor.name], lab, instructor, WHICH_BUILD)
    assert said.splitlines() == ["handlers: importable", "reference: live"], said


# ---- the lab: release, fetch, submit, collect, grade, feedback ---------------------------------------


def answers(bug: str | None = None) -> dict[str, str]:
    """What a student types into each answer cell of notebook 01: the solution, or with `bug` in it."""
    nb = nbformat.read(SOURCE / NB / f"{NB}.ipynb", as_version=4)
    ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells
           if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")]  # fmt: skip
    typed = {gid: answer(NB, gid) for gid in ids}
    if bug is not None:
        typed.update(load(NB)[bug].replace)
    return typed


def formgrader_action(page, lab: Lab, column: str, what: str) -> None:
    """Press the Formgrader's button in column `column` of notebook 01's row; nbgrader says it worked."""
    page.goto(f"{lab.server(lab.instructor)}/formgrader", wait_until="domcontentloaded", timeout=UI_TIMEOUT)
    row = page.locator("tr", has=page.locator("td.name", has_text=NB))
    row.locator(f"td.{column} a").click(timeout=UI_TIMEOUT)
    page.locator("#success-modal, #error-modal").wait_for(timeout=3 * UI_TIMEOUT)
    if page.locator("#error-modal").count():
        raise AssertionError(f"the Formgrader could not {what}: {page.locator('#error-modal').inner_text()}")


def terminal(page, lab: Lab, user: User, command: str, name: str, timeout: float) -> str:
    """Type `command` into a new terminal of `user`'s JupyterLab; wait for it to finish; its output."""
    # `?reset` opens an empty workspace: a terminal the saved workspace brought back could appear
    # after the click, shown for a moment and then hidden behind the new one (CI once clicked it).
    page.goto(f"{lab.server(user)}/lab?reset", wait_until="domcontentloaded", timeout=UI_TIMEOUT)
    page.locator(".jp-LabShell").wait_for(timeout=UI_TIMEOUT)
    before = page.evaluate("() => [...document.querySelectorAll('.jp-Terminal')].map(t => t.id)")
    page.locator(".lm-MenuBar-item", has_text="File").click()
    page.locator(".lm-Menu-item", has_text="New").first.hover()
    page.locator(".lm-Menu-item[data-command='terminal:create-new']").click()
    shown_new = (
        "ids => [...document.querySelectorAll('.jp-Terminal')]"
        ".filter(t => !ids.includes(t.id) && t.offsetParent !== null).map(t => t.id)"
    )
    deadline = time.monotonic() + UI_TIMEOUT / 1000
    while True:  # click the new terminal that is shown at the moment of the click
        page.wait_for_function(f"ids => ({shown_new})(ids).length > 0", arg=before, timeout=UI_TIMEOUT)
        term = page.locator(f"#{page.evaluate(shown_new, before)[-1]}")
        try:
            term.locator(".xterm-screen").wait_for(timeout=5000)
            term.click(timeout=5000)
            break
        except PlaywrightTimeout:
            assert time.monotonic() < deadline, "no new terminal stayed on screen long enough to click"
    page.keyboard.type(f"({command}) > ~/{name}.log 2>&1; echo $? > ~/{name}.exit\n")
    deadline = time.monotonic() + timeout
    while (code := read_file(page, lab, user, f"{name}.exit")) is None:
        assert time.monotonic() < deadline, f"{command!r} did not finish within {timeout} s"
        time.sleep(2)
    out = read_file(page, lab, user, f"{name}.log") or ""
    (REPO / "test-output").mkdir(exist_ok=True)
    (REPO / "test-output" / f"hub-{name}.log").write_text(out)  # what the instructor saw, to read later
    assert code.strip() == "0", f"{command!r} exited {code.strip()}:\n{out[-4000:]}"
    return out


def assignments_tab(page, lab: Lab, user: User):
    """Nbgrader > Assignment List, as a student opens it."""
    page.goto(f"{lab.server(user)}/lab", wait_until="domcontentloaded", timeout=UI_TIMEOUT)
    page.locator(".lm-MenuBar-item", has_text="Nbgrader").click(timeout=UI_TIMEOUT)
    page.locator("#jp-mainmenu-nbgrader .lm-Menu-item", has_text="Assignment List").click()
    tab = page.locator("#nbgrader-assignment-list")
    tab.wait_for(timeout=UI_TIMEOUT)
    return tab


def fill_in(page, lab: Lab, user: User, typed: dict[str, str]) -> None:
    """Open the fetched notebook from the Assignments tab, type each answer, save."""
    tab = assignments_tab(page, lab, user)
    fetched = tab.locator("#fetched_assignments_list")
    fetched.locator(".assignment-notebooks-link").first.click(timeout=UI_TIMEOUT)
    fetched.locator("a", has_text=NB).last.click(timeout=UI_TIMEOUT)
    page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(timeout=UI_TIMEOUT)
    release = read_notebook(page, lab, user, f"{NB}/{NB}.ipynb")
    cells = page.locator(".jp-NotebookPanel:visible .jp-Notebook .jp-Cell")
    for _ in range(100):  # every cell rendered (the user's setting windowingMode none)
        if cells.count() == len(release.cells):
            break
        page.wait_for_timeout(100)
    assert cells.count() == len(release.cells), "the notebook on screen is not the one fetched"
    for i, cell in enumerate(release.cells):
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid not in typed:
            continue
        assert "NotImplementedError" in cell.source, f"{gid} was not released as a stub"
        editor = cells.nth(i).locator(".cm-content")
        editor.scroll_into_view_if_needed()
        editor.click()
        page.keyboard.press("Control+a")
        page.keyboard.insert_text(typed[gid])
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + 60
    while True:
        saved = read_notebook(page, lab, user, f"{NB}/{NB}.ipynb")
        got = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in saved.cells}
        if all(got.get(gid) == src for gid, src in typed.items()):
            return
        assert time.monotonic() < deadline, f"{user.name}'s saved answers are not what was typed"
        time.sleep(1)


def test_release_fetch_submit_collect_grade_and_return_feedback(lab, people, screenshots):
    try:
        _the_lab(lab, people, screenshots)
    except BaseException:
        for name, page in people.items():
            shot(page, screenshots, f"failed-{name.split('-')[0]}")
        raise


def _the_lab(lab, people, screenshots) -> None:
    instructor, (good, buggy) = lab.instructor, lab.students
    teacher = people[instructor.name]

    # The instructor makes the student version and releases it, in the Formgrader.
    formgrader_action(teacher, lab, "assign", "generate the student version")
    formgrader_action(teacher, lab, "release", "release it")
    shot(teacher, screenshots, "formgrader-released")

    # Each student fetches it in the Assignments tab, types the answers, saves and submits.
    for student, bug in ((good, None), (buggy, BUG)):
        page = people[student.name]
        tab = assignments_tab(page, lab, student)
        released = tab.locator("#released_assignments_list")
        released.locator("button", has_text="Fetch").click(timeout=UI_TIMEOUT)
        tab.locator("#fetched_assignments_list").locator("text=" + NB).first.wait_for(timeout=UI_TIMEOUT)
        fill_in(page, lab, student, answers(bug))
        tab = assignments_tab(page, lab, student)
        tab.locator("#fetched_assignments_list button", has_text="Submit").click(timeout=UI_TIMEOUT)
        tab.locator("#submitted_assignments_list .list_item").first.wait_for(timeout=UI_TIMEOUT)
        shot(page, screenshots, f"submitted-{'bug' if bug else 'solution'}")

    # The instructor collects (Formgrader), grades and writes feedback (their terminal), releases it.
    formgrader_action(teacher, lab, "collect", "collect the submissions")
    terminal(teacher, lab, instructor, f"tcpclose grade autograde {NB}", "autograde", GRADE_TIMEOUT)
    terminal(teacher, lab, instructor, f"tcpclose grade feedback {NB}", "feedback", 600)
    formgrader_action(teacher, lab, "release-feedback", "release the feedback")

    # Each student fetches the feedback and opens it from the Assignments tab.
    auto, total = points()
    for student in (good, buggy):
        page = people[student.name]
        tab = assignments_tab(page, lab, student)
        tab.locator("#submitted_assignments_list button", has_text="Fetch Feedback").click(timeout=UI_TIMEOUT)
        tab.locator("#submitted_assignments_list a", has_text="view feedback").first.click(timeout=UI_TIMEOUT)
        page.locator(".jp-DirListing-item", has_text=f"{NB}.html").first.dblclick(timeout=UI_TIMEOUT)
        feedback = page.frame_locator(".jp-HTMLViewer:visible iframe")
        feedback.locator("text=Score:").first.wait_for(timeout=UI_TIMEOUT)
        score = float(re.search(r"Score: ([\d.]+) / ([\d.]+)", feedback.locator("body").inner_text())[1])
        drawn = divergences(feedback)
        if student is good:  # every autograded point; the written answers wait for the formgrader
            assert score == auto and not drawn, f"the solution's feedback: {score} / {total}, {len(drawn)} drawn"
        else:  # the mistake costs points, and its first divergence is drawn where it went wrong
            assert score < auto, f"the mistake {BUG} kept every point"
            assert drawn, "the mistake's feedback draws no divergence"
            feedback.locator("img[src^='data:image/svg+xml']").first.scroll_into_view_if_needed()
        shot(page, screenshots, f"feedback-{'bug' if student is buggy else 'solution'}")


def points() -> tuple[float, float]:
    """Notebook 01's autograded points, and its total (written answers included)."""
    nb = nbformat.read(SOURCE / NB / f"{NB}.ipynb", as_version=4)
    graded = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    auto = sum(c.metadata["nbgrader"]["points"] for c in graded if c.cell_type == "code")
    return auto, sum(c.metadata["nbgrader"]["points"] for c in graded)


def divergences(feedback) -> list[str]:
    """The timelines the feedback page shows (SVG images, each drawn in the browser) that mark a
    first divergence, as SVG text."""
    drawn = []
    images = feedback.locator("img[src^='data:image/svg+xml']")
    for i in range(images.count()):
        img = images.nth(i)
        assert img.evaluate("i => i.complete && i.naturalWidth > 0"), "a timeline image did not render"
        svg = base64.b64decode(img.get_attribute("src").split(",", 1)[1]).decode()
        if 'class="tcp-timeline"' in svg and 'data-kind="divergence"' in svg:
            drawn.append(svg)
    return drawn
