"""The warm path of ``statvae critical``: the answer from a collapse plan, without sympy or networkx.

:func:`answer_from_plan` computes the plan's key from the command line alone
(the model options as given, the parameter, the data's dimension; no model is
built), reads the plan (:mod:`statvae.collapse_plan`) and answers from it,
self-check included.  It declines (returns False) whenever the plan cannot
give exactly the answer the full path would: no plan or a damaged one, data
other than ``--spectrum``, ``--debug``, a data structure forced by
``STATVAE_DATA_STRUCTURE``, ``STATVAE_NO_PLAN`` set, bad input (whose one-line
error the full path words), an answer that is not one confirmed boundary, or
anything else unexpected.  The full path then runs and, after a success on a
specification the plan covers, writes the plan (:func:`write_plan`), but only
if the plan reproduces that very answer.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import warnings
from typing import TYPE_CHECKING, Any

from ..errors import StatvaeError
from .names import text_name
from .options import _floats

if TYPE_CHECKING:
    from ..api import VAEModel

__all__ = ["plan_spec", "answer_from_plan", "write_plan", "render_critical", "STATIC_FIELDS"]

#: The options that describe the model (their values as given are part of the plan's key).
MODEL_OPTIONS = ("model", "data_dim", "latent_dim", "x_dim", "beta", "sigma2", "decoder_variance", "encoder",
                 "weight_decay_enc", "weight_decay_dec", "prior_variance", "tau2")

#: Fields of the answer that do not depend on the data (held by the plan).
STATIC_FIELDS = ("parameter", "condition_latex", "condition_text", "condition_applies", "governing", "assumptions",
                 "model", "dims", "data", "notes", "source", "pname", "reason")

#: Default of ``--synthetic-spectrum`` (checked by the full path whatever the data source).
_SYNTHETIC_DEFAULT = "4,2,1,0.5"

#: How many answers the warm path gave in this process (for tests).
ANSWERED = [0]


def plan_spec(args: argparse.Namespace, n_values: int) -> tuple[Any, ...] | None:
    """What the answer of ``statvae critical`` depends on besides the spectrum, or None if no plan covers it.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed options of ``statvae critical``.
    n_values : int
        Number of values of ``--spectrum``.

    Returns
    -------
    tuple or None
        The model options as given (a ``--model-file`` by its name and the
        SHA-256 of its bytes), ``--set`` in order, the parameter and
        ``n_values``; None for data other than ``--spectrum``, the data
        options (``--standardize``, ``--no-center``) or ``--bootstrap``,
        synthetic-data options other than their defaults (the full path checks them), a
        model file that cannot be read, or a data structure forced by
        ``STATVAE_DATA_STRUCTURE``.
    """
    if getattr(args, "spectrum", None) is None:
        return None
    if getattr(args, "standardize", False) or not getattr(args, "center", True) or getattr(args, "bootstrap", None):
        return None  # data options and the bootstrap: the full path answers (or words their one-line error)
    if any(getattr(args, k, None) is not None for k in ("covariance", "samples", "data", "dataset")):
        return None
    if args.synthetic_spectrum != _SYNTHETIC_DEFAULT or args.synthetic_samples < 2 or args.seed < 0:
        return None
    if os.environ.get("STATVAE_DATA_STRUCTURE") not in (None, "", "diagonal"):
        return None
    model_file = None
    if getattr(args, "model_file", None):
        try:
            with open(args.model_file, "rb") as fh:
                model_file = (args.model_file, hashlib.sha256(fh.read()).hexdigest())
        except OSError:
            return None
    options = tuple((k, getattr(args, k, None)) for k in MODEL_OPTIONS)
    return ("critical", options, tuple(getattr(args, "set", None) or ()), model_file, args.parameter, n_values)


def render_critical(record: dict[str, Any], as_json: bool) -> str:
    """The output of ``statvae critical`` from its answer (the same for the full and the warm path).

    Parameters
    ----------
    record : dict
        The answer: :data:`STATIC_FIELDS` and ``critical``, ``stable_side``,
        ``block``, ``mode``, ``method``, ``bracket``, ``status``, ``spectra``.
    as_json : bool
        One JSON object (``--json``) instead of text.

    Returns
    -------
    str
        What is printed (no final newline).
    """
    spectra = record["spectra"]
    governing = record["governing"]
    if as_json:
        out: dict[str, Any] = {
            "parameter": record["parameter"],
            "critical": record["critical"],
            "condition_latex": record["condition_latex"],
            "condition_text": record["condition_text"],
            "condition_applies": record["condition_applies"],
            "spectrum": spectra[governing[0]],
            "stable_side": record["stable_side"],
            "block": record["block"],
            "mode": record["mode"],
            "method": record["method"],
            "bracket": record["bracket"],
            "assumptions": record["assumptions"],
            "status": record["status"],
            "model": record["model"],
            "data": record["data"],
            "notes": record["notes"],
        }
        if len(spectra) > 1:
            out["spectra"] = spectra
        if record.get("reason") is not None:
            out["reason"] = record["reason"]
        for key in ("preprocessing", "bootstrap"):  # the full path only (samples; see cli/main.py)
            if record.get(key) is not None:
                out[key] = record[key]
        return json.dumps(out)
    lines = [f"model:     {record['model']} VAE ({', '.join(f'{k}={v}' for k, v in record['dims'])})"
             f"{record['source']}",
             f"data:      {record['data']}"]
    for k, g in enumerate(governing):
        top = ", ".join(f"{v:.6g}" for v in spectra[g][:5])
        more = " ..." if len(spectra[g]) > 5 else ""
        label = "spectrum:  " if k == 0 else "           "
        lines.append(f"{label}{top}{more}  ({len(spectra[g])} eigenvalues of {g})")
    lines.append(f"condition: {record['condition_text']}")
    lines.append(f"critical:  {record['pname']} = {record['critical']:.12g}  (collapse is stable "
                 f"{record['stable_side']} it; block {text_name(record['block'])}, {record['method']})")
    boot = record.get("bootstrap")
    if boot is not None:
        lo, hi = boot["interval"]
        lines.append(f"bootstrap: {100 * boot['confidence']:g}% interval [{lo:.8g}, {hi:.8g}]  ({boot['method']}, "
                     f"{boot['resamples']} resamples, seed {boot['seed']}; standard error "
                     f"{boot['standard_error']:.3g}, bias {boot['bias']:.3g})")
    lines += [f"note:      {n}" for n in record["notes"]]
    return "\n".join(lines)


def _values(args: argparse.Namespace) -> list[float] | None:
    try:
        return _floats(args.spectrum, "--spectrum")
    except StatvaeError:
        return None


def answer_from_plan(args: argparse.Namespace) -> bool:
    """Print the answer of ``statvae critical`` from a collapse plan, if a plan gives exactly the full path's answer.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed options of ``statvae critical``.

    Returns
    -------
    bool
        True if the answer was printed; False if the full path must run
        (nothing was printed, no warning was issued).
    """
    if getattr(args, "debug", False) or os.environ.get("STATVAE_NO_PLAN"):
        return False
    if getattr(args, "spectrum", None) is None:
        return False
    values = _values(args)
    if values is None:
        return False
    spec = plan_spec(args, len(values))
    if spec is None:
        return False
    from ..collapse_plan import PlanMiss, critical_record, load_plan, plan_key

    plan = load_plan(plan_key(spec))
    if plan is None:
        return False
    with warnings.catch_warnings(record=True) as caught:
        try:
            record = critical_record(plan, values)
            text = render_critical(record, bool(args.json))
        except PlanMiss:
            return False
        except Exception:  # a plan that does not fit (an edited cache, a bug): the full path answers
            return False
    for w in caught:  # what the computation warned, as the full path would (printed after the answer)
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    print(text)
    ANSWERED[0] += 1
    return True


def write_plan(args: argparse.Namespace, model: VAEModel, analysis: Any, name: str, record: dict[str, Any]) -> bool:
    """After a full-path answer, write the plan of its specification if the plan reproduces the answer exactly.

    Nothing is written for data other than ``--spectrum``, a model whose
    blocks have no closed-form roots, compiled code that is not the verified
    matrix-path code in the cache, or versions of the derivation or of the code
    format other than the plan module's; and nothing unless the plan, run on
    the same spectrum, gives the same answer (every field, every bit).

    Parameters
    ----------
    args : argparse.Namespace
        The parsed options.
    model : VAEModel
        The model they describe.
    analysis : CollapseAnalysis
        Its collapse analysis (the structure derived or read).
    name : str
        The parameter solved for.
    record : dict
        The full path's answer (see :func:`render_critical`).

    Returns
    -------
    bool
        Whether a plan was written.
    """
    values = _values(args)
    spec = None if values is None else plan_spec(args, len(values))
    if spec is None or values is None or record.get("reason") is not None:
        return False
    from ..collapse_plan import critical_record, plan_key, store_plan

    try:
        with warnings.catch_warnings(record=True):  # building and checking a plan warns nothing
            plan = _build_plan(model, analysis, name, record)
            if plan is None:
                return False
            again = critical_record(plan, values)
        if json.dumps(again, sort_keys=True) != json.dumps(record, sort_keys=True) or again != record:
            return False
    except Exception:  # no plan: the next run takes the full path again
        return False
    return store_plan(plan_key(spec), plan)  # an unwritable directory warns as for compiled code (once)


def _build_plan(model: VAEModel, analysis: Any, name: str, record: dict[str, Any]) -> dict[str, Any] | None:
    import numpy as np

    from .. import collapse_plan as CP
    from ..analysis import compiled as AC
    from ..analysis import selfcheck, thresholds
    from ..analysis.permode import PerModeBlocks, hyper_numbers
    from ..bifurcation.symmetry import Span
    from ..model import hyper as H
    from ..numeric import cache as NC
    from ..symbolic import stability as ST

    if dict(CP.CODE_FIELDS) != dict(NC.FIELDS):
        return None
    spectra = {k: np.asarray(v, dtype=float) for k, v in record["spectra"].items()}
    blocks = PerModeBlocks(model, analysis.structure, name, spectra, {}).plan_blocks()
    if blocks is None:
        return None
    others = {k.name: float(v) for k, v in hyper_numbers(model, name, {}).items() if k.name != name}
    cc = AC.CompiledCollapse(model, name, others, spectra=spectra)
    pr = cc.problem
    comp = pr.compiled
    if comp.path != "matrix" or comp.backend != "numpy" or pr.structure != "diagonal" or not pr.units.identity:
        return None
    key = NC.cache_key("matrix", cc.reduced.structure_key(), cc.reduced.graph.dims_key())
    entry = NC.load(key)
    if entry is None or not entry["verified"] or entry["source"] != comp.source:
        return None
    g = cc.reduced.graph
    start, off = [], 0
    for v in g.observed():
        if v.variance == "learned":
            start.append([g.learned_variance_name(v.name), off, v.dim])
        off += v.dim
    settle = [[pr.layout.by_name[g.learned_variance_name(v.name)].offset, v.dim]
              for v in g.variables() if v.variance == "learned"]
    digest = hashlib.sha256(comp.source.encode()).hexdigest()
    compiled = {"code_key": key, "code_format": NC.ENTRY_FORMAT, "code_sha256": digest,
                "layout": [[b.name, b.kind, list(b.shape), b.offset, b.size] for b in pr.layout.blocks],
                "observed": [[v.name, v.dim] for v in g.observed()],
                "values": {k: float(v) for k, v in pr.values.items() if v is not None},
                "hyper_names": list(cc.reduced.values), "structure": pr.structure,
                "fixed": [int(i) for i in Span(pr.chars).fixed_subspace()],
                "start_variances": start, "settle": settle,
                "keys": [[[int(i) for i in k.indices], int(k.copies)] for k in cc.keys]}
    constants = {"zero_rtol": float(ST.ZERO_RTOL), "compiled_rtol": float(AC.RTOL),
                 "offsets": [float(d) for d in selfcheck.OFFSETS], "cluster_rtol": float(thresholds.CLUSTER_RTOL)}
    plan = {"parameter": name, "nonnegative": bool(H.spec(name).nonnegative),
            "observed": [[v.name, v.dim] for v in model.graph.observed()],
            "blocks": blocks, "compiled": compiled, "constants": constants,
            "static": {k: record[k] for k in STATIC_FIELDS}}
    return json.loads(json.dumps(plan, allow_nan=False))  # exactly what is read back
