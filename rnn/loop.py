"""What every training loop shares: callbacks, running means, stopping, Ctrl-C, checkpoints.

``rnn.train.fit``, ``rnn.TBPTT.fit`` and ``rnn.keras``'s ``Sequential.fit`` differ in how
they make a batch and a loss; everything around that is here, so a callback behaves the
same in all three. A loop drives it like this:

    loop = TrainingLoop(model, optimizer, callbacks, params={"epochs": E, "steps": S}, verbose=1)
    with loop.running(initial_epoch, resume=path):
        for epoch in range(loop.epoch, E):
            loop.epoch_begin(epoch)
            for b, batch in enumerate(batches):
                loop.batch_begin(b)
                loss = ...; backward
                if not loop.step_is_finite(loss_value, params, epoch, b): break
                optimizer.step()
                if loop.batch_end(b, {"loss": loss_value}, size): break
            if loop.stop: break
            loop.epoch_end(epoch, {**loop.means(), "val_loss": ...})
            if loop.stop: break
    return loop.history

Ctrl-C during ``running`` stops after the current batch: the epoch it interrupts is not
recorded or checkpointed (nothing half-done is written), the callbacks' ``on_train_end``
runs, and ``fit`` returns the History so far. A second Ctrl-C stops at once.

In data-parallel training (``distributed=`` a ``minigrad.distributed.DistributedRun``)
every rank runs the loop; the ranks combine each batch's gradients and numbers
(``backward``, ``combine_batch``) and agree
on stopping, every rank takes part in saving a checkpoint (their random states are
gathered) and rank 0 alone prints and writes files.
"""
import contextlib
import math
import os
import signal
import sys
import threading

import numpy as np

import minigrad as mg

from .callbacks.base import Callback, FunctionCallback, History
from .callbacks.progress import ProgressBar
from .callbacks.stopping import TerminateOnNaN


def _as_callbacks(callbacks, what):
    out = []
    for cb in callbacks or ():
        if isinstance(cb, Callback):
            out.append(cb)
        elif callable(cb):
            out.append(FunctionCallback(cb))
        else:
            raise TypeError(f"{what}: a callback must be an rnn.callbacks.Callback or a function (model, logs) -> "
                            f"True to stop, got {type(cb).__name__}")
    return out


def nonfinite_grad(params):
    """The shape of the first parameter whose gradient holds NaN or inf, else None.

    One number crosses to the host per batch: the sum of every gradient, computed where
    the gradients live (a NaN or an inf anywhere makes it NaN or inf). Only when it is not
    finite are the gradients searched one by one."""
    grads = [p for p in params if p.grad is not None]
    if not grads:
        return None
    with mg.no_grad():
        total = sum(mg.Tensor._wrap(p.grad.data, device=p.device).sum() for p in grads)
    if math.isfinite(total.item()):
        return None
    for p in grads:
        if not np.isfinite(p.grad.numpy()).all():
            return f"a parameter of shape {tuple(p.shape)}"
    return "the parameters (their sum overflows)"


