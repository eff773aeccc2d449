"""nbgrader on the hub: every server, a student's or an instructor's, loads this file.

jupyterhub_config.py puts this directory on each server's JUPYTER_CONFIG_PATH and sets the
variables read here. Students need the course id and the exchange (Assignments tab: fetch,
submit, fetch feedback); an instructor's server also loads the course's own configuration from
their copy of course/ ($TCPCLOSE_COURSE), so the Formgrader and every nbgrader command run in
their terminal work on that course wherever they are started.
"""

import os

c = get_config()  # noqa: F821 -- injected by traitlets when nbgrader loads this file

course = os.environ.get("TCPCLOSE_COURSE")  # set for instructors only
if course and os.path.isfile(os.path.join(course, "nbgrader_config.py")):
    load_subconfig(os.path.join(course, "nbgrader_config.py"))  # noqa: F821 -- injected by traitlets

# After the course's file: students and instructors must agree on these two.
c.CourseDirectory.course_id = os.environ.get("TCPCLOSE_COURSE_ID", "tcp-goodbye")
# World-writable with the sticky bit (install -d -m 1777): nbgrader's own access rules do the rest.
c.Exchange.root = os.environ.get("TCPCLOSE_EXCHANGE", "/srv/nbgrader/exchange")
