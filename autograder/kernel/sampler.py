"""/proc/net/tcp of many namespaces, sampled from one thread: the kernel's states as a second
channel beside the tracepoint (kernel_states merges the two)."""

from __future__ import annotations

import os
import threading
import time

from . import kernel_states, procnet
from .netns import entered

SAMPLE_EVERY = 0.004  # /proc/net/tcp sampling period (one jiffy at HZ=250)


class Sampler:
    """Samples registered /proc/.../net/tcp files every SAMPLE_EVERY seconds."""

    def __init__(self) -> None:
        self._files: dict[tuple[str, str], tuple[int, tuple[str, int], tuple[str, int]]] = {}
        self.samples: dict[tuple[str, str], list[kernel_states.Sample]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="proc-sampler", daemon=True)

    def register(self, key: tuple[str, str], ns: str, local: tuple[str, int], remote: tuple[str, int]) -> None:
        with entered(ns):
            fd = os.open("/proc/thread-self/net/tcp", os.O_RDONLY)
        with self._lock:
            self._files[key] = (fd, local, remote)
            self.samples[key] = []

    def unregister(self, key: tuple[str, str]) -> None:
        with self._lock:
            fd, _, _ = self._files.pop(key)
        os.close(fd)

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_EVERY):
            with self._lock:
                for key, (fd, local, remote) in self._files.items():
                    now = time.monotonic()
                    match = [e for e in procnet.read_fd(fd) if e.local == local and e.remote == remote]
                    self.samples[key].append((now, match[0] if match else None))

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
