"""RNN, LSTM and GRU over a whole sequence, forward and BPTT by hand, from the required kernels.

These are the contract's defaults for the six recurrent kernels: the numpy backend runs
them as they are, and so does any backend without its own recurrent kernels, on its own
arrays. The autograd Function that calls them (``minigrad/ops/recurrent.py``) has already
done the input projection for every step at once, ``gi[t] = x_t W_ih^T`` (T, B, G*H), so
a kernel only runs the part that cannot be batched over time: the recurrence through
``W_hh``. Each step is vectorised over the batch; the loop over time stays in Python
(this is the readable reference the compiled loops of ``backends/loops/recurrent.py`` and
``backends/cython/recurrent.pyx`` are tested against). Shapes: ``backends/kernel_set.py``.

Conventions shared by every kernel here:

* ``order`` is the processing order: t = 0..T-1, or T-1..0 when ``reverse``. The k-th
  processed step is ``t = order[k]``; ``hs[k]`` (and ``cs[k]``) is the state *before* it,
  ``hs[k + 1]`` the state after it, so ``hs[T]`` is always the final state h_n.
* per-step arrays (``out``, ``gates``, ``hn``, ``d_gi``) are indexed by time t.
* ``mask[t, b]`` False means step t is padding for sequence b: its state is carried
  unchanged (h_new = h) and its output is 0. In backward the gradient of a carried
  state passes straight through to the previous state, and the step's gates get none.
* the recurrent weight gradient is one matmul over all steps at the end:
  ``dW_hh = sum_t d_gh_t^T h_prev_t`` with d_gh the gradient of ``h W_hh^T + b_hh``.
"""
import numpy as np

from ..kernel_set import default_for


# ------------------------------------------------------------------ helpers
def _order(steps, reverse):
    return range(steps - 1, -1, -1) if reverse else range(steps)


def _keep(k, mask):
    """The (T, B, 1) device bool array of real steps (host mask -> device once), or None."""
    return None if mask is None else k.asarray(np.asarray(mask)[:, :, None], np.bool_)


def _step(k, keep, t):
    """(B, 1) booleans of step t, or None when every step is real."""
    return None if keep is None else k.getitem(keep, t)


def _blocks(k, a, n):
    """The n gate blocks of a (B, n*H) array: e.g. i, f, g, o = _blocks(k, gates_t, 4)."""
    h = a.shape[-1] // n
    return [_columns(k, a, j * h, (j + 1) * h) for j in range(n)]


def _columns(k, a, start, stop):
    """Columns start:stop of a (B, N) array (a view)."""
    return k.getitem(a, (slice(None), slice(start, stop)))


def _bias(k, b_ih, b_hh):
    """b_ih + b_hh: an RNN or LSTM adds both to the same pre-activation (either may be None)."""
    if b_ih is None or b_hh is None:
        return b_hh if b_ih is None else b_ih
    return k.add(b_ih, b_hh)


def _recurrent(k, gi_t, h, w_t, bias):
    """gi_t + h W_hh^T (+ bias): a step's pre-activations, (B, G*H)."""
    a = k.add(gi_t, k.matmul(h, w_t))
    return a if bias is None else k.add(a, bias)


def _by_time(k, per_step, shape, dtype):
    """A list of per-step arrays (indexed by t) stacked to (T, ...); (0, ...) for T = 0."""
    return k.stack(per_step, 0) if per_step else k.zeros((0,) + tuple(shape), dtype)


def _upstream(k, hs, d_out, *d_finals):
    """d_out (T, B, H) and the final states' gradients, zeros where None (no gradient arrived)."""
    steps, shape = hs.shape[0] - 1, tuple(hs.shape[1:])
    d_out = k.zeros((steps,) + shape, hs.dtype) if d_out is None else d_out
    return (d_out,) + tuple(k.zeros(shape, hs.dtype) if d is None else d for d in d_finals)


def _prev_states(k, hs, reverse):
    """h_prev of every step, indexed by time t: hs[k] belongs to step t = order[k]."""
    before = k.getitem(hs, slice(0, hs.shape[0] - 1))
    return k.flip(before, (0,)) if reverse else before


def _hh_grads(k, d_gh, hs, reverse):
    """d_w_hh = sum over steps and batch of d_gh^T h_prev (one matmul); d_b_hh = sum of d_gh."""
    g = k.reshape(d_gh, (-1, d_gh.shape[-1]))
    h_prev = k.reshape(_prev_states(k, hs, reverse), (-1, hs.shape[-1]))
    return k.matmul(k.transpose(g, (1, 0)), h_prev), k.sum(g, (0,), False)


