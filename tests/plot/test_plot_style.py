"""Publication styles (widths, 8-9 pt text), vector output with tight bounding boxes, matplotlib optional, CLI."""

import re
import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from plot_data import phase, toy, wide

from statvae.cli.main import main
from statvae.errors import StatvaeError
from statvae.plot import (STYLES, plot_diagram, plot_observables, plot_phase_diagram, plot_track,
                          save_figure)
from statvae.plot.style import pyplot


@pytest.fixture(autouse=True)
def _close():
    yield
    pyplot().close("all")


def figures(style):
    yield plot_track(toy(), style=style)
    yield plot_track(wide(), style=style)
    yield plot_diagram(wide(), style=style).figure
    yield plot_observables(toy(), style=style)[0].figure
    yield plot_phase_diagram(phase(), style=style).figure


@pytest.mark.parametrize("style", ["one-column", "two-column"])
def test_widths_and_font_sizes(style):
    assert STYLES == {"one-column": 3.4, "two-column": 7.0}
    for fig in figures(style):
        assert fig.get_size_inches()[0] == pytest.approx(STYLES[style])
        fig.canvas.draw()
        sizes = {t.get_fontsize() for t in fig.findobj(lambda a: hasattr(a, "get_fontsize") and
                                                       hasattr(a, "get_text") and a.get_text())}
        assert sizes and min(sizes) >= 8.0 and max(sizes) <= 9.0, sizes


