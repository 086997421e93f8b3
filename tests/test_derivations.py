"""The derivation scripts run and re-derive the paper's criterion."""

import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_seed_paper_derivation(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["seed_paper.py", "--out", str(tmp_path)])
    runpy.run_path(str(ROOT / "derivations" / "seed_paper.py"), run_name="__main__")
    md = (tmp_path / "seed_paper.md").read_text()
    assert r"\sigma'^{2} > \max_{i} \xi_{i}^{2}" in md
    assert r"\|w\|^{2} &= - \beta \sigma'^{2} + \xi_{1}^{2}" in md
    assert r"\beta_{c} &= \max_{i} \frac{N \xi_{i}^{2}}{\operatorname{tr}\Sigma}" in md
    assert (tmp_path / "seed_paper.tex").read_text().count("\\begin{align}") >= 8
