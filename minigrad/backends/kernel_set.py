"""The kernel set: every kernel a backend provides, written down as a contract.

Ops (``minigrad/ops``) never touch numpy or a device themselves: they call
``self.k.<kernel>(...)``, where ``k`` is the backend of their inputs' device. This file
says what each of those kernels is: its signature (the stub below), what it computes,
the shapes and dtypes it takes and returns, whether it writes in place, and which
arguments are *host* values (numpy arrays, Python numbers, a numpy random Generator)
rather than arrays of the backend's device. Everything not marked host is a device
array ("array" below), or a Python scalar where the doc says so.

Two tiers:

* **required**: the primitives, elementwise math and arithmetic, compare/where,
  sum/max/min/argmax/argmin, matmul, scatter-add, and the array plumbing. A backend
  must provide each of them (its own, or one taken explicitly from another backend
  that shares its arrays: every CPU backend shares numpy's plumbing).
* **fused**: everything else, e.g. ``tanh_backward``, softmax and the losses, the
  optimizer steps, the recurrent forward/backward kernels. Each has a portable
  *default* composed from the required tier, written once in
  ``backends/reference/<family>.py`` (``default_for``): that is what the numpy backend
  runs (but for its in-place optimizer steps), and what any backend gets for a fused
  kernel it does not implement. A new
  backend is correct once it has the required tier, and faster with each fused kernel
  it adds.

``backends/backend.py`` assembles a backend from its kernels and checks it against
this file: a missing required kernel, an unknown kernel name or a parameter list that
differs from the stub's is rejected when the backend is built, naming the kernel.

Rules for every kernel (the tests hold every backend to them):

* never mutate an argument, except the arguments listed under ``writes`` (optimizer
  state, the target of ``setitem``);
* keep the input dtype: float32 stays float32. A Python number meeting an array is
  "weak" (numpy 2's rule): ``x * 0.5`` keeps x's dtype;
* return a new array or a view; callers never write into a returned array;
* NaN and inf propagate as in PyTorch: NaN in, NaN out. Where a kernel tests a value
  (relu, clip, max, abs's gradient...), its doc says which way NaN goes.

Shapes use T steps, B batch rows, H hidden units, G gate blocks (1 RNN, 4 LSTM, 3 GRU),
N rows, C classes, V embedding rows, D embedding width.
"""
import inspect
from typing import Callable, NamedTuple, Optional

REQUIRED, FUSED = "required", "fused"
FAMILIES = ("arrays", "elementwise", "reduce", "matmul", "nn", "optim", "recurrent")


class Spec(NamedTuple):
    """One kernel of the contract."""
    name: str
    tier: str                       # REQUIRED or FUSED
    family: str                     # one of FAMILIES: the file it lives in, in every backend folder
    params: tuple                   # parameter names, in order
    doc: str
    host: tuple = ()                # parameters that are host values, never device arrays
    writes: tuple = ()              # parameters the kernel updates in place
    default: Optional[Callable] = None  # fused tier: default(k, *args), composed from required kernels


SPECS = {}  # name -> Spec, in the order of this file


def _spec(tier, family, host=(), writes=()):
    def register(stub):
        params = tuple(inspect.signature(stub).parameters)
        for p in host + writes:
            assert p in params, f"{stub.__name__}: no parameter {p!r}"
        SPECS[stub.__name__] = Spec(stub.__name__, tier, family, params, inspect.getdoc(stub), host, writes)
        return stub
    return register


def required(family, host=(), writes=()):
    return _spec(REQUIRED, family, host, writes)


def fused(family, host=(), writes=()):
    return _spec(FUSED, family, host, writes)


def names(tier=None, family=None):
    """Kernel names, in contract order, optionally of one tier and/or family."""
    return [s.name for s in SPECS.values()
            if (tier is None or s.tier == tier) and (family is None or s.family == family)]