class TrainingLoop:
    """The state of one run and the calls into its callbacks (see the module docstring).

    model: what is trained (``model.stop_training = True`` ends the run);
    optimizer: the minigrad optimizer (callbacks change its learning rate);
    scheduler: saved and restored with checkpoints (the caller steps it);
    params: the run's settings handed to callbacks ({"epochs", "steps", ...});
    verbose: 1 or 2 adds a ``ProgressBar`` unless one is given; stateful: more objects
    with ``state_dict()`` whose state a checkpoint must hold (a TBPTT trainer);
    distributed: a ``minigrad.distributed.DistributedRun`` for data-parallel training.
    """

    def __init__(self, model, optimizer, callbacks=(), *, scheduler=None, params=None, verbose=0, stateful=(),
                 what="fit", distributed=None):
        self.model, self.optimizer, self.scheduler, self.what = model, optimizer, scheduler, what
        self.distributed = distributed
        self.is_main = distributed is None or distributed.is_main
        self.params = {**(params or {}), "verbose": verbose}
        self.history = History()
        cbs = _as_callbacks(callbacks, what)
        if verbose and not any(isinstance(cb, ProgressBar) for cb in cbs):
            cbs.append(ProgressBar(verbose))
        for cb in cbs:
            cb.set_loop(self)
        # stable sort: callbacks of equal order run as given; the History after them, savers last.
        # Output-only callbacks (progress, CSV, plots) run on rank 0 alone.
        self.callbacks = sorted([cb for cb in cbs if self.is_main or not cb.main_rank_only] + [self.history],
                                key=lambda cb: cb.order)
        self.history.set_loop(self)
        self.stateful = list(stateful)
        self.epoch = 0            # epochs completed
        self.step = 0             # updates applied
        self.batch = 0            # batches completed in the current epoch
        self.checkpoint_paths = []  # written with the whole training state after every epoch
        self.last_checkpoint = None
        self.interrupted = self.finished = False
        self._totals, self._seen = {}, 0

    # ------------------------------------------------------------ the run
    @property
    def stop(self):
        """True once a callback set ``model.stop_training`` or Ctrl-C was pressed."""
        return bool(getattr(self.model, "stop_training", False)) or self.interrupted

    @contextlib.contextmanager
    def running(self, initial_epoch=0, resume=None):
        """Begin the run (from ``initial_epoch``, or from the checkpoint ``resume``), end it
        whatever happens: the callbacks' ``on_train_end`` always runs (files get closed)."""
        self.model.stop_training = False
        self.epoch = int(initial_epoch)
        self.interrupted = self.finished = False
        previous = self._catch_ctrl_c()
        try:
            self._dispatch("on_train_begin", {})
            if resume is not None:
                self.restore(resume)
            yield self
            self.finished = not self.interrupted
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
            self.history.interrupted = self.interrupted
            if self.interrupted and self.is_main:
                where = f"during epoch {self.epoch + 1}, after batch {self.batch}" if self.batch else \
                    f"after epoch {self.epoch}"
                print(f"{self.what}: interrupted {where}; returning the History of the {len(self.history.epoch)} "
                      "epochs completed"
                      + (f" (the last checkpoint is {self.last_checkpoint})" if self.last_checkpoint else ""),
                      file=sys.stderr)
            self._dispatch("on_train_end", self._last_logs())

    def _catch_ctrl_c(self):
        """Make the first Ctrl-C a request to stop after the current batch (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            return None
        previous = signal.getsignal(signal.SIGINT)

        def handler(signum, frame):
            if self.interrupted:  # the second one: stop now
                signal.signal(signal.SIGINT, previous)
                raise KeyboardInterrupt
            self.interrupted = True
            print(f"\n{self.what}: stopping after this batch (Ctrl-C again to stop at once)", file=sys.stderr)

        signal.signal(signal.SIGINT, handler)
        return previous

    def _dispatch(self, hook, *args):
        for cb in self.callbacks:
            getattr(cb, hook)(*args)

    def _last_logs(self):
        return {k: v[-1] for k, v in self.history.history.items() if v}

    # ------------------------------------------------------------ epochs and batches
    def epoch_begin(self, epoch):
        if self.batch == 0:  # (a run resumed in the middle of an epoch keeps its running sums)
            self._totals, self._seen = {}, 0
        self._dispatch("on_epoch_begin", epoch, {})

    def batch_begin(self, batch):
        self._dispatch("on_train_batch_begin", batch, {})

    def batch_end(self, batch, values, size=1):
        """After an update: ``values`` are the batch's own numbers ({"loss": ..., metrics}),
        ``size`` its weight in the epoch's means. The callbacks see the running means (as
        Keras's do); the History records the batch's own values. Returns ``self.stop``."""
        for k, v in values.items():
            self._totals[k] = self._totals.get(k, 0.0) + v * size
        self._seen += size
        self.step += 1
        self.batch = batch + 1
        steps = self.params.get("steps")
        self.history.record_batch(self.epoch + (self.batch / steps if steps else 0.0), values)
        self._dispatch("on_train_batch_end", batch, self.means())
        return self.stop

    def backward(self, loss, value, mine=1, total=1):
        """Backward of the batch's mean ``loss`` (its ``value`` a float), unless it is NaN or inf.

        Data-parallel: this rank computed ``mine`` of the global batch's ``total`` examples,
        and its loss is scaled by its share first (``DistributedRun.loss_scale``)."""
        if not math.isfinite(value):
            return  # step_is_finite stops the step; no gradient is needed
        scale = 1.0 if self.distributed is None else self.distributed.loss_scale(mine, total)
        (loss if scale == 1.0 else loss * scale).backward()

    def combine_batch(self, values, size):
        """After backward: the batch's gradients and numbers over all ranks, ``(values, size)``
        as ``batch_end`` takes them.

        ``values`` are means over this rank's ``size`` examples. In data-parallel training
        the gradients are averaged over the ranks, the values become the means over the
        whole global batch, and a Ctrl-C on any rank becomes a stop on all of them (every
        rank must take the same number of steps); otherwise nothing changes."""
        if self.distributed is None:
            return values, size
        self.distributed.sync_gradients()
        values, size, stop = self.distributed.batch_means(values, size, self.interrupted)
        self.interrupted = stop
        return values, size

    def means(self):
        """The epoch's running means of the batch values so far."""
        return {k: v / max(self._seen, 1) for k, v in self._totals.items()}

    def epoch_end(self, epoch, logs):
        """Record a completed epoch: callbacks (the History among them), then the checkpoints."""
        self.epoch, self.batch = epoch + 1, 0
        self._dispatch("on_epoch_end", epoch, logs)
        if self.distributed is not None and self.distributed.any(self.stop):
            self.model.stop_training = True  # a stop on one rank is a stop on all
        for path in self.checkpoint_paths:
            self.save_checkpoint(path)

    def step_is_finite(self, loss_value, params, epoch, batch):
        """Check a batch before its update: a NaN/inf loss or gradient must not reach the weights.

        Raises FloatingPointError naming the epoch, the batch and the last good checkpoint;
        with a ``TerminateOnNaN`` callback, stops the run quietly instead (returns False)."""
        bad = loss_value if not math.isfinite(loss_value) else nonfinite_grad(params)
        if bad is None:
            return True
        if any(isinstance(cb, TerminateOnNaN) for cb in self.callbacks):
            self._dispatch("on_train_batch_end", batch, {"loss": float("nan") if isinstance(bad, str) else bad})
            self.model.stop_training = True
            return False
        where = "loss" if not math.isfinite(loss_value) else f"gradient of {bad}"
        kept = f"; the last good checkpoint is {self.last_checkpoint}" if self.last_checkpoint else ""
        raise FloatingPointError(f"{self.what}: the {where} is not finite at epoch {epoch + 1}, batch {batch + 1}; no "
                                 f"weight was changed by this batch{kept}. Lower the learning rate, clip gradients "
                                 "or run under minigrad.detect_anomaly() to find the op that made it")

    # ------------------------------------------------------------ checkpoints
    def _stateful(self):
        """Callbacks that remember something, then the loop's other stateful objects."""
        mine = [cb for cb in self.callbacks if type(cb).state_dict is not Callback.state_dict]
        return mine + self.stateful

    def save_checkpoint(self, path):
        """The whole training state, resumable by ``restore`` (mg.save_checkpoint; atomic).

        Data-parallel: called on every rank; what differs between the ranks (their random
        states: each draws its own dropout masks; a TBPTT trainer's carried hidden state)
        is gathered into the file, and rank 0 writes it."""
        extra = {"batch": self.batch, "totals": dict(self._totals), "seen": self._seen}
        if self.distributed is not None:  # what differs between ranks: random states, TBPTT's carried state
            extra["by_rank"] = self.distributed.gather({"random": mg.random.get_state(),
                                                        "stateful": [obj.state_dict() for obj in self.stateful]})
        if self.is_main:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            mg.save_checkpoint(path, self.model, self.optimizer, self.scheduler, epoch=self.epoch, step=self.step,
                               stateful=self._stateful(), extra=extra)
        self.last_checkpoint = os.fspath(path)

    def restore(self, path):
        """Continue from a checkpoint: weights, optimizer, scheduler, random and callback
        states, and where the run was (all or nothing: ``mg.load_checkpoint``)."""
        info = mg.load_checkpoint(path, self.model, self.optimizer, self.scheduler, stateful=self._stateful())
        self.epoch, self.step = info["epoch"], info["step"]
        extra = info["extra"]
        if self.distributed is not None:
            self._restore_rank(path, extra)
        self.batch = int(extra.get("batch", 0))
        self._totals, self._seen = {k: float(v) for k, v in extra.get("totals", {}).items()}, extra.get("seen", 0)
        self.last_checkpoint = os.fspath(path)
        return info

    def _restore_rank(self, path, extra):
        """Data-parallel: give this rank its own random and carried states from the checkpoint
        (``load_checkpoint`` gave every rank rank 0's)."""
        by_rank, run = extra.get("by_rank"), self.distributed
        if by_rank is None or len(by_rank) != run.size:
            saved = "one process" if by_rank is None else f"{len(by_rank)} ranks"
            if self.stateful and int(extra.get("batch", 0)):
                raise ValueError(f"{self.what}: {os.fspath(path)} was saved by {saved} in the middle of an epoch; "
                                 f"resume it on as many ranks (each continues its own streams), not {run.size}")
            return  # every rank continues from rank 0's random state
        mine = by_rank[run.rank]
        mg.random.set_state(mine["random"])
        for obj, state in zip(self.stateful, mine["stateful"]):
            obj.load_state_dict(state)


