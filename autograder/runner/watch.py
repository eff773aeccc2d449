"""What the runner sees a submission do: forbidden actions (a Python audit hook) and tampering.

Nothing here decides a score: scores come from the grader, from what the handlers return. This
only records, for the instructor, what a submission tried: reaching for the answers (importing
reference_impl.handlers, opening the course or the gradebook), the network, other processes,
ctypes, digging through the runner's objects, and changes to the grading vocabulary or to
IPython itself (shadowed helpers, patched classes, fake modules, pre_run_cell hooks).

The audit hook is installed before any learner code runs and cannot be removed (PEP 578); it is
armed only while learner code runs, so the runner's own imports are not reported.
"""

from __future__ import annotations

import builtins
import os
import sys
from types import ModuleType

FORBIDDEN_IMPORTS = ("reference_impl.handlers", "autograder.pipeline", "autograder.manifest",
                     "autograder.reference_source", "autograder.sandbox", "autograder.runner", "nbgrader", "tests",
                     "tcpclose_manifest")  # fmt: skip
SECRET_NAMES = ("handlers.py", "gradebook.db", "manifest.py", "nbgrader_config.py", "mutants.py")
ANSWER_FILES = ("reference_impl/handlers.py",)  # never in the view: looking is telling
PROCESS_EVENTS = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty")
CTYPES_EVENTS = ("ctypes.dlopen", "ctypes.dlsym", "ctypes.cdata", "ctypes.string_at", "ctypes.wstring_at")
GC_EVENTS = ("gc.get_objects", "gc.get_referrers", "gc.get_referents")
MAX_SEEN = 40
OURS = ("autograder", "reference_impl")
SOCKET_CREATED = "a socket created (there is no network in the sandbox)"
# What a loopback socket makes this watch note: the course's own doing where its manifest says LOOPBACK
LOOPBACK_NOTES = (SOCKET_CREATED, "bind to ('127.", "connect to ('127.")


def _ours(name: object) -> bool:
    return isinstance(name, str) and (name in OURS or name.startswith(("autograder.", "reference_impl.")))