# ------------------------------------------------------------------ Elman RNN
@default_for("rnn_forward")
def _rnn_forward(k, gi, w_hh, b_ih, b_hh, h0, mask, reverse, relu):
    """h_t = act(gi_t + b_ih + h_{t-1} W_hh^T + b_hh), act = relu if ``relu`` else tanh."""
    steps = gi.shape[0]
    w_t, bias, keep = k.transpose(w_hh, (1, 0)), _bias(k, b_ih, b_hh), _keep(k, mask)
    hs, out = [h0], [None] * steps
    for t in _order(steps, reverse):
        h = hs[-1]
        pre = _recurrent(k, k.getitem(gi, t), h, w_t, bias)
        h_new = k.relu(pre) if relu else k.tanh(pre)
        m = _step(k, keep, t)
        hs.append(h_new if m is None else k.where(m, h_new, h))
        out[t] = h_new if m is None else k.where(m, h_new, 0)
    return _by_time(k, out, h0.shape, gi.dtype), k.stack(hs, 0)


@default_for("rnn_backward")
def _rnn_backward(k, hs, w_hh, mask, reverse, relu, d_out, d_hn):
    """Backpropagation through time for ``rnn_forward``.

    Walking the steps backwards, ``dh`` is dL/dh_k, the gradient reaching the state
    after the k-th step from everything later (it starts as d_hn, the gradient of h_n):
      1. the step's new state also produced out[t], so   dh_new = dh + d_out[t]
      2. through the activation (y = h_new = hs[k+1]):
             d_pre = dh_new * (1 - y^2)   (tanh)   or   0 where y <= 0, else dh_new   (relu)
         d_pre is the gradient of gi[t] and of h_prev W_hh^T + b_hh alike
      3. to the previous state:                          dh = d_pre @ W_hh
    A padded step computed nothing: d_pre = 0 there, and dh passes through unchanged.
    """
    steps = hs.shape[0] - 1
    d_out, dh = _upstream(k, hs, d_out, d_hn)
    keep = _keep(k, mask)
    order = _order(steps, reverse)
    d_gi = [None] * steps
    for j in reversed(range(steps)):
        t = order[j]
        dh_new = k.add(dh, k.getitem(d_out, t))                                   # 1.
        y = k.getitem(hs, j + 1)
        if relu:                                                                   # 2.
            d_pre = k.where(k.compare("le", y, 0), 0, dh_new)
        else:
            d_pre = k.mul(dh_new, k.sub(1, k.mul(y, y)))
        m = _step(k, keep, t)
        if m is not None:
            d_pre = k.where(m, d_pre, 0)
        d_gi[t] = d_pre
        dh_prev = k.matmul(d_pre, w_hh)                                            # 3.
        dh = dh_prev if m is None else k.where(m, dh_prev, dh)
    d_gi = _by_time(k, d_gi, hs.shape[1:], hs.dtype)
    d_w_hh, d_b_hh = _hh_grads(k, d_gi, hs, reverse)
    return d_gi, d_w_hh, d_b_hh, dh


# ----------------------------------------------------------------------- LSTM
@default_for("lstm_forward")
def _lstm_forward(k, gi, w_hh, b_ih, b_hh, h0, c0, mask, reverse):
    """LSTM over a sequence, gates in PyTorch's order i, f, g, o:

        [a_i, a_f, a_g, a_o] = gi_t + b_ih + h_{t-1} W_hh^T + b_hh     (gi_t = x_t W_ih^T)
        i = sigma(a_i)   f = sigma(a_f)   g = tanh(a_g)   o = sigma(a_o)
        c_t = f * c_{t-1} + i * g
        h_t = o * tanh(c_t)
    """
    steps, hidden = gi.shape[0], h0.shape[-1]
    w_t, bias, keep = k.transpose(w_hh, (1, 0)), _bias(k, b_ih, b_hh), _keep(k, mask)
    hs, cs, out, gates = [h0], [c0], [None] * steps, [None] * steps
    for t in _order(steps, reverse):
        h, c = hs[-1], cs[-1]
        a = _recurrent(k, k.getitem(gi, t), h, w_t, bias)
        i, f, _, o = _blocks(k, k.sigmoid(a), 4)  # one sigmoid call for the three sigmoid gates
        g = k.tanh(_columns(k, a, 2 * hidden, 3 * hidden))
        gates[t] = k.concatenate([i, f, g, o], 1)
        c_new = k.add(k.mul(f, c), k.mul(i, g))
        h_new = k.mul(o, k.tanh(c_new))
        m = _step(k, keep, t)
        hs.append(h_new if m is None else k.where(m, h_new, h))
        cs.append(c_new if m is None else k.where(m, c_new, c))
        out[t] = h_new if m is None else k.where(m, h_new, 0)
    return (_by_time(k, out, h0.shape, gi.dtype), k.stack(hs, 0), k.stack(cs, 0),
            _by_time(k, gates, gi.shape[1:], gi.dtype))


