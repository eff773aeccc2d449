"""The few Linux calls that Python's os module lacks, through ctypes: one home for the grading
sandbox (namespaces, mounts, capabilities) and the kernel lab (network namespaces, tracefs).

Each raises OSError with the call's name, so a defence that cannot be applied says why.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import struct

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38
_CAP_VERSION_3 = 0x20080522
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}.get(os.uname().machine)

_libc = ctypes.CDLL(None, use_errno=True)


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def setns(fd: int, nstype: int) -> None:
    """Move the calling thread into the namespace open at `fd`."""
    _check(_libc.setns(fd, nstype), "setns")


def umount_detached_quietly(target: str) -> None:
    """umount2(MNT_DETACH), ignoring failure: for clean-up paths."""
    _libc.umount2(target.encode(), MNT_DETACH)


def mount(source: str, target: str, fstype: str | None, flags: int, options: str | None = None) -> None:
    _check(_libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None, flags,
                       options.encode() if options else None), f"mount {target}")  # fmt: skip


def bind(source: str, target: str, *, readonly: bool = True) -> None:
    """Bind `source` at `target`; read-only, no setuid, no devices (a second, remounting call)."""
    mount(source, target, None, MS_BIND | MS_REC)
    if readonly:
        mount("none", target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def tmpfs(target: str, size: int, mode: int = 0o755, *, owner: tuple[int, int] | None = None, readonly: bool = False,
          noexec: bool = False) -> None:  # fmt: skip
    """A size-bounded tmpfs; owner (uid, gid) owns its root (in a user namespace both must be mapped there)."""
    options = f"size={size},nr_inodes={max(64, size // 4096)},mode={mode:o}"
    if owner is not None:
        options += f",uid={owner[0]},gid={owner[1]}"
    flags = MS_NOSUID | MS_NODEV | (MS_RDONLY if readonly else 0) | (MS_NOEXEC if noexec else 0)
    mount("tmpfs", target, "tmpfs", flags, options)


def remount_readonly(target: str) -> None:
    mount("none", target, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def make_private(target: str = "/") -> None:
    """Mounts made from now on stay in this mount namespace (mount --make-rprivate /)."""
    mount("none", target, None, MS_REC | MS_PRIVATE)


def pivot_root(new_root: str, put_old: str) -> None:
    if SYS_PIVOT_ROOT is None:
        raise OSError(0, f"pivot_root: unknown syscall number on {os.uname().machine}")
    _check(_libc.syscall(SYS_PIVOT_ROOT, new_root.encode(), put_old.encode()), "pivot_root")


def umount_detached(target: str) -> None:
    _check(_libc.umount2(target.encode(), MNT_DETACH), f"umount {target}")


def no_new_privileges() -> None:
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")


def die_with_parent(signum: int = 9) -> None:
    """PR_SET_PDEATHSIG: this process gets `signum` when its parent dies (cleared by a change of uid: set it after)."""
    _check(_libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")


def drop_capabilities() -> None:
    """No capability left, effective, permitted or inheritable. A forked child never execs, so a
    process that is root in a user namespace keeps every capability there unless it drops them."""

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

    header, data = Header(_CAP_VERSION_3, 0), (Data * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "capset")


def sethostname(name: str) -> None:
    _check(_libc.sethostname(name.encode(), len(name)), "sethostname")


def loopback_up() -> None:
    """`ip link set lo up` without iproute2: SIOCSIFFLAGS with IFF_UP|IFF_RUNNING."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        fcntl.ioctl(s, 0x8914, struct.pack("16sH14x", b"lo", 0x1 | 0x40))


def write_proc_self(name: str, text: str) -> None:
    """/proc/self/<name> (uid_map and friends): the kernel's own file, opened without following links."""
    fd = os.open(f"/proc/self/{name}", os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)
