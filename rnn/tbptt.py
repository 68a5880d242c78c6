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
"""
import minigrad as mg
from minigrad.optim import clip_grad_norm_


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

    def _update(self, x_new, y_new):
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
        self.optimizer.zero_grad()
        loss.backward()
        if self.clip_norm is not None:
            self.grad_norms.append(clip_grad_norm_(self._parameters(), self.clip_norm))
        self.optimizer.step()
        if overlap:
            self._history = (x_run[split:], detach(mid_state))
        self.state = detach(end_state)
        return loss.item()

    def _parameters(self):
        return [p for group in self.optimizer.param_groups for p in group["params"]]