@default_for("lstm_backward")
def _lstm_backward(k, gates, hs, cs, w_hh, mask, reverse, d_out, d_hn, d_cn):
    """Backpropagation through time for ``lstm_forward``.

    ``dh`` and ``dc`` (dL/dh_k, dL/dc_k) start as d_hn and d_cn. At the k-th step (time t):
      1. h_new also produced out[t]:                  dh_new = dh + d_out[t]
      2. h_new = o * tanh(c_new):                     d_o = dh_new * tanh(c_new)
         and c_new feeds h_new as well as the next step's cell:
                                                      dc_new = dc + dh_new * o * (1 - tanh(c_new)^2)
      3. c_new = f * c_prev + i * g:                  d_i = dc_new * g,  d_g = dc_new * i,
                                                      d_f = dc_new * c_prev
         and the cell gradient carries on through f:  dc = dc_new * f
      4. through the gate activations (sigma' = s (1 - s), tanh' = 1 - t^2) to the
         pre-activations d_a = [d_a_i, d_a_f, d_a_g, d_a_o]: the gradient of gi[t]
         and of h_prev W_hh^T + b_hh
      5. to the previous hidden state:                dh = d_a @ W_hh
    A padded step computed nothing: d_a = 0 there, and dh, dc pass through unchanged.
    """
    steps = hs.shape[0] - 1
    d_out, dh, dc = _upstream(k, hs, d_out, d_hn, d_cn)
    keep = _keep(k, mask)
    order = _order(steps, reverse)
    d_gi = [None] * steps
    for j in reversed(range(steps)):
        t = order[j]
        i, f, g, o = _blocks(k, k.getitem(gates, t), 4)
        c_prev = k.getitem(cs, j)
        tanh_c = k.tanh(k.getitem(cs, j + 1))
        dh_new = k.add(dh, k.getitem(d_out, t))                                       # 1.
        d_o = k.mul(dh_new, tanh_c)                                                    # 2.
        dc_new = k.add(dc, k.mul(k.mul(dh_new, o), k.sub(1, k.mul(tanh_c, tanh_c))))
        d_i, d_g, d_f = k.mul(dc_new, g), k.mul(dc_new, i), k.mul(dc_new, c_prev)     # 3.
        d_a = k.concatenate([k.mul(k.mul(d_i, i), k.sub(1, i)), k.mul(k.mul(d_f, f), k.sub(1, f)),  # 4.
                             k.mul(d_g, k.sub(1, k.mul(g, g))), k.mul(k.mul(d_o, o), k.sub(1, o))], 1)
        dc_prev = k.mul(dc_new, f)
        m = _step(k, keep, t)
        if m is not None:
            d_a = k.where(m, d_a, 0)
            dc_prev = k.where(m, dc_prev, dc)
        d_gi[t] = d_a
        dh_prev = k.matmul(d_a, w_hh)                                                  # 5.
        dh = dh_prev if m is None else k.where(m, dh_prev, dh)
        dc = dc_prev
    d_gi = _by_time(k, d_gi, gates.shape[1:], hs.dtype)
    d_w_hh, d_b_hh = _hh_grads(k, d_gi, hs, reverse)
    return d_gi, d_w_hh, d_b_hh, dh, dc