# =================================================================== required
# -------------------------------------------------------------- arrays (plumbing)
@required("arrays", host=("data", "dtype"))
def asarray(data, dtype):
    """A new array of numpy ``dtype`` holding a copy of host ``data`` (list, scalar or numpy array)."""


@required("arrays")
def ensure_array(a):
    """``a`` as an array: a 0-d array where a reduction or ufunc handed back a scalar."""


@required("arrays")
def to_numpy(a):
    """The array's values as a host numpy array (the array itself on the CPU, a copy from a device)."""


@required("arrays", host=("shape", "dtype"))
def zeros(shape, dtype):
    """A new array of ``shape`` filled with 0."""


@required("arrays", host=("shape", "value", "dtype"))
def full(shape, value, dtype):
    """A new array of ``shape`` filled with the Python number ``value``."""


@required("arrays", host=("start", "stop", "step", "dtype"))
def arange(start, stop, step, dtype):
    """numpy's ``arange`` as a 1-D array."""


@required("arrays", host=("n", "m", "dtype"))
def eye(n, m, dtype):
    """An (n, m) array with ones on the diagonal."""


@required("arrays", host=("dtype",))
def astype(a, dtype):
    """``a`` converted to ``dtype`` (``a`` itself when it already has it)."""


@required("arrays")
def copy(a):
    """A new C-contiguous array with a's values, which the caller may write into."""


@required("arrays")
def owns(a):
    """True if ``a`` is a writeable array that is no view of another: safe to keep as a .grad."""


@required("arrays", host=("shape",))
def reshape(x, shape):
    """x with another shape of the same size (a view when possible); -1 infers one axis."""


@required("arrays", host=("axes",))
def transpose(x, axes):
    """x with its axes permuted (a view)."""


@required("arrays", host=("shape",))
def broadcast_to(x, shape):
    """x broadcast to ``shape`` by numpy's rules (a read-only view)."""


@required("arrays", host=("axes",))
def flip(x, axes):
    """x reversed along ``axes`` (a tuple of ints)."""


@required("arrays", host=("widths", "value"))
def pad(x, widths, value):
    """x padded with ``value``: one (before, after) pair per axis, first axis first."""


@required("arrays", host=("axis",))
def concatenate(xs, axis):
    """The arrays of the list ``xs`` joined along an existing ``axis``."""


@required("arrays", host=("axis",))
def stack(xs, axis):
    """The arrays of the list ``xs`` (one shape) joined along a new ``axis``."""


@required("arrays", host=("index",))
def getitem(x, index):
    """x[index], numpy's indexing. ``index``: ints, slices, None, Ellipsis and integer or
    boolean index arrays, which are host numpy arrays."""


@required("arrays", host=("index",), writes=("x",))
def setitem(x, index, value):
    """x[index] = value, in place (``value``: an array or a Python number; ``index`` as getitem's)."""


# ---------------------------------------------------------------- elementwise
# Binary kernels take two arrays (numpy broadcasting and promotion) or an array and a
# Python number. Unary math kernels take float arrays (ops cast integer tensors first).
@required("elementwise")
def neg(x):
    """-x."""


@required("elementwise")
def exp(x):
    """e^x."""


@required("elementwise")
def log(x):
    """Natural logarithm (-inf at 0, NaN below)."""


@required("elementwise")
def sqrt(x):
    """Square root (NaN below 0)."""


@required("elementwise")
def abs(x):
    """|x|, any numeric dtype."""


@required("elementwise")
def tanh(x):
    """tanh(x); tanh(+-inf) = +-1."""


@required("elementwise")
def add(a, b):
    """a + b."""


@required("elementwise")
def sub(a, b):
    """a - b."""


@required("elementwise")
def mul(a, b):
    """a * b."""


@required("elementwise")
def div(a, b):
    """a / b (true division: integers give floats; x / 0 is inf or NaN, no error)."""


@required("elementwise")
def pow(a, b):
    """a ** b."""


@required("elementwise")
def maximum(a, b):
    """Elementwise max; NaN if either is NaN."""


