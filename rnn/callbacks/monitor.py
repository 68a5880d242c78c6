"""Watching one logged value: which direction is better, and reading it from the logs."""
import math


def mode_sign(monitor, mode, who):
    """+1 when lower is better, -1 when higher is ("auto": higher for accuracies)."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{who}: mode must be auto, min or max, got {mode!r}")
    if mode == "auto":
        mode = "max" if "acc" in monitor else "min"
    return 1 if mode == "min" else -1


def monitored(logs, monitor, who):
    """logs[monitor], or an error listing what is logged."""
    if monitor not in (logs or {}):
        raise KeyError(f"{who}: {monitor!r} is not in the logs (available: {', '.join(logs or {})}); val_* values "
                       "need validation data (validation_data= or validation_split=)")
    return logs[monitor]


class Best:
    """The best value seen so far of ``sign * value`` (lower is better after the sign)."""

    def __init__(self, sign, start=None):
        self.sign = sign
        self.value = math.inf if start is None else sign * start

    def improves(self, value, min_delta=0.0):
        return self.sign * value < self.value - min_delta

    def update(self, value):
        self.value = self.sign * value
