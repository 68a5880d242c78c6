"""Keras's callbacks for ``Sequential.fit``: the shared ``rnn.callbacks``, under Keras's module name.

    from rnn.keras.callbacks import EarlyStopping, ModelCheckpoint
    model.fit(x, y, epochs=50, validation_split=0.2,
              callbacks=[EarlyStopping(patience=5, restore_best_weights=True),
                         ModelCheckpoint("best.npz", save_best_only=True)])

The hooks, names and arguments are Keras's; ``rnn.train.fit`` and ``rnn.TBPTT.fit`` take
the very same objects. See ``rnn/callbacks/`` for each one; ``ProgressBar``, ``LivePlot`` and
``GradNormLogger`` are additions to Keras's set.
"""
from rnn.callbacks import (BackupAndRestore, Callback, CSVLogger, EarlyStopping, GradNormLogger, History,  # noqa: F401
                           LambdaCallback, LearningRateScheduler, LivePlot, ModelCheckpoint, ProgressBar,
                           ReduceLROnPlateau, TerminateOnNaN)

__all__ = ["Callback", "History", "EarlyStopping", "LambdaCallback", "TerminateOnNaN", "ModelCheckpoint",
           "BackupAndRestore", "CSVLogger", "LearningRateScheduler", "ReduceLROnPlateau", "ProgressBar", "LivePlot",
           "GradNormLogger"]
