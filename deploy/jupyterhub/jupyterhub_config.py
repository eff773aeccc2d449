"""JupyterHub for a TCP goodbye lab: local Unix users, PAM passwords, nbgrader's exchange.

    sudo /opt/tcp-goodbye/.venv/bin/jupyterhub -f /opt/tcp-goodbye/deploy/jupyterhub/jupyterhub_config.py

Who is who comes from two Unix groups: members of INSTRUCTORS get the full package (the answer key,
`tcpclose grade`, nbgrader's Formgrader, Create Assignment and Course List); members of STUDENTS get
the learner build (`make learner-build`: no reference handlers, no hidden tests) and only nbgrader's
Assignments tab. Nobody else logs in. README.md, "Running a lab on JupyterHub", walks through it.

The site's settings are the block below; each can also come from the environment variable named
beside it (the tests run this very file with their own paths and ports that way).
"""

import grp
import os
import pwd

c = get_config()  # noqa: F821 -- injected by traitlets when JupyterHub loads this file

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))  # the clone this file belongs to

# ---- this site --------------------------------------------------------------------------------
COURSE_ID = os.environ.get("TCPCLOSE_HUB_COURSE_ID", "tcp-goodbye")  # as in course/nbgrader_config.py
EXCHANGE = os.environ.get("TCPCLOSE_HUB_EXCHANGE", "/srv/nbgrader/exchange")  # drwxrwxrwt (1777)
STUDENTS = os.environ.get("TCPCLOSE_HUB_STUDENTS", "tcp-goodbye-students")  # Unix group
INSTRUCTORS = os.environ.get("TCPCLOSE_HUB_INSTRUCTORS", "tcp-goodbye-instructors")  # Unix group
# The students' virtualenv: the learner wheel with its [lab] extra, and jupyterhub (same version).
STUDENT_ENV = os.environ.get("TCPCLOSE_HUB_STUDENT_ENV", "/opt/tcp-goodbye-student")
# The instructors' virtualenv: the full package (`make setup` in this clone) holds jupyterhub too.
INSTRUCTOR_ENV = os.environ.get("TCPCLOSE_HUB_INSTRUCTOR_ENV", os.path.join(REPO, ".venv"))
# Each instructor's copy of course/ (the course root nbgrader and `tcpclose grade` work on), in $HOME.
COURSE_DIR = os.environ.get("TCPCLOSE_HUB_COURSE_DIR", "tcp-goodbye")
# Where the hub keeps its database, cookie secret and the proxy's pid.
STATE = os.environ.get("TCPCLOSE_HUB_STATE", "/var/lib/tcp-goodbye-hub")
# ------------------------------------------------------------------------------------------------

c.JupyterHub.bind_url = "http://:8000"  # put TLS in front (a reverse proxy, or JupyterHub.ssl_cert)
os.makedirs(STATE, mode=0o700, exist_ok=True)
c.JupyterHub.db_url = "sqlite:///" + os.path.join(STATE, "jupyterhub.sqlite")
c.JupyterHub.cookie_secret_file = os.path.join(STATE, "jupyterhub_cookie_secret")
c.ConfigurableHTTPProxy.pid_file = os.path.join(STATE, "jupyterhub-proxy.pid")
# `make hub-deps` puts configurable-http-proxy in this clone; else the one on PATH (npm install -g).
_proxy = os.path.join(REPO, ".hub", "node_modules", ".bin", "configurable-http-proxy")
c.ConfigurableHTTPProxy.command = [_proxy if os.path.exists(_proxy) else "configurable-http-proxy"]

# Log in with the Unix password; only the two groups may.
c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.allowed_groups = {STUDENTS, INSTRUCTORS}

# Each user's server runs as that Unix user (LocalProcessSpawner), in JupyterLab.
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.default_url = "/lab"
# A class logging in at once on a small server: JupyterLab may take a while to answer.
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 120
# Nothing of the hub's own environment reaches a server (a PYTHONPATH leading to this clone would
# hand students the answer key); each role's environment is set below.
c.Spawner.env_keep = ["LANG", "LC_ALL"]

LEARNER_CONFIG = os.path.join(REPO, "deploy", "learner")  # hides nbgrader's instructor panels
# Every server's: nbgrader's exchange and course, and terminals that keep the role's PATH (a login
# shell would reset it from /etc/profile, and `tcpclose` would not be found).
SERVER_CONFIG = os.path.join(HERE, "jupyter")


def role(username: str) -> str:
    """'instructor' or 'student', from the user's Unix groups (an instructor may be in both)."""
    user = pwd.getpwnam(username)
    names = {grp.getgrgid(gid).gr_name for gid in os.getgrouplist(username, user.pw_gid)}
    return "instructor" if INSTRUCTORS in names else "student"


def choose_environment(spawner) -> None:
    """The learner build and no instructor panels for a student; the full package for an instructor."""
    who = role(spawner.user.name)
    env = INSTRUCTOR_ENV if who == "instructor" else STUDENT_ENV
    config = [SERVER_CONFIG] if who == "instructor" else [LEARNER_CONFIG, SERVER_CONFIG]
    spawner.cmd = [os.path.join(env, "bin", "jupyterhub-singleuser")]
    spawner.environment.update({
        "PATH": os.pathsep.join([os.path.join(env, "bin"), "/usr/local/bin", "/usr/bin", "/bin"]),
        "VIRTUAL_ENV": env,
        "JUPYTER_CONFIG_PATH": os.pathsep.join(config),
        "TCPCLOSE_COURSE_ID": COURSE_ID,
        "TCPCLOSE_EXCHANGE": EXCHANGE,
    })  # fmt: skip
    if who == "instructor":  # nbgrader (jupyter/nbgrader_config.py) and `tcpclose grade` find the course here
        spawner.environment["TCPCLOSE_COURSE"] = os.path.join(pwd.getpwnam(spawner.user.name).pw_dir, COURSE_DIR)
    else:
        spawner.environment.pop("TCPCLOSE_COURSE", None)
    if not os.path.exists(spawner.cmd[0]):  # shown to the user on the spawn page, and in the hub's log
        raise RuntimeError(
            f"{spawner.cmd[0]} is missing: build the {who}s' environment as README.md says "
            "(Running a lab on JupyterHub)."
        )


c.Spawner.pre_spawn_hook = choose_environment
