"""The autograd graph behind a result, as an indented text tree or as a drawing.

While a graph is recorded, every result of an op remembers the op in ``tensor._ctx``
(a ``Function``), and the op remembers its inputs in ``fn.parents`` (see
``minigrad/autograd.py``). Following those links from a result back to the leaves gives
the graph that ``backward`` will walk: ops (named by their Function class: ``MatMul``,
``Tanh``, ``FusedLSTM``) and leaves (parameters, inputs, constants).

Draw it *before* calling ``backward()``: backward frees each op's inputs as it passes
(unless ``retain_graph=True``), and a freed graph can no longer be followed; both
functions say so with a clear error.

Output: ``graph_text`` returns a string. ``draw_graph`` uses Graphviz when it is
installed (``pip install graphviz`` and the ``dot`` program) and matplotlib otherwise,
or what ``engine=`` asks for.
"""
import importlib.util
import os
import shutil

import numpy as np

from ..tensor import Tensor
from ._figure import figure, finish

# fill colours: ops, the result, leaves that require grad (parameters), other leaves (inputs, constants)
_COLOURS = {"op": "#fde8c8", "result": "#c8efcf", "param": "#cfe2fa", "input": "#ececec"}


class _Node:
    """One box of the graph: an op or a leaf, its text lines and the keys of its inputs."""

    __slots__ = ("kind", "lines", "parents")

    def __init__(self, kind, lines, parents=()):
        self.kind, self.lines, self.parents = kind, lines, list(parents)


def _fmt(shape, dtype):
    return f"{tuple(shape)} {np.dtype(dtype).name}"


def _key(t):
    """A leaf is its own node; a non-leaf is drawn as the op that made it."""
    return ("leaf", id(t)) if t._ctx is None else ("op", id(t._ctx))


def _leaf(t, names):
    name = names.get(id(t))
    if name is None:
        if t.requires_grad:
            name = "leaf"
        elif t.size == 1:
            name = f"const {t.numpy().reshape(()).item():.4g}"
        else:
            name = "input"
    lines = [name, _fmt(t.shape, t.dtype)]
    if t.requires_grad:
        lines.append("requires_grad")
    return _Node("param" if t.requires_grad else "input", lines)


def _op(fn, t):
    """The node of op ``fn``, reached through its output ``t``: its name and output shape(s)."""
    if fn.outputs is None:
        outs = [t]
    else:  # several outputs, held weakly: one no longer alive is shown as '?'
        outs = [r() for r in fn.outputs]
    shapes = ", ".join("?" if o is None else str(tuple(o.shape)) for o in outs)
    return _Node("op", [fn.name, f"{shapes} {t.dtype.name}"], [_key(p) for p in fn.parents])


def _parameter_names(params, fname):
    if params is None:
        return {}
    if hasattr(params, "named_parameters"):
        params = dict(params.named_parameters())
    if not isinstance(params, dict):
        raise TypeError(f"{fname}: params must be a Module or a dict {{name: tensor}} (e.g. "
                        f"dict(model.named_parameters())), got {type(params).__name__}")
    return {id(p): name for name, p in params.items()}


