"""What the launcher puts in the sandbox's new root: the host's system read-only, a /dev of its own,
and the learner's files copied in (owned by the sandbox's uid, opened without following links).

A mixin of Launch (and so of the fork server's Base and Child): the defences that build the
root (minimal-root, private-tmp) are Launch's methods; these are the pieces they are made of.
"""

from __future__ import annotations

import os

from autograder import linux
from autograder.sandbox.policy import VIEW, SandboxPolicy

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")
ETC_FILES = ("passwd", "group", "hosts", "nsswitch.conf", "localtime", "ld.so.cache", "ld.so.conf", "ld.so.conf.d",
             "mime.types", "ssl", "alternatives", "fonts", "os-release")  # fmt: skip
DEVICES = ("null", "zero", "full", "random", "urandom")


class RootFiles:
    """Files and mounts of the new root, built under `new_root` (a path inside it via `_at`)."""

    policy: SandboxPolicy
    root_user: bool
    new_root: str
    bound: list[str]  # host paths visible inside the new root, at the same path

    def _at(self, path: str) -> str:
        return self.new_root + path

    def _mkdir(self, path: str) -> None:
        os.makedirs(self._at(path), mode=0o755, exist_ok=True)

    def _show_system(self) -> None:
        """The system's libraries, /etc's few files, the interpreter and the learner view, read-only."""
        for path in SYSTEM_DIRS:
            self._show(path)
        os.makedirs(self._at("/etc"), mode=0o755)
        for name in ETC_FILES:
            self._show(os.path.join("/etc", name))
        python = os.path.realpath(self.policy.python)
        for path in dict.fromkeys((*self.policy.python_dirs, os.path.dirname(os.path.dirname(python)))):
            self._show(path)
        self._mkdir(VIEW)
        linux.bind(self.policy.view, self._at(VIEW))

    def _devices(self) -> None:
        """A /dev of its own: the few harmless devices, the fd links and a mount point for /dev/shm."""
        self._mkdir("/dev")
        linux.tmpfs(self._at("/dev"), 1 << 20, 0o755, noexec=True)
        for name in DEVICES:
            target = self._at(f"/dev/{name}")
            os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o666))
            linux.bind(f"/dev/{name}", target, readonly=False)
        for name, dest in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                           ("stderr", "/proc/self/fd/2")):  # fmt: skip
            os.symlink(dest, self._at(f"/dev/{name}"))
        os.mkdir(self._at("/dev/shm"), 0o1777)

    def _show(self, path: str) -> None:
        """Make a host path visible at the same place, read-only (a symlink is copied as a symlink)."""
        if not os.path.lexists(path) or any(path.startswith(b.rstrip("/") + "/") for b in self.bound):
            return
        if os.path.islink(path):
            self._mkdir(os.path.dirname(path))
            os.symlink(os.readlink(path), self._at(path))
            return
        if os.path.isdir(path):
            self._mkdir(path)
        else:
            self._mkdir(os.path.dirname(path))
            os.close(os.open(self._at(path), os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o644))
        linux.bind(path, self._at(path))
        self.bound.append(path)

    def _uid(self) -> int:
        return self.policy.uid if self.root_user and self.policy.uid is not None else os.getuid()

    def _owner(self) -> tuple[int, int]:
        """Who owns the home: the slot's uid (and its group) as root; else this user and *its own* group,
        which may differ from its uid (a hub's students): a gid not mapped in the namespace is EINVAL."""
        if self.root_user and self.policy.uid is not None:
            return self.policy.uid, self.policy.uid
        return os.getuid(), os.getgid()

    def _copy_in(self, src: str, dest: str) -> None:
        self._copy_fd(os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC), dest)

    def _copy_fd(self, fin: int, dest: str) -> None:
        """Copy an open file (closed after) to a new file owned by the sandbox's uid."""
        try:
            fout = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
            try:
                while chunk := os.read(fin, 1 << 20):
                    os.write(fout, chunk)
                os.fchown(fout, self._uid(), self._uid())
            finally:
                os.close(fout)
        finally:
            os.close(fin)

    def _fallback_home(self) -> str:
        """Without a private root: a home of its own in the grader's scratch directory."""
        home = os.path.join(self.policy.scratch, "home")
        os.makedirs(home, mode=0o700, exist_ok=True)
        for src in self.policy.files:
            dest = os.path.join(home, os.path.basename(src))
            if not os.path.lexists(dest):
                self._copy_in(src, dest)
        return home
