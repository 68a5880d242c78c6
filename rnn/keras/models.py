"""Sequential: Keras's model of layers in a row, with compile / fit / evaluate / predict.

    model = Sequential()
    model.add(SimpleRNN(50, input_shape=(10, 1), return_sequences=True))
    model.add(SimpleRNN(1))
    model.compile(optimizer="rmsprop", loss="mse")
    history = model.fit(x, y, epochs=500, verbose=0)      # x (N, 10, 1), y (N, 1)
    model.predict(x_new)                                  # numpy, (M, 1)

What happens in ``fit``, one batch: the layers run in order (each gets the mask the
previous one produced), the loss compares the output with the targets (masked steps
skipped), backward, the gradients are clipped if the optimizer asks, and the optimizer
steps -- unless the loss is NaN or infinite, which stops training with an error before
any weight changes. A softmax or sigmoid last layer with the matching cross-entropy is
trained from its logits (``losses``). Shapes and names are checked before the first
step: a wrong input shape, targets that do not fit the loss, an unknown name each raise
an error saying what was expected.

``model(x)`` runs in inference mode (dropout off), as in Keras. The model is a minigrad
``nn.Module``: ``model.parameters()``, ``state_dict()``, ``mg.backend(...)`` all apply.
"""
import math

import numpy as np

import minigrad as mg
from minigrad import nn
from minigrad.random import generator

from ..callbacks import Callback
from ..loop import TrainingLoop, distributed_run

from . import losses as losses_module
from . import metrics as metrics_module
from . import optimizers as optimizers_module
from .layers.base import Layer
from .layers.core import InputLayer

_WEIGHTS_FORMAT = "rnn.keras weights v1"


