"""Recording the gradient's size per layer, every update: how exploding and vanishing
gradients show up during training (``minigrad.plot.plot_grad_norms`` draws it)."""
from .base import Callback


class GradNormLogger(Callback):
    """After every update, the L2 norm of each layer's gradient (``rnn.inspect.parameter_grad_norms``).

    ``norms``: {layer: [norm per update]}; ``plot(path)`` draws them over training. per:
    "layer" (default) or "parameter". These are the gradients the update used: with
    clipping on, the clipped ones (the loops clip before the step; TBPTT also logs the
    norm before clipping as ``grad_norm``). Costs a host copy of every gradient per update."""

    def __init__(self, per="layer"):
        super().__init__()
        if per not in ("layer", "parameter"):
            raise ValueError(f"GradNormLogger: per must be 'layer' or 'parameter', got {per!r}")
        self.per, self.norms = per, {}

    def on_train_batch_end(self, batch, logs=None):
        from ..inspect import parameter_grad_norms
        for name, norm in parameter_grad_norms(self.model, per=self.per).items():
            self.norms.setdefault(name, []).append(norm)

    def plot(self, path=None, **kwargs):
        """The norms over training (``minigrad.plot.plot_grad_norms``); returns the Figure."""
        from minigrad.plot import plot_grad_norms
        return plot_grad_norms(layer_norms=self.norms, path=path, **kwargs)

    def state_dict(self):
        return {"per": self.per, "norms": self.norms}

    def load_state_dict(self, state):
        self.norms = {k: [float(v) for v in vals] for k, vals in state["norms"].items()}
