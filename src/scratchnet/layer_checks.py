"""Sections 2.1-2.3: the Jacobian and transpose tests of the two layers, and the gradient test of
whole networks, as functions that return data, and the figures and text drawn from that data.

- 2.1 / 2.2: :func:`layer_jacobian_tests` and :func:`layer_transpose_tests` run the tests of
  :mod:`scratchnet.verify` on a layer fed with a batch of a data set; :func:`jacobian_summary`
  condenses one test (a target that enters linearly, such as W2 of the residual block, is judged
  by :meth:`~scratchnet.verify.TestResult.passes_linear`); :func:`transpose_summary` condenses
  the draws of the transpose test.
- 2.3: :func:`network_gradient_tests` runs the gradient test of softmax + L layers for several
  L and both architectures; :func:`network_summary_table` and :func:`network_verdict` state
  what it found.
"""

import matplotlib.pyplot as plt
import numpy as np

from .layers import ResidualLayer, StandardLayer
from .network import make_network
from .report.figures import TINY, WIDTH, gradient_test_figure
from .report import markdown_table
from .verify import layer_jacobian_test, network_gradient_test, transpose_error

STANDARD_TARGETS = ("X", "W", "b")
RESIDUAL_TARGETS = ("X", "W1", "W2", "b")
# Targets in which the layer's output is linear: J d is exact, the second-order error round-off.
LINEAR_TARGETS = {"residual": ("W2",), "standard": ()}
# A transpose test passes when |u^T J v - v^T J^T u| / (||u|| ||J v||) is below this (about 4500
# machine epsilons: a wrong product gives errors of order 1).
TRANSPOSE_TOL = 1e-12
TEX = {"X": "$X$", "W": "$W$", "b": "$b$", "W1": "$W_1$", "W2": "$W_2$"}


def tex(target):
    """A target's name in LaTeX: "W1" -> "$W_1$"."""
    return TEX.get(target, target)


def data_batch(dataset, m, rng):
    """A random batch of ``m`` training samples (columns) of ``dataset``: X (n x m), C (k x m)."""
    m = min(m, dataset.m_train)
    keep = rng.choice(dataset.m_train, size=m, replace=False)
    return dataset.Xt[:, keep].copy(), dataset.Ct[:, keep].copy()


def make_layer(kind, n, width, rng, activation="tanh", bias_scale=0.1):
    """A standard layer n -> width or a residual block of size n (``width`` unused), default
    initial weights, and a random bias (normal * ``bias_scale``) so that no test sits at b = 0."""
    if kind == "standard":
        layer = StandardLayer(n, width, activation, rng)
    elif kind == "residual":
        layer = ResidualLayer(n, activation, rng)
    else:
        raise ValueError(f"unknown layer kind {kind!r}: use 'standard' or 'residual'")
    layer.params["b"][...] = bias_scale * rng.standard_normal(layer.params["b"].shape)
    return layer


def layer_jacobian_tests(layer, X, targets, rng, eps0=0.1, K=20):
    """The Jacobian test of ``layer`` at the batch X for every target: ``{target: TestResult}``."""
    return {wrt: layer_jacobian_test(layer, X.copy(), wrt, rng, eps0=eps0, K=K)
            for wrt in targets}


def transpose_draw(layer, X, wrt, rng):
    """One draw of the transpose test with random normal u, v: ``(absolute, relative)``, the
    absolute error |u^T (J v) - v^T (J^T u)| and the same divided by ||u|| ||J v||."""
    v = rng.standard_normal(X.shape if wrt == "X" else layer.params[wrt].shape)
    Y = layer.forward(X)
    u = rng.standard_normal(Y.shape)
    Jv = layer.jvp({wrt: v})
    dX = layer.backward(u)
    JTu = dX if wrt == "X" else layer.grads[wrt]
    return float(abs(np.vdot(u, Jv) - np.vdot(v, JTu))), float(transpose_error(Jv, JTu, u, v))


def layer_transpose_tests(layer, X, targets, rng, draws=5):
    """``draws`` transpose tests per target: ``{target: {"absolute": array, "relative": array}}``."""
    out = {}
    for wrt in targets:
        pairs = np.array([transpose_draw(layer, X, wrt, rng) for _ in range(draws)])
        out[wrt] = {"absolute": pairs[:, 0], "relative": pairs[:, 1]}
    return out


