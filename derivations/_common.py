"""The record every derivation script returns, and the writers that turn it into a LaTeX fragment and a page.

A derivation script ``derivations/<key>.py`` defines ``derive() -> Derivation``: it derives the published
result with statvae's public API (no formula of the result typed in) and checks it against the published form
(the published form may be typed in *as the reference of a check*, never as the result).  Its ``__main__``
calls :func:`main`, which runs the derivation, fails (exit 1) if a check fails, and writes
``out/<key>.tex`` (a fragment: one ``\\section`` for the whole document) and ``out/<key>.md`` (the docs page).

Text may refer to a formula by ``[[label]]``: the LaTeX writer prints ``\\eqref{label}``, the Markdown
writer ``(label-number)``.  Only formulas that are referred to are numbered.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "out"


@dataclass
class Formula:
    """One displayed relation ``lhs relation rhs``.

    ``rhs`` is a sympy object (printed by statvae's LaTeX printer) or a LaTeX string.  ``label`` is set only if
    some text refers to the formula with ``[[label]]``; only those are numbered.  ``parameter`` names the
    hyper-parameter a condition should be solved for when printed (e.g. ``"sigma2"``).
    """

    lhs: str
    rhs: Any
    relation: str = "="
    label: str | None = None
    note: str = ""
    parameter: str | None = None


@dataclass
class Check:
    """A comparison of the derived result with the published form (or an independent computation)."""

    claim: str
    passed: bool
    detail: str


@dataclass
class Section:
    """A subsection: prose, then formulas, then more prose."""

    title: str
    text: str = ""
    formulas: list[Formula] = field(default_factory=list)
    after: str = ""


@dataclass
class Derivation:
    """Everything one script derives, in document order.

    ``symbols`` maps a LaTeX symbol to its meaning in words, for the document's table of symbols (the same
    symbol must mean the same thing in every derivation: see derivations/NOTATION.md).
    """

    key: str
    title: str
    reference: str
    summary: str
    sections: list[Section]
    checks: list[Check]
    symbols: dict[str, str] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)


def check(claim: str, passed: bool, detail: str = "") -> Check:
    """Build a :class:`Check`, coercing numpy booleans."""
    return Check(claim, bool(passed), detail)


# -- writers (the LaTeX side is refined by the document builder; keep the signatures) -----------------------------
def _rhs_latex(f: Formula) -> str:
    if isinstance(f.rhs, str):
        return f.rhs
    from statvae.latex import expr_latex

    return expr_latex(f.rhs)


def render_tex(d: Derivation) -> str:
    """The LaTeX fragment of ``d``: one ``\\section``, its subsections, prose and displayed formulas."""
    import re

    def prose(s: str) -> str:
        return re.sub(r"\[\[([^\]]+)\]\]", r"\\eqref{\1}", s)

    out = [f"\\section{{{d.title}}}\\label{{sec:{d.key}}}", "", prose(d.summary), "",
           f"\\emph{{Reference:}} {d.reference}.", ""]
    for s in d.sections:
        out += [f"\\subsection{{{s.title}}}", ""]
        if s.text:
            out += [prose(s.text), ""]
        for f in s.formulas:
            body = f"{f.lhs} {f.relation} {_rhs_latex(f)}" + (f"\\quad\\text{{{f.note}}}" if f.note else "")
            if f.label:
                out += ["\\begin{equation}", f"\\label{{{f.label}}}", body, "\\end{equation}"]
            else:
                out += ["\\[", body, "\\]"]
        if s.after:
            out += ["", prose(s.after)]
        out.append("")
    out += ["\\paragraph{Checks.}", "\\begin{itemize}"]
    out += [f"\\item {'passed' if c.passed else 'FAILED'}: {c.claim}" + (f" ({c.detail})" if c.detail else "")
            for c in d.checks]
    out += ["\\end{itemize}", ""]
    return "\n".join(out)


def render_md(d: Derivation) -> str:
    """The Markdown page of ``d`` (MyST: ``$$`` display math), with its checks."""
    import re

    numbers: dict[str, int] = {}
    for s in d.sections:
        for f in s.formulas:
            if f.label:
                numbers[f.label] = len(numbers) + 1

    def prose(s: str) -> str:
        return re.sub(r"\[\[([^\]]+)\]\]", lambda m: f"({numbers.get(m.group(1), '?')})", s)

    out = [f"# {d.title}", "", prose(d.summary), "", f"*Reference:* {d.reference}.", ""]
    for s in d.sections:
        out += [f"## {s.title}", ""]
        if s.text:
            out += [prose(s.text), ""]
        for f in s.formulas:
            tag = f" \\tag{{{numbers[f.label]}}}" if f.label else ""
            note = f"\\quad\\text{{{f.note}}}" if f.note else ""
            out += ["$$", f"{f.lhs} {f.relation} {_rhs_latex(f)}{note}{tag}", "$$", ""]
        if s.after:
            out += [prose(s.after), ""]
    out += ["## Checks", ""]
    out += [f"- {'passed' if c.passed else '**FAILED**'}: {c.claim}" + (f" ({c.detail})" if c.detail else "")
            for c in d.checks]
    out.append("")
    return "\n".join(out)


def write(d: Derivation, out: Path = OUT) -> list[Path]:
    """Write ``out/<key>.tex`` and ``out/<key>.md``; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{d.key}.tex", out / f"{d.key}.md"]
    paths[0].write_text(render_tex(d))
    paths[1].write_text(render_md(d))
    return paths


def main(derive: Callable[[], Derivation], argv: list[str] | None = None) -> int:
    """Command line of one script: derive, report every check, write the outputs; exit 1 if a check fails."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(OUT), help="output directory (default: derivations/out)")
    args = ap.parse_args(argv)
    d = derive()
    for c in d.checks:
        print(f"{'ok  ' if c.passed else 'FAIL'} {c.claim}" + (f": {c.detail}" if c.detail else ""))
    if not d.passed:
        print(f"{d.key}: a check failed; nothing written", file=sys.stderr)
        return 1
    for p in write(d, Path(args.out)):
        print(f"wrote {p}")
    return 0
