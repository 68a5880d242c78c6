"""Truncated backpropagation through time (Williams & Peng, 1990), with parameters k1 and k2.

Full BPTT over a sequence of T steps keeps T steps of activations and makes one update
per sequence. TBPTT(k1, k2) instead makes an update every k1 steps, each backpropagating
through the last k2 steps only (k2 >= k1):

    steps:      ... | t-k2 ........ t-k1 ........ t |
    forward:        |<------- recomputed -------->|   from the state saved at t-k2, detached
    loss:                           |<--- k1 --->|    only the k1 newest steps' losses
    gradient:       |<------------- k2 ---------->|   flows back k2 steps, then is cut

* k1 = k2 = k is the common "detach the hidden state every k steps".
* k1 = k2 = T is exactly full BPTT (one update per sequence).
* k1 < k2 lets every loss see at least k2 - k1 steps of history in its gradient; the
  price is recomputing the k2 - k1 overlapping steps at every update. The state they
  start from is the one the previous update's forward pass computed there (with the
  weights of that time), saved detached: not recomputed with the updated weights.

The state is carried across calls (across batches of a continuous stream, as in
language modelling), always detached where the graph is cut: ``detach_state()`` or
``reset_state()`` between unrelated sequences.

``model(x, state) -> (y_pred, new_state)`` runs x of shape (t, B, ...) (time first)
from ``state`` (None means zeros); ``loss_fn(y_pred, y) -> scalar`` is the mean loss of
those steps.

``TBPTT.fit`` trains on a whole stream for some epochs with the callbacks, progress,
checkpoints and exact resume that ``rnn.train.fit`` has; ``TBPTT.step`` is the same
update for a loop of your own.
"""
import math

import numpy as np

import minigrad as mg
from minigrad.optim import clip_grad_norm_

from .loop import TrainingLoop, distributed_run, nonfinite_grad, resume_path


def _to_arrays(state):
    """The state with its tensors as numpy arrays (for a checkpoint), structure kept."""
    if isinstance(state, (tuple, list)):
        return type(state)(_to_arrays(s) for s in state)
    return None if state is None else state.numpy()


def _to_tensors(state, device):
    if isinstance(state, (tuple, list)):
        return type(state)(_to_tensors(s, device) for s in state)
    if state is None:
        return None
    state = np.asarray(state)
    return mg.tensor(state, dtype=state.dtype, device=device)  # the saved dtype: a float64 state stays float64


def detach(state):
    """The state (a tensor, or a tuple/list of them, or None) cut from its graph."""
    if state is None:
        return None
    if isinstance(state, (tuple, list)):
        return type(state)(detach(s) for s in state)
    return state.detach()


