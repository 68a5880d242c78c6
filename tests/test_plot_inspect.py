"""minigrad.plot: the autograd graph (text and drawing), gradient norms, hidden-state heatmaps.

Pictures are checked as files: a PNG that PIL opens, of the size asked for (figsize x
dpi), not blank; and by what was drawn on the axes (lines, images, colour limits)."""
import importlib.machinery
import sys
import types

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

import minigrad as mg
import rnn
from minigrad.plot import draw_graph, graph, graph_text, plot_grad_norms, plot_hidden_states
from rnn.inspect import gate_activations


def _png(path, size):
    """Open the PNG, check its size in pixels and that something is drawn on it."""
    img = Image.open(path)
    img.load()
    assert img.format == "PNG" and img.size == size
    assert np.asarray(img.convert("L"), dtype=np.float64).std() > 8  # not a blank page
    return img


def _expr():
    x = mg.tensor(np.ones((2, 3)), requires_grad=True)
    w = mg.tensor(np.full((3, 4), 0.5), requires_grad=True)
    return x, w, (x @ w).tanh().sum()


# ------------------------------------------------------------------------- graph text
def test_graph_text_lines():
    x, w, y = _expr()
    assert graph_text(y, {"x": x, "w": w}).splitlines() == [
        "Sum -> () float32",
        "  Tanh -> (2, 4) float32",
        "    MatMul -> (2, 4) float32",
        "      x (2, 3) float32 requires_grad",
        "      w (3, 4) float32 requires_grad",
    ]
    assert graph_text(y).splitlines()[3:] == ["      leaf (2, 3) float32 requires_grad",
                                              "      leaf (3, 4) float32 requires_grad"]


def test_graph_text_prints_a_shared_subgraph_once():
    x = mg.tensor(np.ones((2, 3)), requires_grad=True)
    a = x * 2
    assert graph_text((a * a + a).sum(), {"x": x}).splitlines() == [
        "Sum -> () float32",
        "  Add -> (2, 3) float32",
        "    Mul -> (2, 3) float32",
        "      Mul -> (2, 3) float32  #1",
        "        x (2, 3) float32 requires_grad",
        "        const 2 () float32",
        "      ^ #1 Mul",
        "    ^ #1 Mul",
    ]


def test_graph_text_of_a_fused_layer_names_its_parameters_and_outputs():
    layer = rnn.LSTM(3, 4)
    out, _ = layer(mg.randn(5, 2, 3))
    lines = graph_text(out.sum(), layer).splitlines()
    assert lines[1] == "  FusedLSTM -> (5, 2, 4), (2, 4), (2, 4) float32"
    assert lines[2:7] == ["    input (5, 2, 3) float32", "    weight_ih_l0 (16, 3) float32 requires_grad",
                          "    weight_hh_l0 (16, 4) float32 requires_grad", "    bias_ih_l0 (16,) float32 requires_grad",
                          "    bias_hh_l0 (16,) float32 requires_grad"]


def test_graph_after_backward_and_without_a_graph():
    x, w, y = _expr()
    y.backward(retain_graph=True)
    assert graph_text(y).startswith("Sum")  # a retained graph can still be drawn
    y.backward()
    with pytest.raises(RuntimeError, match="freed by backward.*before calling backward"):
        graph_text(y)
    with pytest.raises(RuntimeError, match="draw_graph: the graph behind this tensor was freed"):
        draw_graph(y, engine="matplotlib")
    with pytest.raises(ValueError, match=r"draw_graph: this tensor \(shape \(2, 3\), requires_grad=True\) has no "
                                         "autograd graph"):
        draw_graph(x)
    with mg.no_grad():
        z = x * 2
    with pytest.raises(ValueError, match="no autograd graph.*no_grad"):
        graph_text(z)
    with pytest.raises(TypeError, match="expected a Tensor, got ndarray"):
        draw_graph(np.ones(3))


def test_layout_puts_every_input_above_its_op():
    mg.manual_seed(0)
    cell = rnn.GRUCell(2, 3)
    h = None
    for t in range(2):
        h = cell(mg.randn(1, 2), h)
    nodes, order, root = graph._walk(h.sum(), "test")
    xy, n_rows, width, routes = graph._layout(nodes, order)
    assert xy[root][1] == -(n_rows - 1)  # the result on the bottom row
    for key in order:
        for j, p in enumerate(nodes[key].parents):
            way = [xy[w] for w in routes[(key, j)]]
            ys = [xy[p][1]] + [w[1] for w in way] + [xy[key][1]]
            assert ys == list(range(ys[0], ys[0] - len(ys), -1))  # one row down per waypoint, into the op
    for y in range(n_rows):  # no two boxes overlap on a row
        xs = sorted(xy[k][0] for k in order if xy[k][1] == -y)
        assert all(b - a >= 1 - 1e-9 for a, b in zip(xs, xs[1:]))


