"""What a notebook gets from `from autograder.learner import *`: the vocabulary, not the answers.

Learners write the per-state handlers themselves, so the reference's handlers
(`reference_impl.handlers`) are deliberately absent; the mechanics every state
shares (segments, the TCB, `screen`, the building blocks in `reference_impl.actions`)
are here so an answer is about *decisions*, as RFC 9293 §3.10 is.
"""

from reference_impl.actions import (
    CLOSING_ERROR,
    NO_CONNECTION,
    RESET_ERROR,
    USER_TIMEOUT,
    check_segment,
    delay_fin_ack,
    drop,
    fin_crossed,
    gives_up,
    is_retransmitted_fin,
    note_close,
    on_reset,
    on_retransmit_timeout,
    on_unread_close,
    reset_for,
    retransmit,
    retransmit_timer,
    send_data,
    send_fin,
    send_rst,
    take_text,
    timer_probe,
    timewait_state_process,
)
from reference_impl.profiles import LINUX, RFC9293, Profile, ms, sec
from reference_impl.segment import (
    ACK,
    FIN,
    RST,
    SYN,
    Segment,
    segment_text,
    seq_add,
    seq_diff,
    seq_ge,
    seq_gt,
    seq_le,
    seq_lt,
)
from reference_impl.states import (
    AppAbort,
    AppClose,
    AppSend,
    Arrival,
    CancelTimer,
    DeliverData,
    DeliverEOF,
    Error,
    Send,
    StartTimer,
    State,
    Step,
    Timeout,
    Timer,
)
from reference_impl.tcb import TCB, Screened, Verdict, screen

from .notebook_helpers import reference_close

__all__ = [
    # segments and sequence arithmetic
    "Segment", "FIN", "SYN", "RST", "ACK", "segment_text",
    "seq_add", "seq_diff", "seq_lt", "seq_le", "seq_gt", "seq_ge",
    # states, stimuli, outputs
    "State", "Timer", "Step",
    "AppClose", "AppSend", "AppAbort", "Arrival", "Timeout",
    "Send", "StartTimer", "CancelTimer", "DeliverData", "DeliverEOF", "Error",
    # the TCB and the shared checks of RFC 9293 §3.10.7.4
    "TCB", "screen", "Verdict", "Screened",
    # profiles and durations
    "Profile", "RFC9293", "LINUX", "ms", "sec",
    # building blocks (reference_impl.actions): what to send, never the next state
    "send_fin", "note_close", "send_data", "send_rst", "drop", "retransmit", "gives_up", "timer_probe",
    "retransmit_timer", "take_text", "check_segment", "is_retransmitted_fin", "reset_for", "delay_fin_ack",
    "CLOSING_ERROR", "RESET_ERROR", "NO_CONNECTION", "USER_TIMEOUT",
    # stand-ins: an exercise of a later notebook, given whole (a Step) to the notebooks before it
    "fin_crossed", "on_retransmit_timeout", "timewait_state_process", "on_reset", "on_unread_close",
    # the reference's run of a catalogue scenario, for an ungraded cell to show (never for an answer)
    "reference_close",
]  # fmt: skip


def _whole_table_cells() -> None:
    """The course's tables hold sentences (a profile difference's reason, a segment, a list of times):
    pandas would cut each cell at 50 characters with "...", hiding the point of the table."""
    try:
        import pandas as pd
    except ImportError:  # an environment without pandas draws no table
        return
    pd.set_option("display.max_colwidth", None)


_whole_table_cells()