def jacobian_summary(result, linear=False):
    """The numbers of one Jacobian (or gradient) test: fitted orders, rows above round-off, median
    ratios over those rows, the largest second-order error relative to the round-off level, and
    whether it passes: orders 1 and 2, or, for a ``linear`` target, order 1 and a second-order
    error at round-off from the first row."""
    return {
        "linear": bool(linear),
        **result.summary(),
        "max_second": float(np.max(result.second)),
        "max_second_over_floor": float(np.max(result.second) / result.floor),
        "floor": float(result.floor),
        "passes": bool(result.passes_linear() if linear else result.passes()),
    }


def transpose_summary(draws, tol=TRANSPOSE_TOL):
    """The largest errors of the draws of one target and whether all relative errors are < tol."""
    return {"max_absolute": float(np.max(draws["absolute"])),
            "max_relative": float(np.max(draws["relative"])),
            "passes": bool(np.all(draws["relative"] < tol))}


def layer_checks(kind, datasets, rng, width=16, batch=100, eps0=0.1, K=20, draws=5):
    """Every check of one layer kind on every data set: ``{name: {"jacobian": {target:
    TestResult}, "summary": {target: summary}, "transpose": {target: draws},
    "transpose_summary": {target: summary}, "shape": (n_in, n_out)}}``. The layer is
    n -> ``width`` (standard) or n x n (residual), n the data's dimension, fed with ``batch``
    training samples."""
    targets = STANDARD_TARGETS if kind == "standard" else RESIDUAL_TARGETS
    linear = LINEAR_TARGETS[kind]
    out = {}
    for name, dataset in datasets.items():
        X, _ = data_batch(dataset, batch, rng)
        layer = make_layer(kind, dataset.n_features, width, rng)
        tests = layer_jacobian_tests(layer, X, targets, rng, eps0=eps0, K=K)
        transposes = layer_transpose_tests(layer, X, targets, rng, draws=draws)
        out[name] = {
            "jacobian": tests,
            "summary": {t: jacobian_summary(r, t in linear) for t, r in tests.items()},
            "transpose": transposes,
            "transpose_summary": {t: transpose_summary(d) for t, d in transposes.items()},
            "shape": (layer.n_in, layer.n_out),
            "batch": X.shape[1],
        }
    return out


def randomize_biases(net, rng, scale=0.1):
    """Give every bias of ``net`` random values (normal * scale), so no test sits at b = 0."""
    for name, value in net.params.items():
        if name.endswith(".b"):
            value[...] = scale * rng.standard_normal(value.shape)


def network_gradient_tests(dataset, rng, depths=(1, 5, 20), archs=("standard", "resnet"),
                           width=16, batch=100, eps0=0.1, K=20):
    """The gradient test of softmax + L hidden layers (tanh) on one batch of ``dataset``, with
    respect to all parameters at once, for every depth and architecture:
    ``{arch: {depth: TestResult}}`` and ``{arch: {depth: number of parameters}}``."""
    X, C = data_batch(dataset, batch, rng)
    results, sizes = {}, {}
    for arch in archs:
        results[arch], sizes[arch] = {}, {}
        for depth in depths:
            net = make_network(arch, dataset.n_features, dataset.n_classes, depth=depth,
                               width=width, activation="tanh", seed=rng)
            randomize_biases(net, rng)
            results[arch][depth] = network_gradient_test(net, X, C, rng, eps0=eps0, K=K)
            sizes[arch][depth] = net.n_params
    return results, sizes


# Text

def _ratios(s):
    return (f"median ratios {s['median_ratio_first']:.2f} and {s['median_ratio_second']:.2f} "
            f"over the rows above round-off, fitted orders {s['order_first']:.2f} and "
            f"{s['order_second']:.2f}")


def jacobian_verdict(label, s):
    """One sentence on one Jacobian test, from :func:`jacobian_summary`."""
    if s["linear"]:
        numbers = (f"the first-order error has order {s['order_first']:.2f} (median ratio "
                   f"{s['median_ratio_first']:.2f}), and the second-order error is round-off "
                   f"from the first row: at most {s['max_second']:.1e}, "
                   f"{s['max_second_over_floor']:.2g} times the round-off level "
                   f"{s['floor']:.1e}, because the output is linear in this target")
        return f"**{label}** " + ("passes: " if s["passes"] else "fails: ") + numbers + "."
    if s["passes"]:
        return f"**{label}** passes: {_ratios(s)} ({s['clean_rows_second']} rows)."
    return (f"**{label}** fails: {_ratios(s)} ({s['clean_rows_second']} rows), where a correct "
            "Jacobian gives 2 and 4 over at least 7 rows.")


