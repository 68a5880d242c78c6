"""What a callback is, and the one every run has: the History.

A callback is an object whose hooks the training loop calls at fixed points (Keras's
names and arguments; ``epoch`` and ``batch`` count from 0):

    on_train_begin(logs)          on_train_end(logs)
    on_epoch_begin(epoch, logs)   on_epoch_end(epoch, logs)     logs: loss, metrics, val_*, lr
    on_train_batch_begin(batch)   on_train_batch_end(batch, logs)
                                  (on_batch_begin / on_batch_end are their older names)

The same callbacks serve ``rnn.train.fit``, ``rnn.TBPTT.fit`` and ``rnn.keras``'s
``Sequential.fit``. Inside a hook, ``self.model`` is the model being trained,
``self.optimizer`` the minigrad optimizer updating it, ``self.params`` the run's
settings (epochs, steps per epoch, verbose) and ``self.loop`` the loop itself.
``self.model.stop_training = True`` stops the run after the current batch.

A callback that remembers something across epochs (a best value, a patience count)
returns it from ``state_dict()`` and takes it back in ``load_state_dict()``: training
checkpoints save it, so a resumed run decides exactly as the uninterrupted one would.
"""


class Callback:
    """Base class: override the hooks you need (they all do nothing here).

    ``order``: callbacks run in increasing order, and in the order given among equals;
    the History (10) runs after the usual callbacks (0) so that it records what they add
    to the logs, and checkpoint writers (20) run last so that they save everyone's state."""

    order = 0
    # True for callbacks that only write output (a progress bar, a CSV file, a plot): in
    # data-parallel training (``fit(distributed=True)``) only rank 0 runs them. The others
    # run on every rank, so that every rank makes the same decisions (stopping, the
    # learning rate) and holds the same state; their files and messages come from rank 0.
    main_rank_only = False

    def __init__(self):
        self.model = self.optimizer = self.loop = None
        self.params = {}

    # --- wiring (done by the loop)
    def set_loop(self, loop):
        self.loop, self.model, self.optimizer, self.params = loop, loop.model, loop.optimizer, loop.params

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    @property
    def is_main(self):
        """False on the ranks other than 0 of a data-parallel run: they neither print nor write files."""
        return self.loop is None or self.loop.is_main

    def say(self, message):
        """Print ``message``, on rank 0 only."""
        if self.is_main:
            print(message)

    # --- hooks
    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs)

    def on_batch_begin(self, batch, logs=None):
        pass

    def on_batch_end(self, batch, logs=None):
        pass

    # --- what a checkpoint keeps
    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


class LambdaCallback(Callback):
    """A callback from functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``."""

    _HOOKS = ("on_epoch_begin", "on_epoch_end", "on_train_begin", "on_train_end", "on_train_batch_begin",
              "on_train_batch_end", "on_batch_begin", "on_batch_end")

    def __init__(self, **hooks):
        super().__init__()
        unknown = sorted(set(hooks) - set(self._HOOKS))
        if unknown:
            raise TypeError(f"LambdaCallback: unknown hook(s) {unknown}; hooks are {', '.join(self._HOOKS)}")
        for name, fn in hooks.items():
            if fn is not None:
                setattr(self, name, fn)


class FunctionCallback(Callback):
    """A plain function ``fn(model, logs) -> True to stop`` called after every epoch
    (the simplest callback ``rnn.train.fit`` accepts)."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def on_epoch_end(self, epoch, logs=None):
        if self.fn(self.model, logs):
            self.model.stop_training = True


class History(Callback):
    """What a run recorded: ``history.history["loss"]`` (one value per epoch, as Keras),
    ``history.epoch`` (the epochs, from 0), and per batch ``history.batch_history``:
    {"epoch": where each batch ends, in epochs (batch b of n in epoch e: e + (b+1)/n),
    "loss": that batch's own loss, ...}. ``history.plot()`` draws it all.

    ``interrupted`` is True when the run was stopped by Ctrl-C; the epoch it was in is
    then not recorded (its batches are, in ``batch_history``)."""

    order = 10
    epochs_from = 0  # ``epoch`` counts from 0, as Keras's (plot_history draws epoch e at e + 1)

    def __init__(self):
        super().__init__()
        self.history, self.epoch, self.batch_history = {}, [], {}
        self.interrupted = False

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)

    def record_batch(self, x, values):
        """One batch's own values (not running means), at ``x`` epochs into the run."""
        self.batch_history.setdefault("epoch", []).append(x)
        for k, v in values.items():
            self.batch_history.setdefault(k, []).append(v)

    def plot(self, path=None, **kwargs):
        """The curves, per epoch and per batch, with ``minigrad.plot.plot_history``: returns the Figure."""
        from minigrad.plot import plot_history
        return plot_history(self, path, **kwargs)

    def state_dict(self):
        return {"history": self.history, "epoch": self.epoch, "batch_history": self.batch_history}

    def load_state_dict(self, state):
        self.history = {k: list(v) for k, v in state["history"].items()}
        self.epoch = [int(e) for e in state["epoch"]]
        self.batch_history = {k: list(v) for k, v in state["batch_history"].items()}

    def __repr__(self):
        last = {k: round(v[-1], 5) for k, v in self.history.items() if v}
        return f"History({len(self.epoch)} epochs, last: {last})"