@required("elementwise")
def minimum(a, b):
    """Elementwise min; NaN if either is NaN."""


@required("elementwise", host=("op",))
def compare(op, a, b):
    """Elementwise comparison -> bool array; ``op`` is "eq", "ne", "lt", "le", "gt" or "ge".
    Every comparison with NaN is False except "ne"."""


@required("elementwise")
def where(cond, a, b):
    """a where the bool array ``cond`` is True, else b (broadcast; a, b arrays or Python numbers)."""


# ------------------------------------------------------------------- reduce
# ``axis`` is None (every axis) or a sorted tuple of non-negative axes; ``keepdims``
# keeps reduced axes with size 1. Results have numpy's shape and dtype.
@required("reduce", host=("axis", "keepdims"))
def sum(x, axis, keepdims):
    """Sum over ``axis``."""


@required("reduce", host=("axis", "keepdims"))
def max(x, axis, keepdims):
    """Max over ``axis``; NaN where the reduced elements hold a NaN. x must not be empty."""


@required("reduce", host=("axis", "keepdims"))
def min(x, axis, keepdims):
    """Min over ``axis``; NaN where the reduced elements hold a NaN. x must not be empty."""


@required("reduce", host=("axis", "keepdims"))
def argmax(x, axis, keepdims):
    """int64 index of the (first) largest element over one int ``axis``, or of all when None;
    a NaN counts as the largest."""


@required("reduce", host=("axis", "keepdims"))
def argmin(x, axis, keepdims):
    """As argmax, for the smallest element (a NaN counts as the smallest)."""


# ------------------------------------------------------------------- matmul
@required("matmul")
def matmul(a, b):
    """a @ b with numpy's rules: 1-D operands are a row / a column, batch axes broadcast."""


# ----------------------------------------------------------------------- nn
@required("nn", host=("shape", "index", "dtype", "accumulate"))
def scatter_add(shape, index, g, dtype, accumulate):
    """The backward of getitem: a new zero array of ``shape`` and ``dtype`` with g added at
    ``index`` (getitem's form). ``accumulate``: the index may pick an element twice (integer
    index arrays), and repeats must add up; False for indices that never repeat."""


# ===================================================================== fused
# ------------------------------------------------------------- elementwise
@fused("elementwise")
def sigmoid(x):
    """1 / (1 + e^-x) for float x, without overflow, accurate in the negative tail
    (relative error <= 1e-5 down to x = -80 in float32, -700 in float64)."""


@fused("elementwise")
def relu(x):
    """max(x, 0), any numeric dtype; NaN stays NaN."""


@fused("elementwise", host=("slope",))
def leaky_relu(x, slope):
    """x where x > 0, else slope * x."""


@fused("elementwise", host=("lo", "hi"))
def clip(x, lo, hi):
    """min(max(x, lo), hi); a bound may be None (no bound); NaN stays NaN."""


@fused("elementwise")
def tanh_backward(y, g):
    """dL/dx = g (1 - y^2) from y = tanh(x) and the upstream gradient g, of y's shape and
    dtype. So for every *_backward below: what the forward saved, then g."""


@fused("elementwise")
def sigmoid_backward(y, g):
    """dL/dx = g y (1 - y) from y = sigmoid(x)."""


@fused("elementwise")
def relu_backward(x, g):
    """dL/dx = 0 where x <= 0, else g (a NaN x passes g, as PyTorch's relu does)."""


@fused("elementwise", host=("slope",))
def leaky_relu_backward(x, g, slope):
    """dL/dx = g where x > 0, else slope * g (NaN: slope * g)."""


@fused("elementwise", host=("lo", "hi"))
def clip_backward(x, g, lo, hi):
    """dL/dx = g where lo <= x <= hi (None: unbounded), else 0; 0 at NaN."""


@fused("elementwise")
def abs_backward(x, g):
    """dL/dx = sign(x) g, with sign(0) = sign(NaN) = 0 (PyTorch's sign)."""


