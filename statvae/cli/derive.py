"""``statvae derive``: symbolic results for a model, as text, LaTeX or JSON."""

from __future__ import annotations

import json


from ..errors import StatvaeError
from ..latex import block_latex, expr_latex, latex
from ..model import hyper as H
from .options import build_model, check_solve_for
from .render import text, text_name

__all__ = ["run_derive", "derivation"]


def derivation(model, solve_for: str | None = None, explicit: bool = False) -> dict:
    """All symbolic results of ``model`` as sympy objects (shared by every output format)."""
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
        name = solve_for or analysis.default_parameter()
        out["critical_parameter"] = name
        out["critical"] = analysis.critical_expression(name)
    except StatvaeError as exc:
        if solve_for:
            raise
        out["critical_error"] = str(exc)
    if explicit:
        out["explicit_objective"] = model.objective(form="eigen")
    return out


def run_derive(args) -> int:
    from ..validate import check_explicit_size

    model = build_model(args, None)
    check_solve_for(model, args.solve_for)
    if args.explicit:
        check_explicit_size(model)
    d = derivation(model, args.solve_for, args.explicit)
    if args.format == "latex":
        print(_as_latex(d))
    elif args.format == "json":
        print(json.dumps(_as_json(d), indent=1))
    else:
        print(_as_text(d))
    return 0


def _pname(name):
    return H.spec(name).latex


def _as_latex(d) -> str:
    lines = [r"% statvae derive: " + repr(d["model"]), latex(d["objective"], align=True)]
    body = [f"{block_latex(k)} &= {expr_latex(v)}" for k, v in d["collapsed_point"].items()]
    for b in d["blocks"]:
        body.append(rf"H_{{({', '.join(b.labels)})}} &= {expr_latex(b.matrix)} "
                    rf"\quad \text{{({expr_latex(b.multiplicity)} copies)}}")
    body.append(r"\text{collapse stable} &\iff " + expr_latex(d["condition"]))
    if d["critical"] is not None:
        body.append(rf"{_pname(d['critical_parameter'])}_{{c}} &= {expr_latex(d['critical'])}")
    lines.append("\\begin{align}\n" + " \\\\\n".join(body) + "\n\\end{align}")
    if "explicit_objective" in d:
        lines.append(latex(d["explicit_objective"], align=True))
    return "\n".join(lines)


def _as_text(d) -> str:
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


def _as_json(d) -> dict:
    m = d["model"]
    res = {
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