def pdf_box(data):
    m = re.search(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", data)
    return float(m[1]), float(m[2])


@pytest.mark.parametrize("style", ["one-column", "two-column"])
def test_vector_output_with_a_tight_box(style, tmp_path):
    pdf, svg, png = tmp_path / "f.pdf", tmp_path / "f.svg", tmp_path / "f.png"
    save_figure(plot_track(toy(), style=style), pdf)
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and b"/Subtype /Image" not in data
    assert b"/FontFile2" in data and b"/Type3" not in data  # TrueType fonts, embedded
    w, h = pdf_box(data)
    width = STYLES[style] * 72
    assert 0.85 * width < w <= width + 3  # cropped to the drawing, not wider than the column
    save_figure(plot_track(toy(), style=style), svg)
    text = svg.read_text()
    assert "<image" not in text and "<path" in text
    save_figure(plot_track(toy(), style=style), png)
    from matplotlib.image import imread

    assert imread(png).shape[1] == pytest.approx(STYLES[style] * 300, rel=0.15)


def test_unknown_style_and_suffix():
    with pytest.raises(StatvaeError, match="style must be one of"):
        plot_track(toy(), style="three-column")
    with pytest.raises(StatvaeError, match=r"\.png, \.pdf or \.svg"):
        save_figure(plot_diagram(toy()), "f.gif")


def test_no_style_keeps_the_screen_size():
    fig = plot_track(toy(), style=None)
    assert fig.get_size_inches()[0] == pytest.approx(12.0)
    assert plot_diagram(toy()).figure.get_size_inches()[0] == pytest.approx(7.0)


def test_without_matplotlib_one_clear_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(StatvaeError, match=r"pip install 'statvae\[plot\]'"):
        pyplot()
    with pytest.raises(StatvaeError, match="matplotlib"):
        plot_track(toy())
    toy().save(tmp_path / "d.json")
    code = main(["plot", str(tmp_path / "d.json"), "--out", str(tmp_path / "f.png")])
    err = capsys.readouterr().err
    assert code == 2 and "statvae[plot]" in err and err.count("\n") == 1
    assert not (tmp_path / "f.png").exists()


# -- the command line -------------------------------------------------------------------------------------------------
def test_cli_style_and_logx(tmp_path, capsys):
    toy().save(tmp_path / "d.json")
    phase().save(tmp_path / "p.json")
    out = tmp_path / "one.svg"
    assert main(["plot", str(tmp_path / "d.json"), "--out", str(out), "--style", "one-column", "--logx"]) == 0
    m = re.search(r'<svg[^>]*width="([\d.]+)pt"', out.read_text())
    assert 0.85 * 3.4 * 72 < float(m[1]) <= 3.4 * 72 + 3
    assert main(["plot", str(tmp_path / "d.json"), "--out", str(tmp_path / "two.pdf"), "--no-logx"]) == 0
    w, _ = pdf_box((tmp_path / "two.pdf").read_bytes())
    assert 0.85 * 7 * 72 < w <= 7 * 72 + 3
    assert main(["plot", str(tmp_path / "p.json"), "--out", str(tmp_path / "p.png"), "--style", "one-column"]) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        main(["plot", str(tmp_path / "d.json"), "--out", str(tmp_path / "x.png"), "--style", "wide"])
    assert e.value.code == 2 and "--style" in capsys.readouterr().err


def test_cli_logx_is_passed_through(tmp_path, monkeypatch):
    seen = {}
    import statvae.plot

    real = statvae.plot.plot_track

    def spy(diagram, observable="kl_total", **kw):
        seen.update(kw)
        return real(diagram, observable, **kw)

    monkeypatch.setattr(statvae.plot, "plot_track", spy)
    toy().save(tmp_path / "d.json")
    for flag, want in ((["--logx"], True), (["--no-logx"], False), ([], None)):
        assert main(["plot", str(tmp_path / "d.json"), "--out", str(tmp_path / "f.png"), *flag]) == 0
        assert seen["logx"] is want and seen["style"] == "two-column"


def test_cli_logx_of_a_range_through_zero_fails_before_work(tmp_path, capsys):
    code = main(["phase-diagram", "--spectrum", "3,2,1", "--latent-dim", "2", "--range", "6:0.5", "--along",
                 "weight_decay_dec", "--along-range", "0:1", "--logx", "--plot", str(tmp_path / "p.png")])
    err = capsys.readouterr().err
    assert code == 2 and "--logx needs a positive range" in err and err.count("\n") == 1
    assert not (tmp_path / "p.png").exists()


def test_cli_track_plot_end_to_end(tmp_path, capsys):
    fig = tmp_path / "t.png"
    code = main(["track", "--spectrum", "3,2,1", "--latent-dim", "2", "--range", "4:0.3", "--quiet", "--plot", str(fig),
                 "--style", "one-column"])
    assert code == 0, capsys.readouterr().err
    from matplotlib.image import imread

    img = imread(fig)
    assert img.shape[1] == pytest.approx(3.4 * 300, rel=0.15) and img.shape[0] > img.shape[1]
    assert np.asarray(img).std() > 0.05  # something was drawn


def test_cli_logy_for_phase_diagrams_only(tmp_path, capsys, monkeypatch):
    seen = {}
    import statvae.plot

    real = statvae.plot.plot_phase_diagram

    def spy(ph, **kw):
        seen.update(kw)
        return real(ph, **kw)

    monkeypatch.setattr(statvae.plot, "plot_phase_diagram", spy)
    phase().save(tmp_path / "p.json")
    toy().save(tmp_path / "d.json")
    assert main(["plot", str(tmp_path / "p.json"), "--out", str(tmp_path / "p.png"), "--logy"]) == 0
    assert seen == {"logx": None, "logy": True, "style": "two-column"}
    capsys.readouterr()
    code = main(["plot", str(tmp_path / "d.json"), "--out", str(tmp_path / "d.png"), "--logy"])
    err = capsys.readouterr().err
    assert code == 2 and "--logy is for phase diagrams" in err and err.count("\n") == 1
    code = main(["phase-diagram", "--spectrum", "3,2,1", "--range", "6:0.5", "--along", "beta", "--along-range",
                 "0.5:2", "--logy", "--plot", str(tmp_path / "q.png"), "--steps", "3"])
    assert code == 0 and seen["logy"] is True
