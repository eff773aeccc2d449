"""What `tcpclose grade collect` (and `nbgrader collect`, autograder.pipeline.exchange) takes from
a folder students can write to, and how it copies it.

A submission is a folder of regular files and folders, and its folder name is a student id. The
copy starts from a folder the instructor owns and opens every name below it without following a
link (O_NOFOLLOW, relative to the folder already open), so a student who swaps a folder for a
link while the copy runs finds the copy refused, not redirected. Only regular files are opened,
each read to a bound. Those rules keep out:
- a link to the course's source notebook, or to another student's submission, which the instructor
  can read: it would be copied as the student's own work;
- a named pipe, which stops the copy;
- /dev/zero, which fills the disk;
- a folder name that a spreadsheet takes for a formula, that forges lines in the output, or that
  passes for another student's (letters from another script).

Each refusal is one sentence about that student, and the other students are collected as usual.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path

MAX_FILE = 100 * 2**20  # bytes: nbgrader's own limit on a submitted file (ExchangeSubmit.max_file_size)
MAX_SUBMISSION = 200 * 2**20
ID_PUNCTUATION = frozenset("._@+-")
RULE = "collect copies only regular files and folders"


class Refused(Exception):
    """One submission cannot be collected; the message says why, in one sentence."""


def why_not(error: Refused | OSError) -> str:
    """The sentence for a submission `take` could not copy."""
    return str(error) if isinstance(error, Refused) else f"it could not be read ({error.strerror or error})"


def id_problem(name: str) -> str:
    """Why a folder name is not a student id ("" when it is one): ASCII letters and digits, then
    also . _ @ + -, at most 100 characters. No spreadsheet reads one as a formula (= + - @ first),
    no line is forged (no control characters), none passes for another (no look-alike letters of
    other scripts), and it is not hidden (. first)."""
    if not name or len(name) > 100:
        return "a student id has 1 to 100 characters"
    if not (name[0].isascii() and name[0].isalnum()):
        return "a student id starts with a letter or a digit"
    if not all(c.isascii() and (c.isalnum() or c in ID_PUNCTUATION) for c in name):
        return "a student id holds only letters, digits and . _ @ + -, all ASCII"
    return ""


def take(parent: Path, names: Sequence[str], into: Path) -> Path:
    """Copy parent/names[0]/names[1]/... into a new hidden folder under `into` (on the destination's
    file system) and return it. `parent` is the instructor's; every name below it is opened without
    following a link."""
    fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for i, name in enumerate(names):  # named from below the student's folder, where there is one
            label = "/".join(names[1 : i + 1]) or name
            inner = _open(name, fd, label, directory=True)
            os.close(fd)
            fd = inner
        into.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".collect-", dir=into))
        try:
            _copy_dir(fd, tmp, label, [0])
            os.chmod(tmp, 0o755)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return tmp
    finally:
        os.close(fd)


def place(taken: Path, dest: Path) -> None:
    """Put a copy `take` made at `dest`; an earlier `dest` (collect --replace) gives way only now."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        old = Path(tempfile.mkdtemp(prefix=".collect-old-", dir=dest.parent))
        dest.rename(old / dest.name)
        taken.rename(dest)
        shutil.rmtree(old)
    else:
        taken.rename(dest)


def _kind(mode: int) -> str:
    for test, what in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a named pipe"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device")):  # fmt: skip
        if test(mode):
            return what
    return "not a regular file"


def _open(name: str, dir_fd: int, label: str, directory: bool = False) -> int:
    """`name` in the open folder `dir_fd`, never through a link, and only if it is what is wanted."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | (os.O_DIRECTORY if directory else 0)
    try:
        fd = os.open(name, flags, dir_fd=dir_fd)
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
            mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
            raise Refused(f"{label} is {_kind(mode)}, not a {'folder' if directory else 'file'}; {RULE}") from None
        raise
    mode = os.fstat(fd).st_mode
    if not (stat.S_ISDIR(mode) if directory else stat.S_ISREG(mode)):
        os.close(fd)
        raise Refused(f"{label} is {_kind(mode)}; {RULE}")
    return fd


def _copy_dir(fd: int, out: Path, label: str, total: list[int]) -> None:
    with os.scandir(fd) as entries:
        found = sorted((e.name, e.stat(follow_symlinks=False).st_mode) for e in entries)
    for name, mode in found:
        where = f"{label}/{name}"
        if stat.S_ISDIR(mode):
            inner = _open(name, fd, where, directory=True)
            try:
                (out / name).mkdir()
                _copy_dir(inner, out / name, where, total)
            finally:
                os.close(inner)
        elif stat.S_ISREG(mode):
            _copy_file(fd, name, out / name, where, total)
        else:
            raise Refused(f"{where} is {_kind(mode)}; {RULE}")


def _copy_file(dir_fd: int, name: str, dest: Path, label: str, total: list[int]) -> None:
    fd = _open(name, dir_fd, label)
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        data = f.read(MAX_FILE + 1) if st.st_size <= MAX_FILE else b""
    total[0] += max(len(data), st.st_size)
    if st.st_size > MAX_FILE or len(data) > MAX_FILE or total[0] > MAX_SUBMISSION:
        raise Refused(f"{label} makes the submission larger than collect takes "
                      f"({MAX_FILE // 2**20} MiB a file, {MAX_SUBMISSION // 2**20} MiB in all)")  # fmt: skip
    dest.write_bytes(data)
    os.utime(dest, ns=(st.st_atime_ns, st.st_mtime_ns))