@fused("elementwise")
def sqrt_backward(y, g):
    """dL/dx = g / (2 y) from y = sqrt(x)."""


# ------------------------------------------------------------------ reduce
@fused("reduce", host=("axis", "keepdims"))
def mean(x, axis, keepdims):
    """sum(x, axis) / N, N the number of reduced elements (a float result for integers)."""


@fused("reduce", host=("axis", "ddof", "keepdims"))
def var(x, axis, ddof, keepdims):
    """sum((x - mean)^2) / (N - ddof), numpy's two-pass variance (inf/NaN when N - ddof <= 0)."""


@fused("reduce", host=("shape",))
def sum_to_shape(g, shape):
    """Undo broadcasting: g summed over the axes that broadcasting ``shape`` to g.shape created
    or stretched, reshaped to ``shape`` (g itself when the shapes are equal)."""


@fused("reduce", host=("shape", "axis", "keepdims"))
def expand_reduced(g, shape, axis, keepdims):
    """Backward of sum: g (the reduced shape) copied over the reduced axes, a new array of ``shape``."""


@fused("reduce", host=("axis", "keepdims"))
def minmax_backward(x, y, g, axis, keepdims):
    """Backward of max/min: g shared equally by the elements of x equal to y, 0 elsewhere.
    A NaN result equals nothing, so its gradient is 0 (PyTorch gives it to the NaNs)."""


@fused("reduce", host=("axis", "ddof", "keepdims"))
def var_backward(x, g, axis, ddof, keepdims):
    """Backward of var: g * 2 (x - mean) / (N - ddof)."""


@fused("reduce")
def any_nonfinite(x):
    """A Python bool: does x hold a NaN or an inf? (The one value the training loop reads back.)"""


@fused("reduce")
def sumsq(x):
    """A Python float: the sum of x^2, accumulated in float64 (for gradient norms)."""


# ---------------------------------------------------------------------- nn
@fused("nn", host=("axis",))
def softmax(x, axis):
    """e^{x - max} / sum e^{x - max} along one int ``axis``, or over every element when None
    (never overflows). So for the other three softmax kernels."""


@fused("nn", host=("axis",))
def log_softmax(x, axis):
    """(x - max) - log sum e^{x - max} along ``axis``."""


@fused("nn", host=("axis",))
def softmax_backward(y, g, axis):
    """dL/dx = y (g - sum(g y)) from y = softmax(x) (the Jacobian applied without forming it)."""


@fused("nn", host=("axis",))
def log_softmax_backward(y, g, axis):
    """dL/dx = g - e^y sum(g) from y = log_softmax(x)."""


@fused("nn", host=("targets", "ignore_index", "label_smoothing"))
def cross_entropy(logits, targets, ignore_index, label_smoothing):
    """Softmax cross-entropy of logits (N, C) and host int targets (N,) in [0, C) or
    ``ignore_index``. Returns (losses (N,), log_probs (N, C)): loss_i = -log_probs[i, t_i],
    or -(1 - eps) log_probs[i, t_i] - eps mean_c log_probs[i, c] with label smoothing eps;
    0 for ignored rows."""


@fused("nn", host=("targets", "ignore_index", "label_smoothing"))
def cross_entropy_backward(logp, targets, g, ignore_index, label_smoothing):
    """d loss_i / d logits = g_i (softmax_i - q_i) for log_probs (N, C) and g (N,); q_i is the
    (smoothed) one-hot target; 0 for ignored rows."""


@fused("nn", host=("targets", "ignore_index"))
def nll(logp, targets, ignore_index):
    """Per-row -logp[i, t_i] of (N, C) log-probabilities; 0 for ignored rows."""


@fused("nn", host=("shape", "targets", "ignore_index", "dtype"))
def nll_backward(shape, targets, g, ignore_index, dtype):
    """A new zero array of ``shape`` (N, C) with -g_i at [i, t_i] for every row not ignored."""