def jacobian_table(checks):
    """The Jacobian tests of :func:`layer_checks` as one markdown table."""
    rows = []
    for name, check in checks.items():
        for target, s in check["summary"].items():
            rows.append([name, tex(target), s["clean_rows_second"],
                         f"{s['median_ratio_first']:.3f}", f"{s['order_first']:.3f}",
                         f"{s['median_ratio_second']:.3f}" if s["clean_rows_second"] > 1
                         else "round-off",
                         f"{s['order_second']:.3f}" if s["clean_rows_second"] > 1
                         else "round-off",
                         "yes (linear)" if s["linear"] and s["passes"] else s["passes"]])
    return markdown_table(["data set", "Jacobian in", "rows above round-off",
                           "median ratio, first", "fitted order, first",
                           "median ratio, second", "fitted order, second", "passes"],
                          rows, align="llrrrrrl")


def value_range(values, spec=".3f"):
    """"a" when all values print alike, else "a to b" (smallest to largest)."""
    low, high = format(min(values), spec), format(max(values), spec)
    return low if low == high else f"{low} to {high}"


def jacobian_verdicts(checks):
    """The verdict on every Jacobian test of :func:`layer_checks`: the passing smooth tests in
    one sentence with the range of their numbers, each linear target in its own sentence, each
    failure named with its numbers, and a closing count."""
    items = [(f"Jacobian in {tex(target)}, {name}", s) for name, check in checks.items()
             for target, s in check["summary"].items()]
    smooth = [s for _, s in items if s["passes"] and not s["linear"]]
    paragraphs = []
    if smooth:
        paragraphs.append(
            f"The {len(smooth)} passing tests of arguments the output depends on nonlinearly "
            "halve the first-order error and quarter the second-order error: median ratios "
            f"{value_range([s['median_ratio_first'] for s in smooth], '.2f')} and "
            f"{value_range([s['median_ratio_second'] for s in smooth], '.2f')}, fitted orders "
            f"{value_range([s['order_first'] for s in smooth])} and "
            f"{value_range([s['order_second'] for s in smooth])}, over "
            f"{value_range([s['clean_rows_second'] for s in smooth], 'd')} rows above round-off.")
    others = [jacobian_verdict(label, s) for label, s in items
              if s["linear"] or not s["passes"]]
    if others:
        paragraphs.append(" ".join(others))
    failed = [label for label, s in items if not s["passes"]]
    paragraphs.append(f"{len(failed)} of {len(items)} Jacobian tests fail: {', '.join(failed)}."
                      if failed else f"All {len(items)} Jacobian tests pass.")
    return "\n\n".join(paragraphs)


def transpose_table(checks):
    """The transpose tests of :func:`layer_checks`: one row per data set and target, the
    relative error of every draw, the largest absolute error, and whether all pass."""
    draws = max(len(d["relative"]) for c in checks.values() for d in c["transpose"].values())
    rows = []
    for name, check in checks.items():
        for target, d in check["transpose"].items():
            s = check["transpose_summary"][target]
            rows.append([name, tex(target)] + [f"{e:.1e}" for e in d["relative"]]
                        + [f"{s['max_absolute']:.1e}", s["passes"]])
    return markdown_table(["data set", "with respect to"] + [f"draw {i + 1}" for i in range(draws)]
                          + ["largest absolute", "passes"], rows,
                          align="ll" + "r" * (draws + 1) + "l")


def transpose_verdict(checks, tol=TRANSPOSE_TOL):
    """One sentence: how many transpose tests were run, the largest relative error, the verdict."""
    relative = [e for c in checks.values() for d in c["transpose"].values() for e in d["relative"]]
    worst = max(relative)
    failed = sum(e >= tol for e in relative)
    eps = np.finfo(float).eps
    text = (f"Over {len(relative)} draws the largest relative error "
            f"$|u^\\top (J v) - v^\\top (J^\\top u)| / (\\|u\\| \\, \\|J v\\|)$ is {worst:.1e}, "
            f"{worst / eps:.2g} machine epsilons")
    if failed:
        return text + f": {failed} draws exceed {tol:g}, so forward and backward disagree."
    return (text + f", below the threshold {tol:g}: the backward pass is the transpose of the "
            "forward derivative to round-off.")


