"""Network namespaces and TUN devices for the cross-check, with the standard library and `ip`.

Why namespaces: the two TCP endpoints must be real kernel sockets whose every segment
passes through a relay we control, without touching the host's network. Each endpoint
lives in its own namespace with one TUN device; the relay reads IP packets from one TUN
and writes them into the other. Namespace, address and device names are unique per run
(pid + counter), so concurrent runs never collide, and `NamespacePair.close()` removes
everything it made, also after a failure.

A thread enters a namespace with setns(2) (Python 3.11 has no os.setns): the network
namespace is per thread, and a socket or TUN device stays in the namespace where it
was created, whatever thread uses it later (man 7 network_namespaces).
"""

from __future__ import annotations

import fcntl
import itertools
import os
import shutil
import struct
import subprocess
import threading
from collections.abc import Callable
from contextlib import contextmanager
from typing import TypeVar

from autograder import linux

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
TUN_NAME = "tgb0"

_counter = itertools.count(1)
T = TypeVar("T")


class KernelToolsUnavailable(RuntimeError):
    """Root, /dev/net/tun or iproute2 is missing: the namespace cross-check cannot run here."""


def unavailable_reason() -> str | None:
    """Why the namespace cross-check cannot run on this machine, or None if it can."""
    if not os.path.exists("/proc/net/tcp"):
        return "needs Linux with /proc/net/tcp"
    if os.geteuid() != 0:
        return "needs root (creates network namespaces and TUN devices; CI runs as root)"
    if not os.path.exists("/dev/net/tun"):
        return "needs /dev/net/tun (the tun kernel module)"
    if shutil.which("ip") is None:
        return "needs `ip` from iproute2 (apt-get install iproute2)"
    return None


def _setns(fd: int) -> None:
    linux.setns(fd, linux.CLONE_NEWNET)


@contextmanager
def entered(ns_name: str | None):
    """Run the calling thread inside network namespace `ns_name` (None: stay), then come back."""
    if ns_name is None:
        yield
        return
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{ns_name}", os.O_RDONLY)
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(home)
    finally:
        os.close(target)
        os.close(home)


def in_namespace(ns_name: str, fn: Callable[[], T]) -> T:
    """Call fn in a fresh thread that lives in `ns_name`: the caller's namespace never changes."""
    box: dict[str, object] = {}

    def run() -> None:
        try:
            with entered(ns_name):
                box["value"] = fn()
        except BaseException as e:  # handed back to the caller
            box["error"] = e

    t = threading.Thread(target=run, name=f"in-{ns_name}")
    t.start()
    t.join(30)
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    if "value" not in box:
        raise TimeoutError(f"work in namespace {ns_name} did not finish in 30 s")
    return box["value"]  # type: ignore[return-value]


def _ip(*args: str, stdin: str | None = None) -> None:
    r = subprocess.run(["ip", *args], input=stdin, capture_output=True, text=True, timeout=20)
    if r.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed: {r.stderr.strip()}")


SMALL_EHASH = "256"


def _add_child_netns(name: str, parent: str) -> None:
    """`ip netns add name`, but created from inside `parent`.

    Why: a namespace made from one whose net.ipv4.tcp_child_ehash_entries is set gets
    its own small TCP hash table (Linux ≥ 6.1). Otherwise it shares the host's (here
    262144 buckets), and every read of its /proc/net/tcp walks all of them: ~4 ms,
    too slow to sample a dozen namespaces every few milliseconds.
    """
    path = f"/run/netns/{name}"

    def make() -> None:
        linux.unshare(linux.CLONE_NEWNET)
        open(path, "w").close()
        try:
            linux.mount("/proc/thread-self/ns/net", path, None, linux.MS_BIND)
        except OSError:
            os.unlink(path)
            raise

    in_namespace(parent, make)


@contextmanager
def parent_namespace():
    """A namespace to create the pairs from, with small per-namespace TCP hash tables."""
    name = f"tgb{os.getpid()}-{next(_counter)}-parent"
    _ip("netns", "add", name)
    try:
        in_namespace(name, lambda: _write_sysctl("net.ipv4.tcp_child_ehash_entries", SMALL_EHASH))
        yield name
    finally:
        _ip("netns", "del", name)


def _open_tun() -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    ifr = struct.pack("16sH22x", TUN_NAME.encode(), IFF_TUN | IFF_NO_PI)
    fcntl.ioctl(fd, TUNSETIFF, ifr)
    return fd


def _write_sysctl(key: str, value: str) -> None:
    with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
        f.write(value)


class NamespacePair:
    """Two fresh namespaces, A (client) and B (server), each with a TUN device `tgb0`.

    A has 10.213.<net>.1, B has 10.213.<net>.2, point to point: whatever A sends to B
    leaves through A's TUN, where the relay picks it up. IPv6 is off so the TUNs carry
    only our IPv4 segments. `parent` (from `parent_namespace()`) gives each namespace a
    small TCP hash table, so /proc/net/tcp reads cheaply. `sysctls` (e.g. {"A": {"net.ipv4.tcp_fin_timeout": "1"}})
    are per-namespace TCP settings.
    """

    def __init__(self, net: int, sysctls: dict[str, dict[str, str]] | None = None, parent: str | None = None) -> None:
        reason = unavailable_reason()
        if reason:
            raise KernelToolsUnavailable(reason)
        tag = f"tgb{os.getpid()}-{next(_counter)}"
        self.names = {"A": f"{tag}-a", "B": f"{tag}-b"}
        self.addr = {"A": f"10.213.{net}.1", "B": f"10.213.{net}.2"}
        self.tun: dict[str, int] = {}
        self._made: list[str] = []
        self._parent = parent
        try:
            for side in "AB":
                self._setup(side, (sysctls or {}).get(side, {}))
        except BaseException:
            self.close()
            raise

    def _setup(self, side: str, sysctls: dict[str, str]) -> None:
        name, peer = self.names[side], self.addr["B" if side == "A" else "A"]
        if self._parent:
            _add_child_netns(name, self._parent)
        else:
            _ip("netns", "add", name)
        self._made.append(name)

        def inside() -> int:
            _write_sysctl("net.ipv6.conf.all.disable_ipv6", "1")
            _write_sysctl("net.ipv6.conf.default.disable_ipv6", "1")
            for key, value in sysctls.items():
                _write_sysctl(key, value)
            return _open_tun()

        self.tun[side] = in_namespace(name, inside)
        batch = f"link set lo up\naddr add {self.addr[side]} peer {peer} dev {TUN_NAME}\nlink set {TUN_NAME} up\n"
        _ip("-n", name, "-batch", "-", stdin=batch)

    def close(self) -> None:
        """Close the TUNs and delete the namespaces (idempotent)."""
        for fd in self.tun.values():
            try:
                os.close(fd)
            except OSError:
                pass
        self.tun.clear()
        while self._made:
            name = self._made.pop()
            try:
                _ip("netns", "del", name)
            except (RuntimeError, subprocess.TimeoutExpired):
                pass

    def __enter__(self) -> NamespacePair:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
