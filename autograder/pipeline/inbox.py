"""What `tcpclose grade collect` takes from an inbox folder, and how it copies it.

A submission is a folder of regular files and folders, and its folder name is a student id. The
copy follows no link and opens nothing but regular files, each read to a bound. Those rules keep
these out:
- a link to the course's source notebook, or to another student's submission, which the instructor
  can read: it would be copied as the student's own work;
- a named pipe, which stops the copy;
- /dev/zero, which fills the disk;
- a folder name that a spreadsheet takes for a formula, or that forges lines in the output.

Each refusal is one sentence about that student, and the other students are collected as usual.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

MAX_FILE = 100 * 2**20  # bytes: nbgrader's own limit on a submitted file (ExchangeSubmit.max_file_size)
MAX_SUBMISSION = 200 * 2**20
ID_PUNCTUATION = frozenset("._@+-")


class Refused(Exception):
    """One submission cannot be collected; the message says why, in one sentence."""


def id_problem(name: str) -> str:
    """Why a folder name is not a student id ("" when it is one): letters and digits, then also
    . _ @ + -, at most 100 characters. No spreadsheet reads one as a formula (= + - @ first), no
    line is forged (no control characters), and it is not hidden (. first)."""
    if not name or len(name) > 100:
        return "a student id has 1 to 100 characters"
    if not name[0].isalnum():
        return "a student id starts with a letter or a digit"
    if not all(c.isalnum() or c in ID_PUNCTUATION for c in name):
        return "a student id holds only letters, digits and . _ @ + -"
    return ""


def _kind(mode: int) -> str:
    for test, what in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a named pipe"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device")):  # fmt: skip
        if test(mode):
            return what
    return "not a regular file"


def check_folder(folder: Path) -> None:
    """Refused unless `folder` and all it holds are real folders and regular files within the bounds."""
    mode = os.lstat(folder).st_mode
    if not stat.S_ISDIR(mode):
        raise Refused(f"{folder.name} is {_kind(mode)}, not a folder; collect copies only regular files and folders")
    total = 0
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(root, name)
            mode = os.lstat(path).st_mode
            if stat.S_ISDIR(mode):
                continue
            if not stat.S_ISREG(mode):
                raise Refused(f"{path.relative_to(folder.parent)} is {_kind(mode)}; collect copies only regular "
                              "files and folders")  # fmt: skip
            size = os.lstat(path).st_size
            total += size
            if size > MAX_FILE or total > MAX_SUBMISSION:
                raise Refused(f"{path.relative_to(folder.parent)} makes the submission larger than collect takes "
                              f"({MAX_FILE // 2**20} MiB a file, {MAX_SUBMISSION // 2**20} MiB in all)")  # fmt: skip


def copy_folder(src: Path, dest: Path) -> None:
    """Copy a folder check_folder accepted to `dest`: folders and regular files only, none followed
    through a link, each read to MAX_FILE. `dest` appears whole or not at all, and an earlier `dest`
    (collect --replace) gives way only once the new copy is complete."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}-new-", dir=dest.parent))
    try:
        for root, dirs, files in os.walk(src):
            rel = Path(root).relative_to(src)
            for name in dirs:
                (tmp / rel / name).mkdir()
            for name in files:
                _copy_file(Path(root, name), tmp / rel / name)
        os.chmod(tmp, 0o755)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if dest.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{dest.name}-old-", dir=dest.parent))
        dest.rename(old / dest.name)
        tmp.rename(dest)
        shutil.rmtree(old)
    else:
        tmp.rename(dest)


def _copy_file(src: Path, dest: Path) -> None:
    # O_NOFOLLOW: a link put in place after check_folder is not followed; O_NONBLOCK: nor a pipe waited on.
    fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise Refused(f"{src.name} is {_kind(os.fstat(fd).st_mode)}; collect copies only regular files")
        data = f.read(MAX_FILE + 1)
    if len(data) > MAX_FILE:
        raise Refused(f"{src.name} is larger than collect takes ({MAX_FILE // 2**20} MiB a file)")
    dest.write_bytes(data)
    shutil.copystat(src, dest, follow_symlinks=False)
