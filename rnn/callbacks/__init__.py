"""Callbacks for ``rnn.train.fit``, ``rnn.TBPTT.fit`` and ``rnn.keras``'s ``Sequential.fit``.

    history = rnn.train.fit(model, x, y, epochs=50, validation_split=0.2, callbacks=[
        EarlyStopping(patience=5, restore_best_weights=True),
        ModelCheckpoint("best.npz", save_best_only=True),
        CSVLogger("log.csv"), LivePlot("curves.png")])

The hooks and their arguments are Keras's (see ``base.py``); so are the names and
arguments of the callbacks, with a few additions (``ModelCheckpoint(keep=)``,
``ProgressBar``, ``LivePlot``, ``GradNormLogger``).
"""
from .base import Callback, FunctionCallback, History, LambdaCallback
from .checkpoints import BackupAndRestore, ModelCheckpoint
from .csv_logger import CSVLogger
from .grad_norms import GradNormLogger
from .learning_rate import LearningRateScheduler, ReduceLROnPlateau
from .live_plot import LivePlot
from .progress import ProgressBar
from .stopping import EarlyStopping, TerminateOnNaN

__all__ = ["Callback", "LambdaCallback", "FunctionCallback", "History", "EarlyStopping", "TerminateOnNaN",
           "ModelCheckpoint", "BackupAndRestore", "CSVLogger", "LearningRateScheduler", "ReduceLROnPlateau",
           "ProgressBar", "LivePlot", "GradNormLogger"]