def _walk(tensor, fname, params=None):
    """(nodes {key: _Node}, keys in topological order with inputs first, root key).

    Iterative (a graph through 10,000 time steps is 10,000 deep)."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{fname}: expected a Tensor, got {type(tensor).__name__}")
    if tensor._ctx is None:
        raise ValueError(f"{fname}: this tensor (shape {tensor.shape}, requires_grad={tensor.requires_grad}) has no "
                         "autograd graph: it is a leaf, not the result of ops recorded while an input required "
                         "grad (was it computed under no_grad(), or only from tensors without requires_grad=True?)")
    names = _parameter_names(params, fname)
    nodes, stack = {}, [tensor]
    while stack:
        t = stack.pop()
        key = _key(t)
        if key in nodes:
            continue
        fn = t._ctx
        if fn is None:
            nodes[key] = _leaf(t, names)
            continue
        if fn.parents is None:
            raise RuntimeError(f"{fname}: the graph behind this tensor was freed by backward(): after its backward "
                               f"ran, the {fn.name} op let go of its inputs. Draw the graph before calling "
                               "backward(), or call backward(retain_graph=True)")
        nodes[key] = _op(fn, t)
        stack.extend(reversed(fn.parents))
    root = _key(tensor)
    nodes[root].kind = "result"
    return nodes, _topological(nodes, root), root


def _topological(nodes, root):
    """Post-order depth-first search: every node after all of its inputs."""
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        key, done = stack.pop()
        if done:
            order.append(key)
        elif key not in seen:
            seen.add(key)
            stack.append((key, True))
            stack.extend((p, False) for p in reversed(nodes[key].parents) if p not in seen)
    return order


# ---------------------------------------------------------------------------- text
def graph_text(tensor, params=None):
    """The graph behind ``tensor`` as an indented tree, one line per node, result first.

    An op's line reads ``Name -> output shape dtype``, its inputs indented below it in
    argument order; a leaf's line reads ``name shape dtype`` (+ ``requires_grad``), the
    name taken from ``params`` (a Module or a dict {name: tensor}, e.g.
    ``dict(model.named_parameters())``) or else ``leaf`` (requires grad), ``const v``
    (one element) or ``input``. A node used more than once (a shared subgraph, a weight
    read at every time step) is printed in full once, tagged ``#n``, and afterwards as
    ``^ #n Name``. Example, for ``(x @ w).tanh().sum()``::

        Sum -> () float32
          Tanh -> (2, 4) float32
            MatMul -> (2, 4) float32
              x (2, 3) float32 requires_grad
              w (3, 4) float32 requires_grad
    """
    nodes, order, root = _walk(tensor, "graph_text", params)
    uses = dict.fromkeys(nodes, 0)
    for key in order:
        for p in nodes[key].parents:
            uses[p] += 1
    lines, tags, shared, stack = [], {}, 0, [(root, 0)]
    while stack:
        key, depth = stack.pop()
        node, indent = nodes[key], "  " * depth
        if key in tags:
            lines.append(f"{indent}^ #{tags[key]} {node.lines[0]}")
            continue
        head = " ".join(node.lines[1:]) if node.kind in ("param", "input") else "-> " + node.lines[1]
        text = f"{indent}{node.lines[0]} {head}"
        tags[key] = None  # printed; a node used once is never referred to again
        if uses[key] > 1:
            tags[key] = shared = shared + 1
            text += f"  #{shared}"
        lines.append(text)
        stack.extend((p, depth + 1) for p in reversed(node.parents))
    return "\n".join(lines)


# ------------------------------------------------------------------------- drawing
def draw_graph(tensor, path=None, *, params=None, ax=None, title=None, max_nodes=60, engine="auto",
               figsize=None, dpi=100):
    """Draw the autograd graph behind ``tensor``: inputs on top, arrows down to the result.

    Each op is a box with its name and output shape and dtype; each leaf a box with its
    name (from ``params``, as in ``graph_text``), shape, dtype and whether it requires
    grad. Colours: ops orange, the result green, leaves that require grad blue, other
    leaves grey.

    Args:
        tensor: a result computed with the graph recorded, not yet through ``backward()``.
        path: write the drawing there (format from the suffix: .png, .svg, .pdf; for
            ``engine="text"`` any text file).
        params: a Module or a dict {name: tensor} naming the parameters.
        ax: a matplotlib Axes to draw into (matplotlib engine).
        title: drawn above the graph.
        max_nodes: refuse graphs with more nodes than this: past about 60 boxes a drawing
            is no longer readable (use ``graph_text`` or raise the limit).
        engine: ``"auto"`` (Graphviz when the ``graphviz`` package and ``dot`` are
            installed and no ``ax`` is given, else matplotlib), ``"graphviz"``,
            ``"matplotlib"`` or ``"text"``.
        figsize, dpi: the matplotlib figure's size in inches (by default from the graph's
            width and depth) and resolution.

    Returns:
        a matplotlib Figure; a ``graphviz.Digraph`` with Graphviz (Jupyter shows it);
        the ``graph_text`` string for ``engine="text"``.
    """
    engines = ("auto", "graphviz", "matplotlib", "text")
    if engine not in engines:
        raise ValueError(f"draw_graph: engine must be one of {engines}, got {engine!r}")
    if engine == "text":
        text = graph_text(tensor, params)
        if path is not None:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text + "\n")
        return text
    nodes, order, root = _walk(tensor, "draw_graph", params)
    if len(nodes) > max_nodes:
        raise ValueError(f"draw_graph: the graph has {len(nodes)} nodes, more than max_nodes={max_nodes}, too many "
                         f"to read in a drawing; print graph_text(tensor) instead (shared parts appear once), or "
                         f"pass max_nodes={len(nodes)} to draw it anyway")
    if engine == "auto":
        engine = "graphviz" if ax is None and _graphviz_available() else "matplotlib"
    if engine == "graphviz":
        if ax is not None:
            raise ValueError("draw_graph: engine='graphviz' cannot draw into a matplotlib ax; use engine='matplotlib'")
        if not _graphviz_available():
            raise RuntimeError("draw_graph: engine='graphviz' needs the graphviz Python package (pip install graphviz) "
                               "and the Graphviz 'dot' program on PATH; engine='matplotlib' needs neither")
        return _draw_graphviz(nodes, order, path, title)
    return _draw_matplotlib(nodes, order, path, ax, title, figsize, dpi)


def _graphviz_available():
    return importlib.util.find_spec("graphviz") is not None and shutil.which("dot") is not None


def _draw_graphviz(nodes, order, path, title):
    import graphviz
    dot = graphviz.Digraph("autograd", node_attr={"shape": "box", "style": "rounded,filled",
                                                  "fontname": "Helvetica", "fontsize": "10"})
    if title:
        dot.attr(label=title, labelloc="t")
    names = {key: f"n{i}" for i, key in enumerate(order)}
    for key in order:
        node = nodes[key]
        dot.node(names[key], "\n".join(node.lines), fillcolor=_COLOURS[node.kind])
    for key in order:
        for p in nodes[key].parents:
            dot.edge(names[p], names[key])
    if path is not None:
        fmt = os.path.splitext(os.fspath(path))[1].lstrip(".").lower()
        if not fmt:
            raise ValueError(f"draw_graph: cannot tell the format from {os.fspath(path)!r}; end it in .png, .svg or .pdf")
        data = dot.pipe(format=fmt)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    return dot


def _layout(nodes, order):
    """Where each box goes: a layered drawing (Sugiyama et al. 1981) in three steps.

    1. Rows: the result on the bottom row, every other node on the row just above its
       first consumer (so an input sits next to where it is used, not all on top).
    2. An arrow that spans several rows passes through a waypoint on each row between,
       which takes a slot like a box: long arrows run between the boxes, not behind them.
    3. Each row is sorted by the mean position of its neighbours in the rows above and
       below, a few sweeps down and up (the barycentre heuristic), so arrows cross less.

    Returns ({key or waypoint: (x, y)}, number of rows, widest row, {(key, j): waypoints
    of the arrow from key's j-th input}).
    """
    level = {order[-1]: 0}  # rows above the bottom; order[-1] is the result
    for key in reversed(order):
        for p in nodes[key].parents:
            level[p] = max(level.get(p, 0), level[key] + 1)
    n_rows = max(level.values()) + 1
    row_of = {key: n_rows - 1 - lv for key, lv in level.items()}
    rows = [[] for _ in range(n_rows)]
    for key in order:
        rows[row_of[key]].append(key)
    up = {key: list(nodes[key].parents) for key in order}  # neighbours in the row above
    routes = {}
    for key in order:
        for j, p in enumerate(nodes[key].parents):
            below, way = p, []
            for r in range(row_of[p] + 1, row_of[key]):
                point = ("via", key, j, r)
                rows[r].append(point)
                up[point] = [below]
                way.append(point)
                below = point
            up[key][j] = below
            routes[(key, j)] = way
    down = {key: [] for key in up}
    for key, ns in up.items():
        for n in ns:
            down[n].append(key)

    def place():
        return {key: i - (len(row) - 1) / 2 for row in rows for i, key in enumerate(row)}

    x = place()
    for _ in range(4):
        for neighbours, rng in ((up, range(1, n_rows)), (down, range(n_rows - 2, -1, -1))):
            for r in rng:
                rows[r].sort(key=lambda k: np.mean([x[n] for n in neighbours[k]]) if neighbours[k] else x[k])
                x = place()
    x = _straighten(rows, up, down, x)
    left, right = min(x.values()) - 0.5, max(x.values()) + 0.5
    xy = {key: (x[key] - (left + right) / 2, -r) for r, row in enumerate(rows) for key in row}
    return xy, n_rows, right - left, routes


def _straighten(rows, up, down, x, sweeps=8):
    """Coordinates for the ordered rows: each node as near the mean of its neighbours as
    the room allows (a box needs 1 unit, a waypoint 0.2), so arrows run straight."""
    def half(key):
        return 0.1 if key[0] == "via" else 0.5

    for _ in range(sweeps):
        for neighbours, rng in ((up, range(1, len(rows))), (down, range(len(rows) - 2, -1, -1))):
            for r in rng:
                row = rows[r]
                want = [np.mean([x[n] for n in neighbours[k]]) if neighbours[k] else x[k] for k in row]
                # the nearest positions in order and apart: pushed right, pushed left, averaged
                # (both passes keep every gap, so their mean does too)
                right, left = list(want), list(want)
                for i in range(1, len(row)):
                    right[i] = max(want[i], right[i - 1] + half(row[i - 1]) + half(row[i]))
                for i in range(len(row) - 2, -1, -1):
                    left[i] = min(want[i], left[i + 1] - half(row[i + 1]) - half(row[i]))
                for k, a, b in zip(row, right, left):
                    x[k] = (a + b) / 2
    return x


def _draw_matplotlib(nodes, order, path, ax, title, figsize, dpi):
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
    from matplotlib.path import Path

    xy, n_rows, width, routes = _layout(nodes, order)
    if figsize is None:
        figsize = (min(max(1.5 * width + 0.4, 4.0), 24.0), min(max(0.8 * n_rows + 0.6, 2.5), 24.0))
    own = ax is None
    fig, ax = figure(ax, figsize=figsize, dpi=dpi)
    if own:  # the boxes fill the figure: no axes, no tight_layout
        fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=1 - (0.5 if title else 0.05) / figsize[1])
    box_w, box_h = 0.9, 0.62  # in units of the spacing between boxes and between rows
    ax.set_xlim(-width / 2, width / 2)
    ax.set_ylim(-n_rows + 0.5, 0.5)
    ax.set_axis_off()

    # One font size for every box: the largest at which the longest label fits.
    pos = ax.get_position()
    pts_x = pos.width * fig.get_figwidth() * 72 / width
    pts_y = pos.height * fig.get_figheight() * 72 / n_rows
    chars = max(len(line) for n in nodes.values() for line in n.lines)
    n_lines = max(len(n.lines) for n in nodes.values())
    size = min(9.0, 0.9 * box_w * pts_x / (0.62 * chars), 0.85 * box_h * pts_y / (1.3 * n_lines))

    for key in order:
        node, (x, y) = nodes[key], xy[key]
        ax.add_patch(FancyBboxPatch((x - box_w / 2, y - box_h / 2), box_w, box_h,
                                    boxstyle="round,pad=0,rounding_size=0.05", fc=_COLOURS[node.kind],
                                    ec="0.45", lw=0.8, zorder=2))
        ax.text(x, y, "\n".join(node.lines), ha="center", va="center", fontsize=size, zorder=3,
                fontweight="bold" if node.kind in ("op", "result") else "normal", linespacing=1.15)
        # an arrow from each input's bottom edge, through its waypoints, to this box's top
        # edge; the ends spread along the edge in the order the arrows come from
        arrivals = sorted(range(len(node.parents)),
                          key=lambda j: xy[(routes[(key, j)] or [node.parents[j]])[-1]][0])
        for rank, j in enumerate(arrivals):
            p = node.parents[j]
            end = (x + box_w * 0.6 * ((rank + 0.5) / len(arrivals) - 0.5), y + box_h / 2)
            points = [(xy[p][0], xy[p][1] - box_h / 2)] + [xy[w] for w in routes[(key, j)]] + [end]
            ax.add_patch(FancyArrowPatch(path=Path(points), arrowstyle="-|>", mutation_scale=7, lw=0.7,
                                         color="0.4", zorder=1))
    return finish(fig, path, title, own=False)