class Watch:
    """Records what learner code does; `take()` hands the new observations to the grader."""

    def __init__(self, view: str, watched: tuple[str, ...] = ()) -> None:
        self.view = os.path.realpath(view)
        # The interpreter's own trees are shown read-only in the sandbox: reading them is just Python.
        self.own = tuple(dict.fromkeys(p.rstrip("/") + "/" for p in (self.view, sys.prefix, sys.base_prefix,
                                                                      sys.exec_prefix)))  # fmt: skip
        self.watched = tuple(p.rstrip("/") + "/" for p in watched if p)
        self.armed = False
        self.seen: dict[str, str] = {}  # what -> detail, in order
        self.reported: set[str] = set()
        self._baseline: dict[str, object] = {}
        sys.addaudithook(self._audit)

    # ---- the audit hook --------------------------------------------------------------------

    def note(self, what: str, detail: str = "") -> None:
        if what not in self.seen and len(self.seen) < MAX_SEEN:
            self.seen[what] = detail[:200]

    def _audit(self, event: str, args: tuple) -> None:
        if not self.armed:
            return
        try:
            self._event(event, args)
        except Exception:  # noqa: BLE001 - never let the hook break the learner's (or the runner's) code
            pass

    def _event(self, event: str, args: tuple) -> None:
        if event == "import":
            name = args[0]
            if isinstance(name, str) and name.startswith(FORBIDDEN_IMPORTS) and self._from_learner():
                self.note(f"import of {name}")
        elif event in ("open", "os.listdir", "os.scandir"):
            path = args[0] if args else None
            if isinstance(path, bytes):
                path = path.decode(errors="replace")
            if isinstance(path, str) and self._secret(path):
                self.note(f"{'open' if event == 'open' else 'listing'} of {path}")
        elif event == "socket.__new__":
            self.note(SOCKET_CREATED)
        elif event in ("socket.connect", "socket.bind", "socket.sendto"):
            self.note(f"{event.split('.')[1]} to {args[1] if len(args) > 1 else '?'}"[:120])
        elif event in PROCESS_EVENTS:
            self.note("a process started", f"{event} {str(args[0])[:100] if args else ''}")
        elif event in CTYPES_EVENTS:
            self.note("ctypes used (raw memory or C functions)", event)
        elif event in GC_EVENTS:
            self.note("the runner's objects searched (gc)", event)
        elif event == "object.__setattr__" and isinstance(args[0], type) and _ours(getattr(args[0], "__module__", "")):
            self.note(f"{args[0].__module__}.{args[0].__qualname__}.{args[1]} changed")
        elif event in ("sys.settrace", "sys.setprofile"):
            self.note(f"{event} called")
        elif event == "os.kill":
            self.note("a signal sent", f"to process {args[0]}")
        elif event == "os.symlink":
            self.note("a symbolic link created", f"to {str(args[0])[:150]}")

    def _from_learner(self) -> bool:
        """Whether the code that asked is the learner's: the nearest frame outside the import machinery
        is not the course's own (the course's code looks for the reference where it may be)."""
        frame = sys._getframe(3)  # past this method, _event and the hook itself
        while frame is not None:
            name = frame.f_code.co_filename
            if not (name.startswith("<frozen") or "importlib" in name):
                return not os.path.realpath(name).startswith(self.own)
            frame = frame.f_back
        return True

    def _secret(self, path: str) -> bool:
        if path.startswith(("/proc/self/fd", "/dev/fd", "/proc/1/fd")) or path.rstrip("/") == "/proc":
            return True
        full = os.path.normpath(path if path.startswith("/") else os.path.join(os.getcwd(), path))
        if full.startswith(self.own):  # the interpreter and the view: only where the answers would be
            return full.endswith(ANSWER_FILES)
        return full.startswith(self.watched) or os.path.basename(full) in SECRET_NAMES

    # ---- tampering with the vocabulary, the modules and IPython ------------------------------

    def baseline(self, shell) -> None:
        """Remember how things stand after the course's own (locked) cells ran."""
        self._baseline = self._state(shell)

    def scan(self, shell) -> None:
        """Note every difference from the baseline (each once)."""
        if not self._baseline:
            return
        now = self._state(shell)
        before = self._baseline
        for name, ident in before["names"].items():
            if now["names"].get(name) != ident:
                self.note(f"`{name}` (from the setup cell) redefined")
        for key, ident in before["attrs"].items():
            if now["attrs"].get(key) != ident:
                self.note(f"{key} changed")
        for name, real in now["modules"].items():
            if not real:
                self.note(f"a module {name} that is not the course's put in sys.modules")
        for event, count in now["events"].items():
            if count > before["events"].get(event, 0):
                self.note(f"an IPython {event} callback registered")
        for key in ("displayhook", "display_pub", "sys.displayhook", "transformers"):
            if now[key] != before[key]:
                self.note(f"IPython's {key} replaced")
        for name, ident in before["builtins"].items():
            if now["builtins"].get(name) != ident:
                self.note(f"builtins.{name} replaced")

    def _state(self, shell) -> dict:
        modules, attrs = {}, {}
        for name, module in list(sys.modules.items()):
            if not _ours(name):
                continue
            real = isinstance(module, ModuleType) and os.path.realpath(
                getattr(module, "__file__", "") or ""
            ).startswith(self.view)
            modules[name] = real
            if not real:
                continue
            for attr, value in list(vars(module).items()):
                if attr.startswith("_"):  # the course's own private state (caches, the chosen reference)
                    continue
                attrs[f"{name}.{attr}"] = id(value)
                if isinstance(value, type) and getattr(value, "__module__", None) == name:
                    for k, v in list(vars(value).items()):
                        if not k.startswith("__"):
                            attrs[f"{name}.{value.__qualname__}.{k}"] = id(v)
        names = {
            k: id(v)
            for k, v in list(shell.user_ns.items())
            if not k.startswith("_") and _ours(getattr(v, "__module__", None) or getattr(v, "__name__", None))
        }
        return {
            "modules": modules, "attrs": attrs, "names": names,
            "events": {e: len(cbs) for e, cbs in shell.events.callbacks.items()},
            "displayhook": id(shell.displayhook), "display_pub": id(shell.display_pub),
            "sys.displayhook": id(sys.displayhook),
            "transformers": (len(shell.input_transformers_post), len(shell.ast_transformers),
                             len(shell.input_transformers_cleanup)),
            "builtins": {k: id(v) for k, v in vars(builtins).items() if not k.startswith("_")},
        }  # fmt: skip

    def take(self) -> list[dict]:
        """What was seen since the last take, as [{"what": ..., "detail": ...}]."""
        new = [{"what": w, "detail": d} for w, d in self.seen.items() if w not in self.reported]
        self.reported.update(self.seen)
        return new