# ------------------------------------------------------------------------ GRU
@default_for("gru_forward")
def _gru_forward(k, gi, w_hh, b_ih, b_hh, h0, mask, reverse):
    """GRU over a sequence, gates in PyTorch's order r, z, n:

        [gi_r, gi_z, gi_n] = x_t W_ih^T + b_ih   [gh_r, gh_z, gh_n] = h_{t-1} W_hh^T + b_hh
        r = sigma(gi_r + gh_r)   z = sigma(gi_z + gh_z)
        n = tanh(gi_n + r * gh_n)            (r scales W_hn h + b_hn, PyTorch's form)
        h_t = (1 - z) * n + z * h_{t-1}
    """
    if b_ih is not None:
        gi = k.add(gi, b_ih)
    steps, hidden = gi.shape[0], h0.shape[-1]
    w_t, keep = k.transpose(w_hh, (1, 0)), _keep(k, mask)
    hs, out, gates, hn = [h0], [None] * steps, [None] * steps, [None] * steps
    for t in _order(steps, reverse):
        h = hs[-1]
        gh = k.matmul(h, w_t)
        if b_hh is not None:
            gh = k.add(gh, b_hh)
        gi_t = k.getitem(gi, t)
        rz = k.sigmoid(k.add(_columns(k, gi_t, 0, 2 * hidden), _columns(k, gh, 0, 2 * hidden)))
        r, z = _blocks(k, rz, 2)
        gh_n = _columns(k, gh, 2 * hidden, 3 * hidden)
        n = k.tanh(k.add(_columns(k, gi_t, 2 * hidden, 3 * hidden), k.mul(r, gh_n)))
        gates[t], hn[t] = k.concatenate([r, z, n], 1), gh_n
        h_new = k.add(k.mul(k.sub(1, z), n), k.mul(z, h))
        m = _step(k, keep, t)
        hs.append(h_new if m is None else k.where(m, h_new, h))
        out[t] = h_new if m is None else k.where(m, h_new, 0)
    return (_by_time(k, out, h0.shape, gi.dtype), k.stack(hs, 0), _by_time(k, gates, gi.shape[1:], gi.dtype),
            _by_time(k, hn, h0.shape, gi.dtype))


@default_for("gru_backward")
def _gru_backward(k, gates, hn, hs, w_hh, mask, reverse, d_out, d_hn):
    """Backpropagation through time for ``gru_forward``.

    ``dh`` (dL/dh_k) starts as d_hn. At the k-th step (time t), with h_prev = hs[k]:
      1. h_new also produced out[t]:                 dh_new = dh + d_out[t]
      2. h_new = (1 - z) * n + z * h_prev:           d_n = dh_new * (1 - z)
                                                     d_z = dh_new * (h_prev - n)
                                                     dh  = dh_new * z   (the direct path)
      3. n = tanh(gi_n + r * gh_n):                  d_an = d_n * (1 - n^2)
                                                     d_r = d_an * gh_n,  d_gh_n = d_an * r
      4. r, z = sigma(.):                            d_ar = d_r r (1 - r),  d_az = d_z z (1 - z)
         gi's gradient is [d_ar, d_az, d_an]; h W_hh^T + b_hh's is [d_ar, d_az, d_an * r]
      5. through W_hh to the previous state:         dh += d_gh @ W_hh
    A padded step computed nothing: its gate gradients are 0 and dh passes through unchanged.
    """
    steps = hs.shape[0] - 1
    d_out, dh = _upstream(k, hs, d_out, d_hn)
    keep = _keep(k, mask)
    order = _order(steps, reverse)
    d_gi, d_gh = [None] * steps, [None] * steps
    for j in reversed(range(steps)):
        t = order[j]
        r, z, n = _blocks(k, k.getitem(gates, t), 3)
        h_prev = k.getitem(hs, j)
        dh_new = k.add(dh, k.getitem(d_out, t))                                     # 1.
        m = _step(k, keep, t)
        if m is not None:
            dh_new = k.where(m, dh_new, 0)
        d_n = k.mul(dh_new, k.sub(1, z))                                             # 2.
        d_z = k.mul(dh_new, k.sub(h_prev, n))
        d_an = k.mul(d_n, k.sub(1, k.mul(n, n)))                                     # 3.
        d_r = k.mul(d_an, k.getitem(hn, t))
        d_ar = k.mul(k.mul(d_r, r), k.sub(1, r))                                     # 4.
        d_az = k.mul(k.mul(d_z, z), k.sub(1, z))
        d_gi[t] = k.concatenate([d_ar, d_az, d_an], 1)
        d_gh[t] = k.concatenate([d_ar, d_az, k.mul(d_an, r)], 1)
        dh_prev = k.add(k.mul(dh_new, z), k.matmul(d_gh[t], w_hh))                   # 5.
        dh = dh_prev if m is None else k.where(m, dh_prev, dh)
    shape = gates.shape[1:]
    d_gi, d_gh = _by_time(k, d_gi, shape, hs.dtype), _by_time(k, d_gh, shape, hs.dtype)
    d_w_hh, d_b_hh = _hh_grads(k, d_gh, hs, reverse)
    return d_gi, d_w_hh, d_b_hh, dh