def distributed_run(model, distributed, what):
    """A ``minigrad.distributed.DistributedRun`` for ``distributed=True`` (or a model already
    wrapped in ``DataParallel``), else None."""
    from minigrad.distributed import DataParallel
    if not distributed and not isinstance(model, DataParallel):
        return None
    if distributed not in (True, False, None):
        raise ValueError(f"{what}: distributed must be True or False, got {distributed!r} (to choose bucket_mb or "
                         "overlap, wrap the model in minigrad.distributed.DataParallel yourself)")
    from minigrad.distributed.training import DistributedRun
    return DistributedRun(model)


def resume_path(resume, checkpoint, initial_epoch):
    """The checkpoint a run continues from (``resume=``: a path, or True for ``checkpoint``'s file
    when it exists), or None to start afresh."""
    if resume is None or resume is False:
        return None
    if resume is True:
        if checkpoint is None:
            raise ValueError("fit: resume=True continues from checkpoint=, which is not given")
        return checkpoint if os.path.exists(checkpoint) else None
    if initial_epoch:
        raise ValueError("fit: give resume= or initial_epoch=, not both (the checkpoint says where to start)")
    if not os.path.exists(resume):
        raise FileNotFoundError(f"fit: resume={os.fspath(resume)!r} does not exist; to start afresh when there is "
                                "no checkpoint yet, pass resume=True with checkpoint=")
    return resume
