"""Real Linux TCP stack tools: the root cross-check of the reference, and the learner lab.

* `crosscheck()` (root): plays each scenario of `SCENARIOS` on real sockets in two
  network namespaces joined by a relay over TUN devices, and compares states and when they
  begin, segments and their timing, delayed ACKs, TIME_WAIT re-arms and the application's
  error with the reference's linux profile.
* `lab.observe_close()` (any user): opens a loopback connection, closes it the way the
  learner chooses and samples the states the OS reports in /proc/net/tcp.
"""

from .comparison import Comparison, compare
from .crosscheck import crosscheck, run_scenarios
from .kernel_run import KernelRun
from .lab import LabUnavailable, Observation, observe_close
from .netns import KernelToolsUnavailable, NamespacePair, unavailable_reason
from .procnet import ProcNetUnavailable
from .scenarios import SCENARIOS, KernelScenario

__all__ = [
    "SCENARIOS", "Comparison", "KernelRun", "KernelScenario", "compare", "crosscheck", "run_scenarios",
    "LabUnavailable", "Observation", "observe_close",
    "KernelToolsUnavailable", "NamespacePair", "unavailable_reason", "ProcNetUnavailable",
]  # fmt: skip