# ---------------------------------------------------------------------- graph drawing
def test_draw_graph_png(tmp_path):
    x, w, y = _expr()
    fig = draw_graph(y, tmp_path / "g.png", params={"x": x, "w": w}, engine="matplotlib", figsize=(4, 3), dpi=50,
                     title="a graph")
    assert isinstance(fig, Figure)
    _png(tmp_path / "g.png", (200, 150))
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["x\n(2, 3) float32\nrequires_grad", "w\n(3, 4) float32\nrequires_grad",
                     "MatMul\n(2, 4) float32", "Tanh\n(2, 4) float32", "Sum\n() float32"]


def test_draw_graph_into_an_axes_and_as_text(tmp_path):
    x, w, y = _expr()
    fig = Figure(figsize=(6, 3))
    left, right = fig.subplots(1, 2)
    assert draw_graph(y, ax=right) is fig
    assert len(right.texts) == 5 and len(right.patches) == 5 + 4  # boxes + arrows
    assert not left.texts
    text = draw_graph(y, tmp_path / "g.txt", engine="text")
    assert text == graph_text(y) and (tmp_path / "g.txt").read_text() == text + "\n"


def test_draw_graph_refuses_too_many_nodes():
    x = mg.tensor(np.ones(3), requires_grad=True)
    y = x
    for _ in range(30):
        y = y.tanh()
    with pytest.raises(ValueError, match=r"31 nodes, more than max_nodes=20.*graph_text\(tensor\)"):
        draw_graph(y, max_nodes=20)
    assert len(draw_graph(y, engine="matplotlib").axes[0].texts) == 31  # the default allows it
    with pytest.raises(ValueError, match="engine must be one of"):
        draw_graph(y, engine="dot")


def test_draw_graph_with_graphviz(tmp_path, monkeypatch):
    """With the graphviz package and `dot` installed, a Digraph (here a stand-in recording the calls)."""
    class Digraph:
        def __init__(self, name, node_attr=None):
            self.nodes, self.edges, self.attrs = [], [], {}

        def attr(self, **kw):
            self.attrs.update(kw)

        def node(self, name, label, fillcolor):
            self.nodes.append((name, label))

        def edge(self, a, b):
            self.edges.append((a, b))

        def pipe(self, format):
            return f"rendered as {format}".encode()

    fake = types.ModuleType("graphviz")
    fake.__spec__ = importlib.machinery.ModuleSpec("graphviz", None)
    fake.Digraph = Digraph
    monkeypatch.setitem(sys.modules, "graphviz", fake)
    monkeypatch.setattr(graph.shutil, "which", lambda name: "/usr/bin/dot")
    x, w, y = _expr()
    dot = draw_graph(y, tmp_path / "g.svg", params={"x": x, "w": w}, title="t")
    assert isinstance(dot, Digraph) and dot.attrs == {"label": "t", "labelloc": "t"}
    labels = dict(dot.nodes)
    assert [labels[a].split("\n")[0] + ">" + labels[b].split("\n")[0] for a, b in dot.edges] == \
        ["x>MatMul", "w>MatMul", "MatMul>Tanh", "Tanh>Sum"]
    assert (tmp_path / "g.svg").read_bytes() == b"rendered as svg"
    assert isinstance(draw_graph(y, engine="matplotlib"), Figure)
    monkeypatch.setattr(graph.shutil, "which", lambda name: None)
    assert isinstance(draw_graph(y), Figure)  # no `dot`: matplotlib
    with pytest.raises(RuntimeError, match="needs the graphviz Python package.*'dot' program"):
        draw_graph(y, engine="graphviz")