@fused("nn")
def bce_with_logits(x, y):
    """Elementwise max(x, 0) - x y + log(1 + e^{-|x|}): binary cross-entropy of logits x and
    targets y (broadcast), never overflowing; +inf for an infinite logit (PyTorch: NaN at -inf)."""


@fused("nn")
def bce_with_logits_backward(x, y, g):
    """(g (sigmoid(x) - y), -g x): the gradients of x and of y."""


@fused("nn", host=("indices",))
def embedding(weight, indices):
    """weight[indices] for weight (V, D) and host int indices of any shape -> (*indices.shape, D)."""


@fused("nn", host=("indices", "num_embeddings", "padding_idx"))
def embedding_backward(indices, g, num_embeddings, padding_idx):
    """A new (V, D) array: the rows of g (*indices.shape, D) added at their indices (repeats
    add up); the ``padding_idx`` row (None: none) stays 0."""


@fused("nn", host=("shape", "p", "rng", "dtype"))
def dropout_mask(shape, p, rng, dtype):
    """Inverted dropout: 1/(1-p) with probability 1-p, else 0. CPU backends draw it from the
    host numpy Generator ``rng`` as ``rng.random(shape) >= p``, so one seed gives one mask on
    each of them; a device backend may instead take one seed from ``rng`` and draw on the
    device (cuda: Philox), so that no mask crosses the bus: one seed, one mask there too."""


# ------------------------------------------------------------------- optim
# One parameter per call. p and the state arrays (same shape and dtype as p) are updated
# in place; g has p's shape; hyper-parameters are Python numbers; a state that an option
# turns off is None. Each returns None.
@fused("optim", host=("lr", "momentum", "dampening", "nesterov", "weight_decay", "maximize", "first"),
       writes=("p", "buf"))
def sgd_step(p, g, buf, lr, momentum, dampening, nesterov, weight_decay, maximize, first):
    """SGD with momentum, PyTorch's rule: g <- -g if maximize; g <- g + weight_decay p;
    b = g on the first step, else momentum b + (1 - dampening) g; d = g + momentum b if
    nesterov else b (d = g without momentum); p <- p - lr d."""


@fused("optim", host=("step", "lr", "beta1", "beta2", "eps", "weight_decay", "decoupled", "maximize"),
       writes=("p", "m", "v", "vmax"))
def adam_step(p, g, m, v, vmax, step, lr, beta1, beta2, eps, weight_decay, decoupled, maximize):
    """Adam (Kingma & Ba 2015, Alg. 1) at step t = ``step`` >= 1: m <- beta1 m + (1 - beta1) g,
    v <- beta2 v + (1 - beta2) g^2, p <- p - lr/(1 - beta1^t) m / (sqrt(v)/sqrt(1 - beta2^t) + eps).
    ``decoupled``: AdamW's p <- p (1 - lr weight_decay) instead of g + weight_decay p;
    ``vmax`` (not None): AMSGrad, v replaced by its running max."""


@fused("optim", host=("lr", "alpha", "eps", "weight_decay", "momentum", "maximize"),
       writes=("p", "sq", "buf", "gavg"))
def rmsprop_step(p, g, sq, buf, gavg, lr, alpha, eps, weight_decay, momentum, maximize):
    """RMSprop, PyTorch's variant: s <- alpha s + (1 - alpha) g^2; denom = sqrt(s) + eps, or
    sqrt(s - a^2) + eps with a <- alpha a + (1 - alpha) g when ``gavg`` is given (centered);
    with momentum b <- momentum b + g / denom, p <- p - lr b; else p <- p - lr g / denom."""


@fused("optim", host=("clr", "eps", "weight_decay", "maximize"), writes=("p", "acc"))
def adagrad_step(p, g, acc, clr, eps, weight_decay, maximize):
    """Adagrad (Duchi et al. 2011): S <- S + g^2; p <- p - clr g / (sqrt(S) + eps)."""


