"""Model files: a custom graph described in TOML or JSON, read by the API and the command line.

A file holds three things: the variables (in order; observed variables in
the order their data are stacked), the maps, and optionally the
hyper-parameters (values, and LaTeX or domain for names the graph invents).
Everything not given takes the defaults of :class:`~statvae.model.graph.Variable`,
:class:`~statvae.model.graph.Map` and :class:`~statvae.model.vae.VAEModel`
(the presets' defaults)::

    # twoview.toml: two views of one latent
    [variables.x]
    dim = 3
    observed = true
    variance = "sigma2_x"

    [variables.y]
    dim = 2
    observed = true
    variance = "sigma2_y"

    [variables.z]
    dim = 1                       # a latent: encoder "diagonal", beta "beta", prior variance 1

    [[maps]]
    name = "Wx"
    source = "z"
    target = "x"
    role = "generative"           # optional: weight_decay = "eta_x", latex = "W_{x}"

    # ... Wy, Vx (x -> z, inference), Vy ...

    [hyper]
    sigma2_y = 2.0                # a value, or a table:
    [hyper.sigma2_x]
    latex = "\\sigma_{x}^{2}"
    # value = 1.5                 # left out: free (solved for, or given later)

JSON files hold the same structure (``variables`` may also be a list of
objects with a ``name``).  TOML needs Python 3.11 or newer (the standard
library's ``tomllib``); JSON works everywhere.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import ModelError
from ..validate import show
from . import hyper as H
from .graph import Map, ModelGraph, Variable
from .vae import Model

__all__ = ["load_model", "model_from_dict", "model_to_dict", "save_model"]

_VARIABLE_KEYS = {"name", "dim", "observed", "latex", "index", "variance", "encoder", "encoder_variance", "beta",
                  "covariance_name", "spectrum_latex", "dim_latex", "covariance_latex", "auto_display"}
_MAP_KEYS = {"name", "source", "target", "role", "weight_decay", "latex"}
_HYPER_KEYS = {"value", "latex", "domain", "description"}
#: Largest model file read (bytes): a model description is a few hundred bytes.
_MAX_MODEL_FILE = 10 * 2 ** 20


def _variables(raw) -> list[dict]:
    if isinstance(raw, dict):
        out = []
        for name, fields in raw.items():
            if not isinstance(fields, dict):
                raise ModelError(f"variable {name!r}: expected a table of fields, got {fields!r}")
            if "name" in fields and fields["name"] != name:
                raise ModelError(f"variable {name!r} is also named {fields['name']!r}")
            out.append({"name": name, **fields})
        return out
    if isinstance(raw, list) and all(isinstance(v, dict) for v in raw):
        for v in raw:
            if "name" not in v:
                raise ModelError(f"a variable in the list has no name: {show(v)}")
        return list(raw)
    raise ModelError("'variables' must be a table of variables or a list of objects with a name")


def model_from_dict(d: dict[str, Any], source: str = "the model description") -> Model:
    """Build a :class:`VAEModel` from a plain description (see the module docstring).

    Parameters
    ----------
    d : dict
        The description: ``variables``, ``maps`` and optionally ``hyper`` and ``kind``.
    source : str, optional
        Where it comes from (a file name), for the error messages.

    Returns
    -------
    Model
        The model.

    Raises
    ------
    ModelError
        With one line naming ``source`` and what is wrong.

    Examples
    --------
    >>> m = model_from_dict({"variables": {"x": {"dim": 3, "observed": True, "variance": "sigma2"},
    ...                                    "z": {"dim": 1}},
    ...                      "maps": [{"name": "W", "source": "z", "target": "x", "role": "generative"},
    ...                               {"name": "V", "source": "x", "target": "z", "role": "inference"}]})
    >>> sorted(m.values), m.free_hyper()
    (['beta', 'prior_variance', 'sigma2'], ['sigma2'])

    ``statvae.api.model_from_dict`` and ``statvae.load_model`` return the
    same model as a :class:`statvae.VAEModel` (with ``collapse()``).
    """
    if not isinstance(d, dict):
        raise ModelError(f"{source}: expected a table with 'variables' and 'maps'")
    unknown = sorted(set(d) - {"variables", "maps", "hyper", "kind", "format"})
    if unknown:
        raise ModelError(f"{source}: unknown section(s) {', '.join(unknown)}; expected variables, maps, hyper")
    if "variables" not in d or "maps" not in d:
        raise ModelError(f"{source}: needs 'variables' and 'maps'")
    try:
        g = ModelGraph()
        for v in _variables(d["variables"]):
            bad = sorted(set(v) - _VARIABLE_KEYS)
            if bad:
                raise ModelError(f"variable {v.get('name')!r}: unknown field(s) {', '.join(bad)}")
            if "dim" not in v:
                raise ModelError(f"variable {v.get('name')!r} needs a dim")
            fields = dict(v)
            fields.setdefault("observed", False)
            if not isinstance(fields["observed"], bool):
                raise ModelError(f"variable {v['name']!r}: observed must be true or false")
            g.add_variable(Variable(**fields))
        maps = d["maps"]
        if not isinstance(maps, list):
            raise ModelError("'maps' must be a list of maps")
        for m in maps:
            if not isinstance(m, dict):
                raise ModelError(f"a map must be a table of fields, got {m!r}")
            bad = sorted(set(m) - _MAP_KEYS)
            if bad:
                raise ModelError(f"map {m.get('name')!r}: unknown field(s) {', '.join(bad)}")
            missing = [k for k in ("name", "source", "target", "role") if k not in m]
            if missing:
                raise ModelError(f"map {m.get('name')!r} needs {', '.join(missing)}")
            g.add_map(Map(**m))
        g.validate()
        values = {}
        roles = g.hyper_roles()
        hyper = d.get("hyper") or {}
        if not isinstance(hyper, dict):
            raise ModelError(f"'hyper' must be a table of hyper-parameters by name, got {show(hyper)}")
        for name, spec in hyper.items():
            if name not in roles:
                raise ModelError(f"hyper-parameter {name!r} is not used by the graph (it uses: "
                                 f"{', '.join(roles) or 'none'})")
            if isinstance(spec, dict):
                bad = sorted(set(spec) - _HYPER_KEYS)
                if bad:
                    raise ModelError(f"hyper-parameter {name!r}: unknown field(s) {', '.join(bad)}")
                if "latex" in spec or "domain" in spec or "description" in spec:
                    H.declare(name, spec.get("latex"), spec.get("domain"), roles[name], spec.get("description"))
                values[name] = spec.get("value")
            else:
                values[name] = spec
        return Model(g, values, kind=str(d.get("kind", "custom")))
    except TypeError as exc:
        raise ModelError(f"{source}: {exc}") from None
    except ModelError as exc:
        raise ModelError(f"{source}: {exc}") from None
    except (AttributeError, KeyError, IndexError, ValueError) as exc:  # a malformed description, said in one line
        raise ModelError(f"{source}: invalid model description ({type(exc).__name__}: {exc})") from None


def load_model(path: str | os.PathLike[str]) -> Model:
    """Read a model file (``.toml`` or ``.json``).

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    Model
        The model it describes.

    Raises
    ------
    ModelError
        If the file is missing, not valid TOML/JSON, or describes an invalid model.
    """
    if not isinstance(path, (str, os.PathLike)) or not str(path).strip():
        raise ModelError(f"a model file name is needed, got {show(path)}")
    p = Path(path)
    if not p.exists():
        raise ModelError(f"model file not found: {p}")
    if p.is_dir():
        raise ModelError(f"{p} is a directory, not a model file")
    if p.suffix.lower() not in (".toml", ".json"):
        raise ModelError(f"model files are .toml or .json, got {p.name}")
    if p.stat().st_size > _MAX_MODEL_FILE:
        raise ModelError(f"{p} is {p.stat().st_size:,} bytes, too large for a model file (limit "
                         f"{_MAX_MODEL_FILE:,})")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ModelError(f"{p} is not a text file (not UTF-8)") from None
    except OSError as exc:
        raise ModelError(f"cannot read {p}: {exc.strerror or exc}") from None
    if not text.strip():
        raise ModelError(f"{p} is empty")
    if p.suffix.lower() == ".toml":
        try:
            import tomllib
        except ImportError:  # Python 3.10
            raise ModelError("TOML model files need Python 3.11 or newer (tomllib); write the model as JSON "
                             "instead") from None
        try:
            d = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ModelError(f"{p} is not valid TOML: {exc}") from None
    elif p.suffix.lower() == ".json":
        try:
            d = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise ModelError(f"{p} is not valid JSON: {exc}") from None
    else:
        raise ModelError(f"model files are .toml or .json, got {p.name}")
    return model_from_dict(d, str(p))


def model_to_dict(model: Model) -> dict[str, Any]:
    """The description of a model as plain data; :func:`model_from_dict` rebuilds an equal model.

    Parameters
    ----------
    model : Model
        The model.

    Returns
    -------
    dict
        ``kind``, ``variables``, ``maps`` and ``hyper`` (LaTeX, domain and value of each), JSON-serialisable.
    """
    g = model.graph
    variables = {}
    for v in g.variables():
        fields = {k: getattr(v, k) for k in sorted(_VARIABLE_KEYS - {"name"})
                  if getattr(v, k) is not None and getattr(v, k) is not False}
        variables[v.name] = fields
    maps = [{k: getattr(m, k) for k in ("name", "source", "target", "role", "weight_decay", "latex")
             if getattr(m, k) is not None} for m in g.maps()]
    hyper = {}
    for n, val in model.values.items():
        s = H.spec(n)
        entry: dict[str, str | float] = {"latex": s.latex, "domain": "nonnegative" if s.nonnegative else "positive"}
        if val != H.symbol(n):
            entry["value"] = float(val) if val.is_number else str(val)
        hyper[n] = entry
    return {"kind": model.kind, "variables": variables, "maps": maps, "hyper": hyper}


def save_model(model: Model, path: str | os.PathLike[str]) -> Path:
    """Write a model as JSON (readable by :func:`load_model` and the command line's ``--model-file``).

    Parameters
    ----------
    model : Model
        The model.
    path : str or os.PathLike
        The file; its suffix must be ``.json``.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ModelError
        If the suffix is not ``.json``.
    """
    p = Path(path)
    if p.suffix.lower() != ".json":
        raise ModelError(f"models are saved as .json, got {p.name}")
    p.write_text(json.dumps(model_to_dict(model), indent=1))
    return p