def network_summaries(results):
    """``{arch: {depth: summary}}`` from the results of :func:`network_gradient_tests`."""
    return {arch: {depth: jacobian_summary(r) for depth, r in by_depth.items()}
            for arch, by_depth in results.items()}


def network_summary_table(summaries, sizes):
    """The network gradient tests of every data set, ``{name: {arch: {depth: summary}}}`` with
    ``{name: {arch: {depth: n_params}}}``, as one markdown table."""
    rows = []
    for name, by_arch in summaries.items():
        for arch, by_depth in by_arch.items():
            for depth, s in by_depth.items():
                rows.append([name, arch, depth, sizes[name][arch][depth], s["clean_rows_second"],
                             f"{s['median_ratio_first']:.3f}", f"{s['median_ratio_second']:.3f}",
                             f"{s['order_first']:.3f}", f"{s['order_second']:.3f}", s["passes"]])
    return markdown_table(["data set", "architecture", "L", "parameters", "rows above round-off",
                           "median ratio, first", "median ratio, second", "fitted order, first",
                           "fitted order, second", "passes"], rows, align="llrrrrrrrl")


def network_verdict(summaries):
    """The count of passing network tests, the range of fitted orders, and the failures."""
    items = [(name, arch, depth, s) for name, by_arch in summaries.items()
             for arch, by_depth in by_arch.items() for depth, s in by_depth.items()]
    failed = [f"{arch} L={depth} on {name}" for name, arch, depth, s in items if not s["passes"]]
    first = [s["order_first"] for *_, s in items]
    second = [s["order_second"] for *_, s in items]
    rows = [s["clean_rows_second"] for *_, s in items]
    text = (f"Over the {len(items)} tests the fitted orders are {value_range(first)} (first) "
            f"and {value_range(second)} (second), over {value_range(rows, 'd')} rows above "
            "round-off.")
    if failed:
        return text + f" {len(failed)} of {len(items)} fail: {', '.join(failed)}."
    return text + f" All {len(items)} pass: the gradient of the whole network is correct."


# Figures

def jacobian_test_figure(results, linear=(), title=None):
    """The Jacobian tests of one layer on one data set: one column per target, as
    :func:`scratchnet.plots.gradient_test_figure` draws them (``linear`` targets have a
    second-order error at round-off from the first row, so no second-order ratio is drawn)."""
    return gradient_test_figure(results, title, kind="Jacobian", linear=linear, label=tex)


def network_test_figure(results, title=None):
    """The gradient tests of whole networks on one data set: one panel per architecture, the
    first-order (dashed) and second-order (solid) errors against k for every depth L, with
    slopes 1 and 2 for reference."""
    archs = list(results)
    fig, axes = plt.subplots(1, len(archs), figsize=(WIDTH, 3.0), squeeze=False, sharey=True)
    for ax, arch in zip(axes[0], archs):
        for i, (depth, result) in enumerate(results[arch].items()):
            k = np.arange(len(result.eps))
            ax.semilogy(k, np.maximum(result.first, TINY), "--", color=f"C{i}", lw=1.1)
            ax.semilogy(k, np.maximum(result.second, TINY), "-", marker="s", ms=2.5,
                        color=f"C{i}", lw=1.1, label=f"L = {depth}")
        floor = max(r.floor for r in results[arch].values())
        ax.axhline(floor, color="grey", ls=":", lw=1)
        ax.set_title(f"{arch}", fontsize=10)
        ax.set_xlabel(r"$k$  ($\epsilon = \epsilon_0\, 2^{-k}$)")
        ax.grid(True, alpha=0.3)
    axes[0, 0].set_ylabel("error")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    handles += [plt.Line2D([], [], color="black", ls="--", lw=1.1),
                plt.Line2D([], [], color="black", ls="-", lw=1.1),
                plt.Line2D([], [], color="grey", ls=":", lw=1)]
    labels += ["first order (dashed)", "second order (solid)", "round-off level"]
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0),
               ncol=min(len(labels), 6), fontsize=8, frameon=False)
    return fig
