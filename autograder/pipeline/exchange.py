"""`nbgrader collect` over the JupyterHub exchange, with collect's rules (autograder.pipeline.inbox).

A student can write into the exchange's inbound folder directly, not only through `nbgrader
submit`: a link planted there to the course's source notebook would be followed by nbgrader's
own copy (shutil.copytree), and the instructor's solutions collected as the student's work. The
course's nbgrader_config.py makes nbgrader use this class, which copies regular files and
folders only, each bounded, following no link even if one is swapped in while it copies, and
refuses anything else with one line in the log.
"""

from __future__ import annotations

from pathlib import Path

from nbgrader.exchange.default.collect import ExchangeCollect

from .inbox import Refused, place, take, why_not


class SafeExchangeCollect(ExchangeCollect):
    def do_copy(self, src: str, dest: str, log: object = None) -> None:
        try:
            place(take(Path(src).parent, (Path(src).name,), Path(dest).parent), Path(dest))
        except (Refused, OSError) as e:
            self.log.error("not collected: %s: %s", Path(src).name, why_not(e))