class Sequential(nn.Module):
    """A stack of layers, each feeding the next (module docstring)."""

    def __init__(self, layers=None, name=None):
        super().__init__()
        self.name = name or "sequential"
        self._stack = []  # every layer in order, an InputLayer included
        self.optimizer = self.loss = None
        self._metric_specs = []
        self.stop_training = False
        self.history = None
        self.built = False
        self.input_shape = self.output_shape = None
        for layer in layers or []:
            self.add(layer)

    # ------------------------------------------------------------- layers
    @property
    def layers(self):
        """The layers (an Input excluded, as in Keras)."""
        return [layer for layer in self._stack if not isinstance(layer, InputLayer)]

    def add(self, layer):
        """Append a layer; with a known input shape the model is built at once."""
        if not isinstance(layer, Layer):
            hint = " (a PyTorch-style module: use rnn.keras.layers, or nn.Sequential for modules)" \
                if isinstance(layer, nn.Module) else ""
            raise TypeError(f"Sequential.add: expected a layer from rnn.keras.layers, got "
                            f"{type(layer).__name__}{hint}")
        if any(layer.name == other.name for other in self._stack):
            raise ValueError(f"Sequential.add: a layer named {layer.name!r} is already in the model; names must be "
                             "unique")
        if layer.return_state if hasattr(layer, "return_state") else False:
            raise ValueError(f"Sequential.add: {type(layer).__name__} {layer.name!r} has return_state=True and "
                             "returns a list; a Sequential model passes one tensor from layer to layer")
        if isinstance(layer, InputLayer) and self._stack:
            raise ValueError("Sequential.add: an Input can only be the first layer")
        self._stack.append(layer)
        self.add_module(f"layer{len(self._stack) - 1}", layer)
        first = self._stack[0]
        if first.declared_input_shape is not None:
            self._build((None,) + first.declared_input_shape)

    def pop(self):
        """Remove the last layer."""
        if not self._stack:
            raise IndexError("Sequential.pop: the model has no layers")
        layer = self._stack.pop()
        delattr(self, f"layer{len(self._stack)}")
        self.built = bool(self._stack) and self.built
        if self.built:
            self.output_shape = self._stack[-1].output_shape
        return layer

    def build(self, input_shape=None):
        """Build every layer for inputs of ``input_shape`` (batch axis first, e.g. (None, 10, 1))."""
        if input_shape is None:
            first = self._stack[0] if self._stack else None
            if first is None or first.declared_input_shape is None:
                raise ValueError("Sequential.build: give input_shape (with the batch axis, e.g. (None, 10, 1)), or "
                                 "input_shape= to the first layer")
            input_shape = (None,) + first.declared_input_shape
        self._build(tuple(input_shape))

    def _build(self, input_shape):
        if not self._stack:
            raise ValueError("Sequential: the model has no layers")
        shape, previous = input_shape, None
        for layer in self._stack:
            try:
                shape = layer.build_for(shape)
            except ValueError as e:
                after = f" (it follows {type(previous).__name__} {previous.name!r}, whose output is {shape}" + \
                    ("; set return_sequences=True on it" if getattr(previous, "return_sequences", True) is False
                     and len(shape) == 2 else "") + ")" if previous is not None else ""
                raise ValueError(f"{e}{after}") from None
            previous = layer
        self.input_shape, self.output_shape, self.built = input_shape, shape, True

    def _shapes_for(self, x_shape):
        """The output shape for a concrete input shape (every axis known)."""
        shape = tuple(x_shape)
        for layer in self._stack:
            shape = layer.compute_output_shape(shape)
        return shape

    def _check_input(self, x, what):
        """Build for x, or check x against the built input shape."""
        if not self.built:
            self._build((None,) + tuple(x.shape[1:]))
            return
        want = self.input_shape
        ok = len(x.shape) == len(want) and all(w is None or w == s for w, s in zip(want[1:], x.shape[1:]))
        if not ok:
            fix = ""
            if len(x.shape) == len(want) - 1 and want[-1] == 1:
                fix = f"; add the feature axis: x.reshape({', '.join(map(str, x.shape))}, 1)"
            elif len(x.shape) < len(want):
                fix = f"; x needs {len(want)} axes, the batch first (one example per row)"
            raise ValueError(f"{what}: the model takes inputs {want} (None: any size), got {tuple(x.shape)}{fix}")

    # ------------------------------------------------------------- running
    def forward(self, x, training=False, mask=None):
        """The model's output for a batch (a Tensor): inference mode unless ``training=True``."""
        out, _ = self._run(x, training, mask)
        return out

    def _run(self, x, training, mask=None, logits=False):
        """(output, its mask); with ``logits`` the last layer's activation is left out."""
        if not self._stack:
            raise ValueError("Sequential: the model has no layers")
        self._check_input(x, "Sequential")
        for i, layer in enumerate(self._stack):
            if logits and i == len(self._stack) - 1:
                out = layer.linear(x)
            else:
                out = layer(x, mask=mask, training=training)
            mask = layer.compute_mask(x, mask)
            x = out
        return x, mask

    def _fused_loss(self):
        """True when the loss can take the last layer's logits (softmax/sigmoid + its cross-entropy)."""
        last = self._stack[-1]
        return (self.loss.fuses_with is not None and not self.loss.from_logits and hasattr(last, "linear")
                and getattr(last, "activation_name", None) == self.loss.fuses_with)

    # ------------------------------------------------------------- compile
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None, run_eagerly=None,
                **unknown):
        """Choose the optimizer (name or object, Keras's defaults), the loss and the metrics."""
        if unknown:
            raise TypeError(f"compile: unexpected argument(s) {', '.join(sorted(unknown))}")
        if loss_weights is not None:
            raise NotImplementedError("compile: loss_weights is for models with several outputs")
        if loss is None:
            raise ValueError("compile: give a loss, e.g. loss='mse' or loss='sparse_categorical_crossentropy'")
        optimizer, loss = optimizers_module.get(optimizer), losses_module.get(loss)
        if metrics is None:
            metrics = []
        elif isinstance(metrics, str) or callable(metrics):
            metrics = [metrics]
        for m in metrics:  # unknown names fail here, not after the first epoch
            metrics_module.get(m, loss.name)
        # everything checked: only now does the model change
        self.optimizer, self.loss, self._metric_specs = optimizer, loss, list(metrics)

    def _require_compiled(self, what):
        if self.loss is None:
            raise RuntimeError(f"{what}: compile the model first (model.compile(optimizer=..., loss=...))")

    def _metrics_for(self):
        units = self.output_shape[-1] if self.output_shape else None
        return [metrics_module.get(m, self.loss.name, units) for m in self._metric_specs]

    # ------------------------------------------------------------- data
    @staticmethod
    def _array(a, what):
        if a is None:
            return None
        if isinstance(a, mg.Tensor):
            return a.numpy()
        arr = np.asarray(a)
        if arr.dtype == object:
            raise TypeError(f"{what}: expected a numeric array, got ragged or mixed data (pad sequences to one "
                            "length with rnn.keras.preprocessing.sequence.pad_sequences)")
        return arr

    def _prepare(self, x, y, what, sample_weight=None):
        x = self._array(x, f"{what} x")
        y = self._array(y, f"{what} y")
        if x is None:
            raise ValueError(f"{what}: x is missing")
        if x.ndim == 0:
            raise ValueError(f"{what}: x must have a batch axis, got a scalar")
        if y is not None and len(y) != len(x):
            raise ValueError(f"{what}: x has {len(x)} examples but y has {len(y)}")
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, np.float64)
            if sample_weight.shape != (len(x),):
                raise ValueError(f"{what}: sample_weight must have shape ({len(x)},), got {sample_weight.shape}")
        self._check_input(x, what)
        if y is not None and self.loss is not None:
            self.loss.check_targets(y, self._shapes_for(x.shape))
        return x, y, sample_weight

    @staticmethod
    def _batch_size(batch_size, what):
        if batch_size is None:
            return 32
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"{what}: batch_size must be a positive int, got {batch_size!r}")
        return int(batch_size)

    # ------------------------------------------------------------- training
    def _batch_loss(self, xb, yb, wb, training, want_output=True):
        """(loss Tensor, predictions Tensor or None, mask) for one batch; the predictions (for the
        metrics) only with ``want_output``."""
        fused = self._fused_loss()
        out, mask = self._run(xb, training, logits=fused)
        per = self.loss.per_example_from_logits(yb, out) if fused else self.loss.per_example(yb, out)
        if not want_output:
            out = None
        elif fused:  # the probabilities, from the logits the loss took
            with mg.no_grad():
                out = self._stack[-1].activation(out.detach())
        # the mean over examples (and steps), weighted by sample weights; masked steps left out
        weights, count = None, float(np.prod(per.shape))
        if wb is not None:
            weights = wb.reshape((-1,) + (1,) * (per.ndim - 1)) * np.ones(per.shape)
        if mask is not None and per.ndim == 2 and mask.shape == tuple(per.shape):
            weights = mask.astype(np.float64) if weights is None else weights * mask
            count = float(mask.sum())
        if per.ndim == 0:
            loss = per
        elif weights is None:
            loss = per.mean()
        else:
            loss = (per * mg.tensor(weights, dtype=per.dtype)).sum() / max(count, 1.0)
        return loss, out, mask

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
            validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
            steps_per_epoch=None, validation_batch_size=None, validation_freq=1, distributed=False, **unknown):
        """Train for ``epochs`` epochs (from ``initial_epoch``); returns the History.

        x (N, ...) and y (N, ...): arrays or tensors. ``validation_split`` holds out that
        fraction from the end of the data (before any shuffling, as Keras);
        ``validation_data`` = (x_val, y_val). ``shuffle`` reorders the examples every epoch.
        ``class_weight`` {class: weight} or ``sample_weight`` (N,) weigh the examples.
        ``verbose``: 0 silent, 1 a progress bar (a line per epoch when not on a terminal),
        2 a line per epoch; "auto" is 1. ``distributed=True`` (not in Keras, whose
        ``keras.distribution`` does this on accelerators): data-parallel over MPI, as
        ``rnn.train.fit(distributed=True)``: run under ``mpiexec -n R``; ``batch_size`` is
        the global batch, each rank computes every R-th example of it, and the gradients
        are averaged, so R ranks train as one process would.
        """
        if unknown:
            raise TypeError(f"fit: unexpected argument(s) {', '.join(sorted(unknown))}")
        self._require_compiled("fit")
        if y is None:
            raise ValueError("fit: y (the targets) is missing; a model learns from pairs (x, y): build inputs and "
                             "targets first, e.g. windows of a series and the value after each")
        if steps_per_epoch is not None:
            raise NotImplementedError("fit: steps_per_epoch is for generators; pass arrays (x, y)")
        batch_size = self._batch_size(batch_size, "fit")
        for label, v in (("epochs", epochs), ("initial_epoch", initial_epoch)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 0:
                raise ValueError(f"fit: {label} must be an int >= 0, got {v!r}")
        if initial_epoch > epochs:
            raise ValueError(f"fit: initial_epoch ({initial_epoch}) is past epochs ({epochs})")
        x, y, sample_weight = self._prepare(x, y, "fit", sample_weight)
        if class_weight is not None:
            sample_weight = self._class_weights(y, class_weight, sample_weight)
        if not 0 <= validation_split < 1:
            raise ValueError(f"fit: validation_split must be in [0, 1), got {validation_split!r}")
        if validation_data is None and validation_split:
            n_val = int(len(x) * validation_split)
            if n_val < 1 or n_val >= len(x):
                raise ValueError(f"fit: validation_split={validation_split} of {len(x)} examples leaves "
                                 f"{n_val} for validation and {len(x) - n_val} for training; both need at least one")
            validation_data = (x[-n_val:], y[-n_val:])
            x, y = x[:-n_val], y[:-n_val]
            sample_weight = None if sample_weight is None else sample_weight[:-n_val]
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise ValueError("fit: validation_data must be (x_val, y_val) or (x_val, y_val, sample_weight)")
            vx, vy, vw = self._prepare(validation_data[0], validation_data[1], "fit validation_data",
                                       validation_data[2] if len(validation_data) == 3 else None)
        if len(x) == 0:
            raise ValueError("fit: no training examples")
        if not self.optimizer.bound_to(self._trainable()):
            self.optimizer.bind(self._trainable())
        metrics = self._metrics_for()
        verbose = 1 if verbose == "auto" else verbose
        for cb in callbacks or ():
            if not isinstance(cb, Callback):  # Keras takes Callback objects only (rnn.train.fit takes functions too)
                raise TypeError(f"fit: callbacks must be rnn.keras.callbacks.Callback objects, got {type(cb).__name__}")
        params = self._trainable()
        optimizer = self.optimizer.bound
        run = distributed_run(self, distributed, "fit")
        loop = TrainingLoop(self, optimizer, callbacks, verbose=verbose, distributed=run,
                            params={"epochs": epochs, "steps": math.ceil(len(x) / batch_size)})
        self.history = loop.history
        if run is not None and verbose and run.is_main:
            print(f"fit: {run.describe()}", flush=True)
        try:
            with loop.running(initial_epoch):
                for epoch in range(loop.epoch, epochs):
                    self.train()
                    loop.epoch_begin(epoch)
                    order = generator().permutation(len(x)) if shuffle else np.arange(len(x))
                    if run is not None and shuffle:
                        order = run.same_order(order)  # every rank cuts the same global batches
                    for b, i in enumerate(range(0, len(x), batch_size)):
                        idx = order[i:i + batch_size]
                        mine = idx if run is None else run.share(idx)  # data-parallel: this rank's part
                        loop.batch_begin(b)
                        optimizer.zero_grad()
                        values = {"loss": 0.0, **{name: 0.0 for name, _ in metrics}}
                        if len(mine):
                            wb = None if sample_weight is None else sample_weight[mine]
                            loss, pred, mask = self._batch_loss(x[mine], y[mine], wb, training=True,
                                                                want_output=bool(metrics))
                            values = {"loss": loss.item(),
                                      **{name: _metric_mean(fn, y[mine], pred, mask) for name, fn in metrics}}
                            loop.backward(loss, values["loss"], len(mine), len(idx))
                        values, size = loop.combine_batch(values, len(mine))
                        if not loop.step_is_finite(values["loss"], params, epoch, b):
                            break
                        self.optimizer.clip(params)
                        optimizer.step()
                        if loop.batch_end(b, values, size):
                            break
                    if loop.stop and loop.batch:
                        break
                    logs = loop.means()
                    if validation_data is not None and (epoch + 1 - initial_epoch) % validation_freq == 0:
                        if run is None:
                            val = self._evaluate(vx, vy, vw, validation_batch_size or batch_size, metrics)
                        else:  # each rank scores its share; the means are over the whole set
                            val = run.evaluate_share(len(vx), ["loss", *(name for name, _ in metrics)],
                                                     lambda part: self._evaluate(
                                                         vx[part], vy[part], None if vw is None else vw[part],
                                                         validation_batch_size or batch_size, metrics))
                        logs.update({f"val_{k}": v for k, v in val.items()})
                    loop.epoch_end(epoch, logs)
                    if loop.stop:
                        break
        finally:
            self.eval()
        return loop.history

    def _trainable(self):
        """The weights the optimizer updates (a layer built with trainable=False keeps its own)."""
        return [p for p in self.parameters() if p.requires_grad]

    @staticmethod
    def _class_weights(y, class_weight, sample_weight):
        ids = np.asarray(y)
        if ids.ndim > 1 and ids.shape[-1] > 1:
            ids = ids.argmax(axis=-1)  # one-hot
        ids = ids.reshape(len(ids), -1)[:, 0] if ids.ndim > 1 else ids
        ids = np.round(ids).astype(np.int64)
        missing = sorted(set(ids.tolist()) - set(class_weight))
        if missing:
            raise ValueError(f"fit: class_weight has no weight for class(es) {missing}")
        w = np.array([class_weight[c] for c in ids], np.float64)
        return w if sample_weight is None else w * sample_weight

    # ------------------------------------------------------------- evaluation
    def _evaluate(self, x, y, w, batch_size, metrics):
        was = self.training
        self.eval()
        totals, n = {"loss": 0.0, **{name: 0.0 for name, _ in metrics}}, 0
        try:
            with mg.no_grad():
                for i in range(0, len(x), batch_size):
                    sl = slice(i, i + batch_size)
                    loss, pred, mask = self._batch_loss(x[sl], y[sl], None if w is None else w[sl], training=False,
                                                        want_output=bool(metrics))
                    k = len(x[sl])
                    totals["loss"] += loss.item() * k
                    for name, fn in metrics:
                        totals[name] += _metric_mean(fn, y[sl], pred, mask) * k
                    n += k
        finally:
            self.train(was)
        return {k: v / max(n, 1) for k, v in totals.items()}

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, return_dict=False):
        """The loss (and metrics) over a data set: a number, [loss, metrics...], or a dict."""
        self._require_compiled("evaluate")
        if y is None:
            raise ValueError("evaluate: y (the targets) is missing")
        x, y, sample_weight = self._prepare(x, y, "evaluate", sample_weight)
        metrics = self._metrics_for()
        result = self._evaluate(x, y, sample_weight, self._batch_size(batch_size, "evaluate"), metrics)
        if verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in result.items()))
        if return_dict:
            return result
        return result["loss"] if not metrics else [result["loss"]] + [result[name] for name, _ in metrics]

    def predict(self, x, batch_size=None, verbose=0):
        """The model's outputs for every example, as one numpy array (inference mode, no graph)."""
        x = self._array(x, "predict x")
        if x is None or x.ndim == 0:
            raise ValueError("predict: x must be an array with a batch axis")
        self._check_input(x, "predict")
        batch_size = self._batch_size(batch_size, "predict")
        was = self.training
        self.eval()
        try:
            with mg.no_grad():
                parts = [self._run(x[i:i + batch_size], False)[0].numpy() for i in range(0, len(x), batch_size)]
        finally:
            self.train(was)
        if not parts:
            return np.empty((0,) + tuple(self._shapes_for((1,) + x.shape[1:])[1:]), np.float32)
        return np.concatenate(parts, axis=0)

    def train_on_batch(self, x, y, sample_weight=None):
        """One optimizer step on one batch; returns the loss before the step."""
        self._require_compiled("train_on_batch")
        x, y, sample_weight = self._prepare(x, y, "train_on_batch", sample_weight)
        if not self.optimizer.bound_to(self._trainable()):
            self.optimizer.bind(self._trainable())
        self.train()
        loss, _, _ = self._batch_loss(x, y, sample_weight, training=True, want_output=False)
        value = loss.item()
        if not math.isfinite(value):
            raise FloatingPointError(f"train_on_batch: the loss is {value}; no weight was changed")
        self.optimizer.bound.zero_grad()
        loss.backward()
        self.optimizer.clip(self._trainable())
        self.optimizer.bound.step()
        self.eval()
        return value

    def predict_on_batch(self, x):
        return self.predict(x, batch_size=max(len(np.asarray(x)), 1))

    # ------------------------------------------------------------- weights
    def get_weights(self):
        """Every layer's weights, in order, in Keras's layouts."""
        self._require_built("get_weights")
        return [w for layer in self._stack for w in layer.get_weights()]

    def set_weights(self, weights):
        """Set every weight from a list in ``get_weights``'s order; all checked before any is set."""
        self._require_built("set_weights")
        weights, plan, k = list(weights), [], 0
        for layer in self._stack:
            n = len(layer.keras_weights())
            plan.append((layer, weights[k:k + n]))
            k += n
        if k != len(weights):
            raise ValueError(f"set_weights: the model has {k} weight arrays, got {len(weights)}")
        before = self.get_weights()
        try:
            for layer, ws in plan:
                layer.set_weights(ws)
        except ValueError:
            for layer, ws in zip(self._stack, _split(before, self._stack)):
                layer.set_weights(ws)
            raise

    def save_weights(self, filepath, overwrite=True):
        """Write the weights to ``filepath`` (atomically: a crash leaves the old file or the new one)."""
        import os
        self._require_built("save_weights")
        if not overwrite and os.path.exists(filepath):
            raise FileExistsError(f"save_weights: {filepath} exists (overwrite=False)")
        mg.save({"format": _WEIGHTS_FORMAT, "layers": [layer.name for layer in self._stack],
                 "weights": [layer.get_weights() for layer in self._stack]}, filepath)

    def load_weights(self, filepath):
        """Read weights written by ``save_weights``; a file that does not fit changes nothing."""
        self._require_built("load_weights")
        data = mg.load(filepath)
        if not isinstance(data, dict) or data.get("format") != _WEIGHTS_FORMAT:
            raise ValueError(f"load_weights: {filepath} was not written by Sequential.save_weights")
        saved = data["weights"]
        if len(saved) != len(self._stack):
            raise ValueError(f"load_weights: {filepath} holds {len(saved)} layers ({', '.join(data['layers'])}), "
                             f"the model has {len(self._stack)}")
        self.set_weights([w for ws in saved for w in ws])

    def reset_states(self):
        """Forget the carried state of every stateful recurrent layer."""
        for layer in self._stack:
            if hasattr(layer, "reset_states"):
                layer.reset_states()

    def count_params(self):
        self._require_built("count_params")
        return sum(layer.count_params() for layer in self._stack)

    def _require_built(self, what):
        if not self.built:
            raise ValueError(f"{what}: the model is not built yet; give input_shape= to the first layer, call "
                             "model.build((None, ...)), or fit/predict on data first")

    # ------------------------------------------------------------- summary
    def summary(self, line_length=65, print_fn=None):
        """Keras's table: each layer's name and type, output shape and parameter count."""
        self._require_built("summary")
        show = print_fn or print
        rows = [(f"{layer.name} ({type(layer).__name__})", str(layer.output_shape), layer.count_params(), layer)
                for layer in self.layers]
        w0 = max([28] + [len(r[0]) + 2 for r in rows])  # a long name widens its column
        w1 = max([25] + [len(r[1]) + 2 for r in rows])
        line_length = max(line_length, w0 + w1 + 12)
        row = lambda a, b, c: f" {a:<{w0 - 1}}{b:<{w1}}{c:>{line_length - w0 - w1}}"  # noqa: E731
        total = trainable = 0
        lines = [f'Model: "{self.name}"', "_" * line_length, row("Layer (type)", "Output Shape", "Param #"),
                 "=" * line_length]
        for name, shape, n, layer in rows:
            total += n
            trainable += n if layer.trainable else 0
            lines.append(row(name, shape, f"{n:,}"))
        lines += ["=" * line_length, f"Total params: {total:,}", f"Trainable params: {trainable:,}",
                  f"Non-trainable params: {total - trainable:,}", "_" * line_length]
        for line in lines:
            show(line)


def _split(flat, layers):
    out, k = [], 0
    for layer in layers:
        n = len(layer.keras_weights())
        out.append(flat[k:k + n])
        k += n
    return out


def _metric_mean(fn, y_true, y_pred, mask):
    """The mean of a per-example metric over a batch, skipping masked steps."""
    values = np.asarray(fn(y_true, y_pred), np.float64)
    if mask is not None and values.shape == mask.shape:
        return float(values[mask].mean()) if mask.any() else 0.0
    return float(values.mean()) if values.size else 0.0

