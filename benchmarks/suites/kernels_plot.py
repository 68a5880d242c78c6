"""Plots of the kernel suite's records: speedup over python, and time against size."""
from .. import harness
from .kernel_cases import FAMILIES


def plot(records, out_dir):
    """Speedup-over-python bars (log scale) and time-vs-size lines per family; returns PNG paths."""
    paths = []
    measured = [r for r in records if r["status"] == "measured"]
    for dtype in dict.fromkeys(r["dtype"] for r in measured):
        rs = [r for r in measured if r["dtype"] == dtype]
        p = _plot_speedup(rs, dtype, out_dir)
        if p:
            paths.append(p)
        for family in FAMILIES:
            fam = [r for r in rs if r["family"] == family]
            if fam:
                paths.append(_plot_time_vs_size(fam, family, dtype, out_dir))
    return paths


def _plot_speedup(rs, dtype, out_dir):
    """One panel per size where python ran: bars of python_time / backend_time per case, log scale."""
    rs = [r for r in rs if r["backend"] != "python" and r.get("speedup_vs_python")]
    if not rs:
        return None
    plt = harness.pyplot()
    shapes = list(dict.fromkeys(tuple(r["shape"]) for r in rs))
    backends = list(dict.fromkeys(r["backend"] for r in rs))
    cases = list(dict.fromkeys(r["case"] for r in rs))
    fig, axes = plt.subplots(len(shapes), 1, figsize=(max(8, 0.55 * len(cases) * max(1, len(backends) / 2)),
                                                      3.6 * len(shapes)), squeeze=False)
    width = 0.8 / len(backends)
    for ax, shape in zip(axes[:, 0], shapes):
        for i, b in enumerate(backends):
            vals = {r["case"]: r["speedup_vs_python"] for r in rs if r["backend"] == b and tuple(r["shape"]) == shape}
            xs = [j + (i - (len(backends) - 1) / 2) * width for j, c in enumerate(cases) if c in vals]
            # numpy ran its own vectorised code, not the loop source: hatch it so it reads differently
            ax.bar(xs, [vals[c] for c in cases if c in vals], width, label=b if b != "numpy" else "numpy (own code)",
                   color=harness.color(b, i), hatch="//" if b == "numpy" else None, alpha=0.6 if b == "numpy" else 1)
        ax.set_yscale("log")
        ax.axhline(1, color="black", lw=0.8)
        ax.axhline(100, color="gray", lw=0.8, ls="--")
        ax.set_xticks(range(len(cases)))
        ax.set_xticklabels(cases, rotation=60, ha="right", fontsize=8)
        ax.set_ylabel("speedup over python")
        ax.set_title(f"{'x'.join(map(str, shape))} {dtype}: python time / backend time "
                     f"(dashed: 100x goal; numpy's own kernels ran, not the same source)", fontsize=9)
        ax.grid(axis="y", which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return harness.save_figure(fig, out_dir, f"kernels_speedup_vs_python_{dtype}.png")


def _plot_time_vs_size(rs, family, dtype, out_dir):
    """One panel per case of the family: median time against number of elements, a line per backend."""
    plt = harness.pyplot()
    cases = list(dict.fromkeys(r["case"] for r in rs))
    ncol = min(4, len(cases))
    nrow = -(-len(cases) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.6 * ncol, 3.0 * nrow), squeeze=False)
    labels = {r["elements"]: "x".join(map(str, r["shape"])) for r in rs}
    for ax, case in zip(axes.flat, cases):
        for i, b in enumerate(dict.fromkeys(r["backend"] for r in rs)):
            pts = sorted((r["elements"], r["seconds"]) for r in rs if r["case"] == case and r["backend"] == b)
            if pts:
                ax.plot(*zip(*pts), marker="o", label=b, color=harness.color(b, i))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(sorted(labels), [labels[e] for e in sorted(labels)], fontsize=7)
        ax.xaxis.set_minor_locator(plt.NullLocator())  # log-axis minor labels would hide the shapes
        ax.set_title(case, fontsize=9)
        ax.set_xlabel("shape (log scale of elements)", fontsize=8)
        ax.set_ylabel("seconds per call", fontsize=8)
        ax.grid(which="both", alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(cases):]:
        ax.set_visible(False)
    fig.suptitle(f"{family} kernels, {dtype}: time vs size", fontsize=10)
    fig.tight_layout()
    slug = family.replace(" ", "_").replace("/", "_")
    return harness.save_figure(fig, out_dir, f"kernels_time_vs_size_{slug}_{dtype}.png")