class TBPTT:
    """Train a recurrent ``model`` on long sequences with truncated BPTT.

    >>> trainer = TBPTT(model, loss_fn, optimizer, k1=20, k2=40, clip_norm=1.0)
    >>> for x, y in stream:            # consecutive chunks of one long sequence
    ...     losses = trainer.step(x, y)

    ``clip_norm`` clips the global gradient norm before each update (exploding
    gradients are the classic failure of BPTT); ``grad_norms`` records the norms seen.
    """

    def __init__(self, model, loss_fn, optimizer, k1, k2=None, clip_norm=None):
        k2 = k1 if k2 is None else k2
        if not (isinstance(k1, int) and isinstance(k2, int) and 1 <= k1 <= k2):
            raise ValueError(f"TBPTT: need integers 1 <= k1 <= k2, got k1={k1}, k2={k2}")
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.k1, self.k2, self.clip_norm = k1, k2, clip_norm
        self.state = None
        self._history = None  # (the last k2 - k1 input steps, the state before them), to recompute the overlap
        self.grad_norms = []

    def reset_state(self):
        """Forget the carried state (start of an unrelated sequence)."""
        self.state = None
        self._history = None

    def detach_state(self):
        """Keep the carried state's values but cut its graph."""
        self.state = detach(self.state)

    def step(self, x, y):
        """Consume x (T, B, ...) and targets y (T, B, ...); one update per k1 steps.

        Returns the list of the updates' losses (floats). A final piece shorter than k1
        is used as a shorter update, so no step is dropped.
        """
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"TBPTT.step: x has {x.shape[0]} steps but y has {y.shape[0]}")
        losses = []
        for start in range(0, x.shape[0], self.k1):
            stop = min(start + self.k1, x.shape[0])
            losses.append(self._update(x[start:stop], y[start:stop]))
        return losses

    def _update(self, x_new, y_new, finite=None, loop=None, share=(1, 1)):
        """One update from the new steps x_new, y_new. Returns its loss, or None when
        ``finite(loss)`` refused the step (a NaN/inf loss or gradient: no weight changes).

        loop: the ``TrainingLoop`` of ``fit``, which runs backward and, in data-parallel
        training, averages the gradients and the loss over the ranks; ``share``: this
        rank's streams and all streams (the loss's weight)."""
        overlap = self.k2 - self.k1
        # Recompute the overlap from the state saved k2 steps back (detached there),
        # then the new steps; only the new steps' losses count.
        if overlap and self._history:
            x_old, start_state = self._history
            x_run = mg.cat([x_old, x_new], axis=0)
        else:
            x_old, start_state, x_run = None, self.state, x_new
        n_old = 0 if x_old is None else x_old.shape[0]
        # The next update recomputes the last `overlap` steps from the state before them:
        # this forward runs in two pieces and keeps that state as it computed it, with the
        # weights of this update (the gradient flows through both pieces as through one).
        split = x_run.shape[0] - min(overlap, x_run.shape[0])
        if overlap and split > 0:
            y_head, mid_state = self.model(x_run[:split], start_state)
            y_tail, end_state = self.model(x_run[split:], mid_state)
            y_pred = mg.cat([y_head, y_tail], axis=0)
        else:
            (y_pred, end_state), mid_state = self.model(x_run, start_state), start_state
        loss = self.loss_fn(y_pred[n_old:], y_new)
        value = loss.item()
        self.optimizer.zero_grad()
        if loop is None:
            if math.isfinite(value):
                loss.backward()
        else:
            loop.backward(loss, value, *share)
            value = loop.combine_batch({"loss": value}, share[0])[0]["loss"]
        if not (finite or self._finite)(value):  # checked before the step: the weights stay good
            return None
        if self.clip_norm is not None:
            self.grad_norms.append(clip_grad_norm_(self._parameters(), self.clip_norm))
        self.optimizer.step()
        if overlap:
            self._history = (x_run[split:], detach(mid_state))
        self.state = detach(end_state)
        return value

    def _finite(self, value):
        bad = value if not math.isfinite(value) else nonfinite_grad(self._parameters())
        if bad is not None:
            where = "loss" if not math.isfinite(value) else f"gradient of {bad}"
            raise FloatingPointError(f"TBPTT: the {where} is not finite; no weight was changed by this update. "
                                     "Lower the learning rate or clip gradients (clip_norm=)")
        return True

    # ------------------------------------------------------------- whole runs
    def fit(self, x, y, epochs=1, *, validation_data=None, callbacks=(), scheduler=None, scheduler_interval="epoch",
            checkpoint=None, checkpoint_every=None, resume=None, verbose=1, distributed=False):
        """Train on one long stream for ``epochs`` epochs; returns the History.

        x (T, B, ...) inputs and y (T, B, ...) targets, time first (numpy arrays or tensors;
        each update's k1 steps move to the model's device as they are used). Every epoch
        walks the stream from a zero state; each update is a "batch" to the callbacks, and
        its loss (and gradient norm, with clip_norm) is logged. validation_data: (x_val,
        y_val), a stream scored after each epoch by ``evaluate``. scheduler: stepped after
        every update (``scheduler_interval="update"``) or every epoch. checkpoint: a path,
        where the whole state (weights, optimizer, scheduler, the carried hidden state, the
        position in the stream, random and callback states) is written after every epoch
        and every ``checkpoint_every`` updates; resume: such a checkpoint (or True: the
        ``checkpoint`` file if it exists) to continue from, bit for bit. Ctrl-C stops after
        the current update and returns the History so far.

        distributed: data-parallel over MPI (``mpiexec -n R``): the B streams are shared out
        (rank r carries streams r, r + R, ...; B >= R), each update's gradient is averaged
        over the ranks, and the logged losses are those of all B streams, so R ranks train
        as one process would. Rank 0 alone prints and writes checkpoints, which hold every
        rank's carried state.
        """
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"TBPTT.fit: x has {x.shape[0]} steps but y has {y.shape[0]}")
        if x.shape[0] == 0:
            raise ValueError("TBPTT.fit: the stream is empty")
        if scheduler_interval not in ("epoch", "update"):
            raise ValueError(f"TBPTT.fit: scheduler_interval must be 'epoch' or 'update', got {scheduler_interval!r}")
        if checkpoint_every is not None and (not isinstance(checkpoint_every, int) or checkpoint_every < 1):
            raise ValueError(f"TBPTT.fit: checkpoint_every must be a positive int, got {checkpoint_every!r}")
        resume = resume_path(resume, checkpoint, 0)
        dist = distributed_run(self.model, distributed, "TBPTT.fit")
        if dist is not None:
            x, y, mine = _streams(dist, x, y)
            if validation_data is not None:
                validation_data = _streams(dist, *validation_data)
        device = self._device()
        updates = math.ceil(x.shape[0] / self.k1)
        loop = TrainingLoop(self.model, self.optimizer, callbacks, scheduler=scheduler, verbose=verbose,
                            stateful=[self], what="TBPTT.fit", distributed=dist,
                            params={"epochs": epochs, "steps": updates, "k1": self.k1, "k2": self.k2})
        if checkpoint is not None:
            loop.checkpoint_paths.append(checkpoint)
        if dist is not None and verbose and dist.is_main:
            print(f"TBPTT.fit: {dist.describe()}", flush=True)
        with loop.running(0, resume):
            for epoch in range(loop.epoch, epochs):
                self.model.train()
                if loop.batch == 0:
                    self.reset_state()  # each epoch starts the stream over (a resumed one continues where it was)
                loop.epoch_begin(epoch)
                for b in range(loop.batch, updates):
                    loop.batch_begin(b)
                    start, stop = b * self.k1, min((b + 1) * self.k1, x.shape[0])
                    loss = self._update(_piece(x, start, stop, device), _piece(y, start, stop, device),
                                        lambda v: loop.step_is_finite(v, self._parameters(), epoch, b), loop,
                                        (1, 1) if dist is None else mine)
                    if loss is None:
                        break
                    if scheduler is not None and scheduler_interval == "update":
                        scheduler.step()
                    values = {"loss": loss, **({"grad_norm": self.grad_norms[-1]} if self.clip_norm else {})}
                    if loop.batch_end(b, values, stop - start):
                        break
                    if checkpoint is not None and checkpoint_every and (b + 1) % checkpoint_every == 0 \
                            and b + 1 < updates:
                        loop.save_checkpoint(checkpoint)
                if loop.stop and loop.batch:
                    break
                logs = loop.means()
                if validation_data is not None:
                    val_x, val_y, *val_mine = validation_data
                    logs["val_loss"] = self.evaluate(val_x, val_y)
                    if dist is not None:  # the mean over every rank's streams
                        logs["val_loss"] = dist.batch_means({"loss": logs["val_loss"]}, val_mine[0][0])[0]["loss"]
                logs["lr"] = self.optimizer.param_groups[0]["lr"]
                if scheduler is not None and scheduler_interval == "epoch":
                    scheduler.step()
                loop.epoch_end(epoch, logs)
                if loop.stop:
                    break
        return loop.history

    def evaluate(self, x, y):
        """The mean loss per step over a stream (T, B, ...), from a zero state, in eval mode,
        without a graph, k2 steps at a time. The training state is left as it was."""
        if x.shape[0] != y.shape[0] or x.shape[0] == 0:
            raise ValueError(f"TBPTT.evaluate: need x and y with the same, non-zero number of steps, got "
                             f"{x.shape[0]} and {y.shape[0]}")
        was, device = self.model.training, self._device()
        self.model.eval()
        total, state = 0.0, None
        try:
            with mg.no_grad():
                for start in range(0, x.shape[0], self.k2):
                    stop = min(start + self.k2, x.shape[0])
                    pred, state = self.model(_piece(x, start, stop, device), state)
                    total += self.loss_fn(pred, _piece(y, start, stop, device)).item() * (stop - start)
        finally:
            self.model.train(was)
        return total / x.shape[0]

    # ------------------------------------------------------------- checkpoints
    def state_dict(self):
        """The carried state, the overlap to recompute and the gradient norms (for a checkpoint)."""
        history = None if self._history is None else [self._history[0].numpy(), _to_arrays(self._history[1])]
        return {"state": _to_arrays(self.state), "history": history, "grad_norms": list(self.grad_norms)}

    def load_state_dict(self, state):
        device = self._device()
        carried = _to_tensors(state["state"], device)
        history = state["history"]
        if history is not None:
            history = (_to_tensors(history[0], device), _to_tensors(history[1], device))
        self.state, self._history, self.grad_norms = carried, history, [float(g) for g in state["grad_norms"]]

    def _device(self):
        return next((p.device for p in self._parameters()), "cpu")

    def _parameters(self):
        return [p for group in self.optimizer.param_groups for p in group["params"]]


def _streams(run, x, y):
    """This rank's streams of x and y (T, B, ...): every R-th column of the batch axis, from
    the rank's own. Returns (x, y, (streams here, streams in all))."""
    B = x.shape[1] if len(x.shape) > 1 else 0
    if B < run.size or y.shape[1] != B:
        raise ValueError(f"TBPTT.fit: data-parallel training shares the streams (axis 1) out over {run.size} ranks; "
                         f"x has shape {tuple(x.shape)} and y {tuple(y.shape)}: need the same number of streams, "
                         f"at least {run.size}")
    cols = run.share(np.arange(B))
    return x[:, cols], y[:, cols], (len(cols), B)


def _piece(stream, start, stop, device):
    """Steps start..stop of a stream as a tensor on ``device``."""
    part = stream[start:stop]
    return part.to(device) if isinstance(part, mg.Tensor) else mg.tensor(np.asarray(part), device=device)
