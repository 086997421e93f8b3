"""Phase-diagram figures: regions shaded over the whole plotted range, each labelled with its active latents.

The expected count at (beta, sigma2) is the closed form for a linear VAE: the number of eigenvalues with
xi_i^2 / beta > sigma2 (a latent is on for each direction above the threshold), at most the latent count.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("matplotlib")

from plot_data import TOY, phase

from statvae.bifurcation import PhaseDiagram
from statvae.errors import StatvaeError
from statvae.plot import active_colors, plot_phase_diagram
from statvae.plot.figures import _tint, phase_regions
from statvae.plot.style import pyplot


@pytest.fixture(autouse=True)
def _close():
    yield
    pyplot().close("all")


def region_collections(ax):
    out = []
    for c in ax.collections:
        lab = c.get_label()
        if lab.startswith("_region"):
            out.append((int(lab.rsplit(":", 1)[1]), c))
    return out


def closed_form_count(beta, sigma2, latents=3):
    return min(latents, sum(xi2 / beta > sigma2 for xi2 in TOY))


def test_regions_cover_the_axes_and_carry_the_closed_form_count():
    ax = plot_phase_diagram(phase())
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    regions = region_collections(ax)
    assert sorted({c for c, _ in regions}) == [0, 1, 2, 3]
    colours = active_colors(3)
    for c, coll in regions:
        assert np.allclose(coll.get_facecolor()[0], _tint(colours[c]))
    # the shaded patches reach every edge of the axes
    verts = np.vstack([p.vertices for _, coll in regions for p in coll.get_paths()])
    assert verts[:, 0].min() == pytest.approx(x0, abs=1e-12) and verts[:, 0].max() == pytest.approx(x1, abs=1e-12)
    assert verts[:, 1].min() == pytest.approx(y0, abs=1e-12) and verts[:, 1].max() == pytest.approx(y1, abs=1e-12)
    # every point of the axes lies in exactly one region, the one of its closed-form count (away from the loci)
    checked = 0
    for b in np.linspace(x0, x1, 41)[1:-1]:
        for s in np.linspace(y0, y1, 41)[1:-1]:
            if any(abs(s - xi2 / b) < 0.05 * xi2 / b for xi2 in TOY):
                continue
            inside = [c for c, coll in regions for p in coll.get_paths() if p.contains_point((b, s))]
            assert inside == [closed_form_count(b, s)], (b, s, inside)
            checked += 1
    assert checked > 1000


def label_count(text):
    """The count a region label states: "collapse stable\n0 active", "2 active", "≥ 2 active", or a bare "2"."""
    words = text.replace("collapse stable\n", "").replace("≥", "").replace("active", "").split()
    return int(words[0]), text.startswith("≥")


def test_regions_are_labelled_by_active_latents():
    for kw in ({}, {"style": "one-column"}, {"style": "two-column"}, {"logy": True}):
        ax = plot_phase_diagram(phase(), **kw)
        assert sorted(label_count(t.get_text())[0] for t in ax.texts) == [0, 1, 2, 3]
        for t in ax.texts:  # each label sits in its own region, away from the loci
            b, s = t.get_position()
            assert closed_form_count(b, s) == label_count(t.get_text())[0]
            assert all(abs(s - xi2 / b) > 0.02 * xi2 / b for xi2 in TOY)
    # with a log axis the bands are wide enough for the words
    ax = plot_phase_diagram(phase(), logy=True, style="one-column")
    assert {t.get_text() for t in ax.texts} == {"collapse stable\n0 active", "1 active", "2 active", "3 active"}
    # two loci followed of three latents: below the second, two or more latents are on
    ax = plot_phase_diagram(phase(loci=2, steps=6), logy=True)
    assert {t.get_text() for t in ax.texts} == {"collapse stable\n0 active", "1 active", "≥ 2 active"}
    ax = plot_phase_diagram(phase(loci=2, steps=6), latents=2, logy=True)
    assert "2 active" in {t.get_text() for t in ax.texts}


def test_legend_and_axes():
    ax = plot_phase_diagram(phase())
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["collapse boundary", "later branch points"]
    assert ax.get_xscale() == ax.get_yscale() == "linear"
    ax = plot_phase_diagram(phase(), logx=True, logy=True)
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert ax.get_xlim() == pytest.approx((0.5, 3.0))
    verts = np.vstack([p.vertices for _, coll in region_collections(ax) for p in coll.get_paths()])
    y0, y1 = ax.get_ylim()
    assert verts[:, 1].min() == pytest.approx(y0) and verts[:, 1].max() == pytest.approx(y1)
    with pytest.raises(StatvaeError, match="no locus"):
        plot_phase_diagram(PhaseDiagram("sigma2", "beta"))


@given(st.lists(st.floats(0.1, 10.0), min_size=1, max_size=4), st.floats(0.5, 3.0))
def test_region_bounds_are_ordered_and_counts_grow_downwards(tops, beta):
    """Any loci (crossing or not): regions stack without gaps from +inf down to -inf, counts rising."""
    loci = [{"along": np.array([0.5, 3.0]), "parameter": np.array([t, t * (1 + k) / 2]), "kernel_dim": 3,
             "label": f"l{k}"} for k, t in enumerate(tops)]
    ph = PhaseDiagram("sigma2", "beta", loci=loci, meta={"model": "<linear VAE: x=5, z=3; sigma2=sigma2>"})
    regions = phase_regions(ph, np.array([beta]))
    assert regions[0][1][0] == np.inf and regions[-1][0][0] == -np.inf
    for (lo, _, c, _), (_, hi, c2, _) in zip(regions, regions[1:]):
        assert lo[0] == hi[0] and c2[0] >= c[0]
    assert [int(r[2][0]) for r in regions] == [min(k, 3) for k in range(len(tops) + 1)]