# --------------------------------------------------------------- recurrent
# One layer, one direction, a whole sequence (the Functions: minigrad/ops/recurrent.py).
# gi = x_t W_ih^T for every step, (T, B, G*H), without bias: the forward kernels add
# b_ih and b_hh (each (G*H,) or None). ``mask``: None (every step real) or a host
# (T, B) bool array, False on padding: there the state is carried unchanged, the output
# is 0, and backward passes the state's gradient straight through. ``reverse``
# processes t = T-1 .. 0. Saved per-step arrays (gates, hn) are indexed by time t (at a
# padded step their values are unspecified: backward does not read them);
# hs/cs (T+1, B, H) by steps processed: hs[0] = h0, hs[k+1] = the state after the k-th
# processed step, so hs[T] = h_n. In backward, d_out / d_hn / d_cn may be None (no
# gradient arrived: zeros). d_b_hh is returned even when b_hh is None.
@fused("recurrent", host=("mask", "reverse", "relu"))
def rnn_forward(gi, w_hh, b_ih, b_hh, h0, mask, reverse, relu):
    """h_t = act(gi_t + b_ih + h_{t-1} W_hh^T + b_hh), act = relu if ``relu`` else tanh;
    w_hh (H, H), h0 (B, H). Returns out (T, B, H), hs (T+1, B, H)."""


@fused("recurrent", host=("mask", "reverse", "relu"))
def rnn_backward(hs, w_hh, mask, reverse, relu, d_out, d_hn):
    """BPTT of rnn_forward. Returns d_gi (T, B, H) (= the gradient of the pre-activation),
    d_w_hh (H, H), d_b_hh (H,), d_h0 (B, H)."""


@fused("recurrent", host=("mask", "reverse"))
def lstm_forward(gi, w_hh, b_ih, b_hh, h0, c0, mask, reverse):
    """LSTM, gates i, f, g, o: [i, f, g, o] = [sigma, sigma, tanh, sigma](gi_t + b_ih +
    h_{t-1} W_hh^T + b_hh), c_t = f c_{t-1} + i g, h_t = o tanh(c_t); w_hh (4H, H).
    Returns out (T, B, H), hs and cs (T+1, B, H), gates (T, B, 4H) = the activated i, f, g, o."""


@fused("recurrent", host=("mask", "reverse"))
def lstm_backward(gates, hs, cs, w_hh, mask, reverse, d_out, d_hn, d_cn):
    """BPTT of lstm_forward. Returns d_gi (T, B, 4H), d_w_hh (4H, H), d_b_hh (4H,), d_h0, d_c0 (B, H)."""


@fused("recurrent", host=("mask", "reverse"))
def gru_forward(gi, w_hh, b_ih, b_hh, h0, mask, reverse):
    """GRU, gates r, z, n: r = sigma(gi_r + b_ir + h W_hr^T + b_hr), z likewise,
    hn = h W_hn^T + b_hn, n = tanh(gi_n + b_in + r hn), h_t = (1 - z) n + z h_{t-1}; w_hh (3H, H).
    Returns out (T, B, H), hs (T+1, B, H), gates (T, B, 3H) = r, z, n, and hn (T, B, H)."""


@fused("recurrent", host=("mask", "reverse"))
def gru_backward(gates, hn, hs, w_hh, mask, reverse, d_out, d_hn):
    """BPTT of gru_forward. Returns d_gi (T, B, 3H), d_w_hh (3H, H), d_b_hh (3H,) (for the n
    block the gradient of b_hn, which r scales), d_h0 (B, H)."""


# ----------------------------------------------------------------- defaults
def default_for(name):
    """``@default_for("tanh_backward")``: the decorated ``f(k, *args)`` is that fused kernel's
    portable default, composed from the required kernels of backend ``k``."""
    spec = SPECS[name]
    assert spec.tier == FUSED, f"{name} is a required kernel: it has no default"

    def register(fn):
        params = tuple(inspect.signature(fn).parameters)
        assert params == ("k",) + spec.params, f"default of {name}: parameters {params}, expected (k,) + {spec.params}"
        SPECS[name] = spec._replace(default=fn)
        return fn
    return register
