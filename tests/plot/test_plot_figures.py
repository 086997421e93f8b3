"""Bifurcation-diagram figures: colour = active latents, style = stability, branch points once, log axis, labels.

Rendered with the Agg backend; the expectations come from the closed forms of a linear VAE with spectrum
(3, 2, 1) (thresholds sigma2 = xi_i^2, KL of a latent on direction i = 1/2 log(xi_i^2 / sigma2)), not from the
plotting code.
"""

import copy
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("matplotlib")

from plot_data import TOY, toy, wide

from statvae.errors import StatvaeError
from statvae.plot import (active_colors, active_count, describe_label, plot_diagram, plot_observables,
                          plot_track, stable_derivative)
from statvae.plot.figures import NOTATION, marked_points
from statvae.plot.style import pyplot, use_log


def label_count(label):
    """Active latents of a linear-VAE branch from its label alone: one per ``x<i>+z<j>`` term."""
    return 0 if label == "collapsed" else len(label.split(" + "))


def legends(ax):
    from matplotlib.legend import Legend

    return [c for c in ax.get_children() if isinstance(c, Legend)]


def branch_lines(ax):
    return [ln for ln in ax.get_lines() if (ln.get_gid() or "").startswith("branch ")]


@pytest.fixture(autouse=True)
def _close():
    yield
    pyplot().close("all")


def test_colour_is_the_number_of_active_latents_and_the_legend_says_so():
    d = toy()
    ax = plot_diagram(d)
    colours = active_colors(3)
    lines = branch_lines(ax)
    assert {int(ln.get_gid().split()[1]) for ln in lines} == set(d.branches)
    for ln in lines:
        b = d.branches[int(ln.get_gid().split()[1])]
        assert active_count(b) == label_count(b.label)
        assert np.allclose(ln.get_color(), colours[label_count(b.label)])
    count_legend = next(lg for lg in legends(ax) if lg.get_title().get_text() == "active latents")
    assert [t.get_text() for t in count_legend.get_texts()] == ["0", "1", "2", "3"]
    for h, k in zip(count_legend.legend_handles, range(4)):
        assert np.allclose(h.get_color(), colours[k])
    key = next(lg for lg in legends(ax) if lg is not count_legend)
    assert [t.get_text() for t in key.get_texts()] == ["stable", "unstable", "branch point", NOTATION]


def test_colormap_is_sequential():
    """Lightness grows with the count (viridis), so the order of counts reads off the colours."""
    for n in (1, 3, 8, 12):
        rgb = np.array(active_colors(n))[:, :3]
        lum = rgb @ [0.2126, 0.7152, 0.0722]
        assert np.all(np.diff(lum) > 0) and len({tuple(c) for c in rgb}) == n + 1
    with pytest.raises(StatvaeError):
        active_colors(-1)


def test_stable_parts_solid_unstable_parts_dashed():
    d = toy()
    ax = plot_diagram(d)
    for ln in branch_lines(ax):
        _, bid, kind = ln.get_gid().split()
        b = d.branches[int(bid)]
        x = ln.get_xdata()
        inside = (b.parameter > x.min() + 1e-12) & (b.parameter < x.max() - 1e-12)
        assert inside.any() or len(x) == 2
        assert np.all(b.stable[inside] == (kind == "stable"))
        assert (ln.get_linestyle() == "-") == (kind == "stable")
        assert (ln.get_linewidth() > 1.0) == (kind == "stable")


def test_branch_points_are_the_switching_points_each_once_at_the_closed_form_height():
    d = toy()
    ax = plot_diagram(d)
    dots = sorted((float(ln.get_xdata()[0]), float(ln.get_ydata()[0])) for ln in ax.get_lines()
                  if (ln.get_gid() or "").startswith("point "))
    kl = lambda s2, dirs: sum(0.5 * math.log(TOY[i] / s2) for i in dirs)
    expected = sorted([(1.0, 0.0), (2.0, 0.0), (3.0, 0.0), (2.0, kl(2.0, [0])), (1.0, kl(1.0, [0, 1]))])
    assert len(dots) == len(expected)
    for (x, y), (ex, ey) in zip(dots, expected):
        assert x == pytest.approx(ex, abs=1e-9) and y == pytest.approx(ey, abs=1e-6)


def test_point_modes_and_deduplication():
    d = toy()
    located = marked_points(d, points="located")
    assert len(located) >= len(marked_points(d)) > 0 and marked_points(d, points="none") == []
    with pytest.raises(StatvaeError, match="points must be one of"):
        marked_points(d, points="every")
    # a second record of the same point, and a symmetry copy of a branch with its own points: drawn once
    e = copy.deepcopy(d)
    s = copy.deepcopy(e.points[0])
    s.id = max(e.points) + 1
    e.points[s.id] = s
    b = copy.deepcopy(e.branches[1])
    b.id, b.duplicate_of = max(e.branches) + 1, 1
    e.branches[b.id] = b
    for p in [p for p in d.points.values() if p.branch == 1]:
        q = copy.deepcopy(p)
        q.id, q.branch = max(e.points) + 1, b.id
        e.points[q.id] = q
    assert [(p, y) for _, p, y in marked_points(e)] == [(p, y) for _, p, y in marked_points(d)]
    ax = plot_diagram(e)
    assert not any(ln.get_gid().startswith(f"branch {b.id} ") for ln in branch_lines(ax))