# ------------------------------------------------------------------- plot_grad_norms
def test_plot_grad_norms_both_panels(tmp_path):
    t = np.arange(10)
    steps = {"RNN": np.stack([0.5 ** (9 - t), 0.4 ** (9 - t), 0.3 ** (9 - t)]), "LSTM": 0.9 ** (9 - t)}
    layers = {"rnn": [1.0, 0.5, 0.25], "head": [2.0, 2.0, 1.0]}
    fig = plot_grad_norms(steps, layers, tmp_path / "g.png", figsize=(8, 3), dpi=60, title="gradients")
    _png(tmp_path / "g.png", (480, 180))
    left, right = fig.axes
    assert left.get_yscale() == "log" and right.get_yscale() == "log"
    assert len(left.lines) == 4 and len(right.lines) == 2
    np.testing.assert_allclose(left.lines[2].get_ydata(), 0.3 ** (9 - t))
    # the three RNN curves: one colour, paler for earlier measurements
    grey = [np.mean(line.get_color()) for line in left.lines[:3]]
    assert grey[0] > grey[1] > grey[2]
    assert [t.get_text() for t in left.get_legend().get_texts()] == ["RNN (first)", "RNN (last)", "LSTM"]
    np.testing.assert_allclose(right.lines[0].get_xdata(), [1, 2, 3])


def test_plot_grad_norms_one_panel_relative_and_ax(tmp_path):
    norms = np.array([1e-6, 1e-3, 0.5])
    fig = plot_grad_norms(norms, relative=True)
    (ax,) = fig.axes
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [2e-6, 2e-3, 1.0])
    mine = Figure()
    a, b = mine.subplots(1, 2)
    assert plot_grad_norms(norms, {"l": [1, 2]}, ax=[a, b]) is mine and len(a.lines) == len(b.lines) == 1
    assert plot_grad_norms(layer_norms={"l": [1, 2]}, ax=a) is mine and len(a.lines) == 2
    with pytest.raises(ValueError, match=r"2 panel\(s\) to draw \(steps, layers\) but ax holds 1 Axes"):
        plot_grad_norms(norms, {"l": [1, 2]}, ax=a)
    with pytest.raises(ValueError, match="give step_norms"):
        plot_grad_norms()
    with pytest.raises(ValueError, match=r"step_norms\['x'\] must be an array \(T,\).*got shape \(2, 2, 2\)"):
        plot_grad_norms({"x": np.ones((2, 2, 2))})
    with pytest.raises(ValueError, match="3 stages named"):
        plot_grad_norms(np.ones((2, 5)), stages=["a", "b", "c"])


# ---------------------------------------------------------------- plot_hidden_states
def test_plot_hidden_states_gates(tmp_path):
    mg.manual_seed(1)
    layer = rnn.LSTM(2, 6)
    states = gate_activations(layer, mg.randn(12, 3, 2) * 3)
    fig = plot_hidden_states(states, tmp_path / "h.png", batch_index=1, figsize=(6, 8), dpi=50)
    _png(tmp_path / "h.png", (300, 400))
    panels = [a for a in fig.axes if a.images]
    assert [a.get_title(loc="left")[0] for a in panels] == ["h", "i", "f", "g", "o", "c"]
    for a, key in zip(panels, "hifgoc"):
        img = a.images[0]
        np.testing.assert_allclose(img.get_array(), states[key][:, 1].T, rtol=1e-6)
        lo, hi = img.get_clim()
        if key in "ifo":
            assert (lo, hi) == (0.0, 1.0)
        else:
            assert lo == -hi and hi >= max(1.0, np.abs(states[key][:, 1]).max())
    assert panels[-1].get_xlabel() == "time step t"


def test_plot_hidden_states_array_units_and_ax():
    h = np.random.randn(8, 2, 5)
    fig = Figure()
    ax = fig.subplots()
    assert plot_hidden_states(h, ax=ax, units=[0, 3]) is fig
    np.testing.assert_allclose(ax.images[0].get_array(), h[:, 0, [0, 3]].T)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0", "3"]
    fig = plot_hidden_states({"h": h, "z": np.random.rand(8, 2, 5)}, keys=["z"], units=2)
    assert len([a for a in fig.axes if a.images]) == 1 and fig.axes[0].images[0].get_array().shape == (2, 8)
    with pytest.raises(IndexError, match="batch_index=2 but 'h' has a batch of 2"):
        plot_hidden_states(h, batch_index=2)
    with pytest.raises(IndexError, match=r"units \[7\] out of range for 'h', which has 5 hidden units"):
        plot_hidden_states(h, units=[7])
    with pytest.raises(ValueError, match=r"'h' must be \(T, B, H\) or \(T, H\), got shape \(8,\)"):
        plot_hidden_states(np.ones(8))
    with pytest.raises(ValueError, match=r"2 panel\(s\) to draw \(h, z\) but ax holds 1 Axes"):
        plot_hidden_states({"h": h, "z": h}, ax=ax)
