"""``statvae derive``: symbolic results for a model, as text, LaTeX or JSON."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from ..errors import StatvaeError
from ..latex import block_latex, expr_latex
from ..model import hyper as H
from .options import build_model, check_parameter
from .render import text, text_name

if TYPE_CHECKING:
    from ..api import VAEModel

__all__ = ["run_derive", "derivation"]


def derivation(model: VAEModel, parameter: str | None = None, explicit: bool = False, *,
               solve_for: str | None = None) -> dict[str, Any]:
    """All symbolic results of ``model`` as sympy objects (shared by every output format).

    Parameters
    ----------
    model : VAEModel
        The model.
    parameter : str, optional
        The hyper-parameter of the critical expression (default: the
        model's default parameter; if it has none the critical expression
        is left out and ``critical_error`` says why).
    explicit : bool, optional
        Also the explicit-entry objective (eigenbasis) for the model's sizes.
    solve_for : str, optional
        The old name of ``parameter``.

    Returns
    -------
    dict
        ``model``, ``objective``, ``analysis``, ``collapsed_point``,
        ``blocks``, ``condition``, ``critical``, ``critical_parameter`` and,
        as they apply, ``critical_error`` and ``explicit_objective``.

    Raises
    ------
    StatvaeError
        If the critical expression for an explicitly named ``parameter``
        cannot be derived.
    """
    parameter = parameter if parameter is not None else solve_for
    analysis = model.collapse()
    out = {
        "model": model,
        "objective": model.objective(form="matrix"),
        "analysis": analysis,
        "collapsed_point": analysis.collapsed_point,
        "blocks": analysis.blocks,
        "condition": analysis.criterion,
        "critical": None,
        "critical_parameter": None,
    }
    try:
        name = parameter or analysis.default_parameter()
        out["critical_parameter"] = name
        # solved for the parameter asked for, every other hyper-parameter at its value (as `critical`)
        free = model.with_values(**{name: None}) if model.values[name].is_number else model
        out["critical"] = (free.collapse() if free is not model else analysis).critical_expression(name)
    except StatvaeError as exc:
        if parameter:
            raise
        out["critical_error"] = str(exc)
    if explicit:
        out["explicit_objective"] = model.objective(form="eigen")
    return out


def run_derive(args: argparse.Namespace) -> int:
    """``statvae derive``: print the symbolic results of the model the options describe.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed options (model options, ``--parameter``, ``--format``, ``--explicit``).

    Returns
    -------
    int
        The exit status, 0.

    Raises
    ------
    StatvaeError
        For a bad option, a model too large for ``--explicit``, or a
        critical expression that cannot be derived.
    """
    from ..validate import check_explicit_size

    model = build_model(args, None)
    check_parameter(model, args.parameter, args.parameter_flag)
    if args.explicit:
        check_explicit_size(model)
    standalone = getattr(args, "standalone", False)
    width = getattr(args, "width", None)
    if (standalone or width is not None) and args.format != "latex":
        raise StatvaeError("--standalone and --width need --format latex")
    if width is not None and not (width > 50):
        raise StatvaeError(f"--width must be a number of points above 50, got {width}")
    if standalone:
        from ..latex import TEXTWIDTH, document

        if args.explicit:
            raise StatvaeError("--explicit is not part of the standalone document; drop one of them")
        print(document(model, args.parameter, width=width or TEXTWIDTH))
        return 0
    d = derivation(model, args.parameter, args.explicit)
    if args.format == "latex":
        print(_as_latex(d, width))
    elif args.format == "json":
        print(json.dumps(_as_json(d), indent=1))
    else:
        print(_as_text(d))
    return 0


def _pname(name: str) -> str:
    return H.spec(name).latex


def _as_latex(d: dict[str, Any], width: float | None = None) -> str:
    """Displays for a paper (amsmath): each formula fits ``width`` points, broken over lines where needed."""
    from ..latex import TEXTWIDTH, display_items, display_latex, solved_condition, symmetric_matrices
    from ..symbolic.printing import critical_latex

    width = width or TEXTWIDTH
    model = d["model"]
    sym = symmetric_matrices(model)
    lines = [r"% statvae derive: " + repr(model), r"% needs \usepackage{amsmath,amssymb}; "
             r"'statvae derive --format latex --standalone' writes a whole document",
             display_latex(r"\mathcal{L}", d["objective"].total, width=width, symmetric=sym)]
    lines.append(display_items([f"{block_latex(k)} = {expr_latex(v)}" for k, v in d["collapsed_point"].items()],
                               width))
    for b in d["blocks"]:
        lines.append(display_latex(rf"H_{{({', '.join(b.labels)})}}", b.matrix, width=width,
                                   note=f"(${expr_latex(b.multiplicity)}$ copies)"))
    condition = d["condition"]
    if d["critical"] is not None:
        try:
            condition = solved_condition(d["analysis"], d["critical_parameter"])
        except StatvaeError:
            condition = d["condition"]
    lines.append(display_latex(r"\text{collapse stable}", condition, relation=r"\iff", width=width))
    if d["critical"] is not None:
        lines.append(display_latex(critical_latex(d["critical_parameter"]), d["critical"], width=width))
    if "explicit_objective" in d:
        lines.append(display_latex(r"\mathcal{L}", d["explicit_objective"].total, width=width))
    return "\n".join(lines)


def _as_text(d: dict[str, Any]) -> str:
    m = d["model"]
    out = [f"model: {m.kind} VAE; hyper-parameters: " + ", ".join(f"{k}={text(v)}" for k, v in m.values.items()),
           "", "objective (symbolic sizes):", "  L = " + text(d["objective"].total), "", "collapsed point:"]
    out += [f"  {k} = {text(v)}" for k, v in d["collapsed_point"].items()]
    out += ["", "Hessian at the collapsed point: independent blocks"]
    for b in d["blocks"]:
        out.append(f"  ({', '.join(text_name(l) for l in b.labels)}) x {text(b.multiplicity)}:")
        out.append(f"    H   = {text(b.matrix)}")
        out.append(f"    det = {text(b.determinant)}")
    out += ["", "collapse is a local maximum iff:", "  " + text(d["condition"])]
    if d["critical"] is not None:
        out += ["", f"critical {text_name(_pname(d['critical_parameter']))}:", "  " + text(d["critical"])]
    elif "critical_error" in d:
        out += ["", f"critical value: {d['critical_error']}"]
    if "explicit_objective" in d:
        out += ["", "explicit-entry objective (eigenbasis):", "  L = " + text(d["explicit_objective"].total)]
    return "\n".join(out)


def _as_json(d: dict[str, Any]) -> dict[str, Any]:
    m = d["model"]
    res: dict[str, Any] = {
        "model": {"kind": m.kind, "dims": m.dims, "hyper": {k: str(v) for k, v in m.values.items()}},
        "objective": {"latex": expr_latex(d["objective"].total), "text": text(d["objective"].total),
                      "terms": {k: expr_latex(v) for k, v in d["objective"].terms.items()}},
        "collapsed_point": {k: expr_latex(v) for k, v in d["collapsed_point"].items()},
        "blocks": [
            {"parameters": b.labels, "matrix_latex": expr_latex(b.matrix), "multiplicity": expr_latex(b.multiplicity),
             "determinant_latex": expr_latex(b.determinant), "touches_latent": b.touches_latent,
             "degenerate": b.condition.degenerate}
            for b in d["blocks"]
        ],
        "condition": {"latex": expr_latex(d["condition"]), "text": text(d["condition"])},
    }
    if d["critical"] is not None:
        res["critical"] = {"parameter": d["critical_parameter"], "latex": expr_latex(d["critical"]),
                           "text": text(d["critical"])}
    if "explicit_objective" in d:
        res["explicit_objective"] = {"latex": expr_latex(d["explicit_objective"].total)}
    return res