def test_many_branches_few_dots():
    """The wide diagram: fewer dots than located points, no two at one place, no labels (9 branches)."""
    d = wide()
    ax = plot_diagram(d)
    dots = [(ln.get_xdata()[0], ln.get_ydata()[0]) for ln in ax.get_lines() if (ln.get_gid() or "").startswith("point")]
    located = [s for s in d.points.values() if s.status != "detected"]
    assert 0 < len(dots) < len(located)
    assert len({(round(x, 9), round(y, 9)) for x, y in dots}) == len(dots)
    assert not [t for t in ax.texts if t.get_text() in {b.label for b in d.branches.values()}]
    ax = plot_diagram(d, labels=True)
    assert {t.get_text() for t in ax.texts} == {b.label for b in d.branches.values()}


def test_log_axis_when_asked_and_automatic_over_one_and_a_half_decades():
    assert plot_diagram(toy()).get_xscale() == "linear"               # 4 / 0.3: 1.1 decades
    assert plot_diagram(toy(), logx=True).get_xscale() == "log"
    assert plot_diagram(wide()).get_xscale() == "log"                 # 12 / 0.15: 1.9 decades
    assert plot_diagram(wide(), logx=False).get_xscale() == "linear"
    ax = plot_diagram(toy(), logx=True)
    assert ax.get_xlim() == pytest.approx((0.3, 4.0))
    fig = plot_track(wide())
    assert all(a.get_xscale() == "log" for a in fig.axes)
    fig = plot_track(wide(), logx=False)
    assert all(a.get_xscale() == "linear" for a in fig.axes)


@given(lo=st.floats(1e-6, 1e6), decades=st.floats(0.0, 4.0))
def test_use_log_threshold(lo, decades):
    hi = lo * 10 ** decades
    if abs(decades - 1.5) > 1e-9:
        assert use_log([lo, hi], None) == (decades > 1.5)
    assert use_log([lo, hi], True) and not use_log([lo, hi], False)


def test_log_axis_of_non_positive_values_is_an_error():
    with pytest.raises(StatvaeError, match="positive"):
        use_log([0.0, 1.0], True)
    assert use_log([0.0, 100.0], None) is False


def test_branch_labels_on_small_diagrams_explained_in_words():
    d = toy()
    ax = plot_diagram(d)
    assert {t.get_text() for t in ax.texts} == {b.label for b in d.branches.values()}
    assert describe_label("x1+z1") == "latent 1 on eigen-direction 1"
    assert describe_label("collapsed") == "collapsed (no active latent)"
    assert describe_label("y1+z1") == "symmetry class y1+z1"
    assert not [t for t in plot_diagram(d, labels=False).texts]


@given(st.lists(st.tuples(st.integers(1, 99), st.integers(1, 99)), min_size=1, max_size=6))
def test_describe_label_reads_every_term(terms):
    label = " + ".join(f"x{i}+z{j}" for i, j in terms)
    assert describe_label(label) == ", ".join(f"latent {j} on eigen-direction {i}" for i, j in terms)


def test_derivative_of_the_kl_matches_the_closed_form_and_jumps_at_each_threshold():
    """dKL/dsigma2 = -k / (2 sigma2) with k active latents; in log sigma2 exactly -k/2."""
    d = toy()
    pieces = stable_derivative(d)
    assert sorted(k for _, _, k in pieces) == [0, 1, 2, 3]
    for x, dk, k in pieces:
        np.testing.assert_allclose(dk, -k / (2 * x), rtol=5e-3, atol=1e-6)
    for x, dk, k in stable_derivative(d, log=True):
        np.testing.assert_allclose(dk, -k / 2, rtol=5e-3, atol=1e-6)
    # the pieces meet at the thresholds, where the derivative jumps by -1/(2 xi^2)
    ends = {k: (x[0], x[-1], dk[0], dk[-1]) for x, dk, k in pieces}
    for k, xi2 in ((1, 3.0), (2, 2.0), (3, 1.0)):
        assert ends[k][1] == pytest.approx(xi2, abs=1e-9) and ends[k - 1][0] == pytest.approx(xi2, abs=1e-9)
        assert ends[k][3] - ends[k - 1][2] == pytest.approx(-1 / (2 * xi2), rel=2e-3)


def test_observables_figure_has_the_derivative_panel():
    d = toy()
    axes = plot_observables(d)
    assert len(axes) == 4 and axes[-1].get_ylabel().startswith(r"$d\,\mathrm{KL}/d")
    assert "ln" not in axes[-1].get_ylabel()
    axes = plot_observables(d, logx=True)
    assert r"\ln" in axes[-1].get_ylabel()
    steps = [ln.get_ydata() for ln in axes[-1].get_lines() if ln.get_linestyle() == "-"]
    assert sorted(round(float(np.median(y)), 3) for y in steps) == [-1.5, -1.0, -0.5, 0.0]
    assert len(plot_observables(d, ("kl_total",), derivative=None)) == 1
    with pytest.raises(StatvaeError, match="axes: 3 needed"):
        plot_observables(d, ("elbo", "kl_total"), axes=[None])
    with pytest.raises(StatvaeError, match="no observable"):
        plot_observables(d, ("banana",))


def test_track_figure_legends():
    fig = plot_track(toy())
    texts = [[t.get_text() for t in lg.get_texts()] for lg in fig.legends]
    assert texts[0] == ["active latents:", "0", "1", "2", "3"]
    assert texts[1] == ["stable", "unstable", "branch point"]
    assert fig.legends[1].get_title().get_text() == NOTATION
    fig = plot_track(wide(), style="one-column")
    assert [t.get_text() for t in fig.legends[0].get_texts() if t.get_text()] == ["active latents:", "0", "1", "2",
                                                                                  "3"]
    assert fig.legends[1].get_title().get_text() == ""
