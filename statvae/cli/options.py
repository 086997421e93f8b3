"""Command-line options shared by sub-commands: model description, data source, the parameter.

The names are those of the Python API: ``--parameter`` (``parameter=``),
``--spectrum``/``--covariance``/``--samples``/``--data`` (``spectrum=``,
``covariance=``, ``samples=``, ``data=``) and ``--ddof``.  Old spellings stay
as aliases: ``--solve-for`` for ``--parameter``.
"""

from __future__ import annotations

import argparse
import math
import os
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import DataError, ModelError

if TYPE_CHECKING:  # the model layer (sympy) is imported when a model is built, not for --help
    from ..api import VAEModel

__all__ = ["add_model_options", "add_data_options", "add_parameter_option", "build_model", "load_data", "data_dim",
           "read_data", "load_prepared", "check_count", "check_parameter", "check_solve_for", "samples_file",
           "write_output", "value_hint", "latent_excess_notes"]

_T = TypeVar("_T")


def check_count(value: int, flag: str, minimum: int, maximum: int | None = None) -> int:
    """Check an integer option (already parsed by argparse) against ``[minimum, maximum]``.

    Parameters
    ----------
    value : int
        The parsed value.
    flag : str
        The option, for the message (``"--depth"``).
    minimum : int
        Smallest value allowed.
    maximum : int, optional
        Largest value allowed (no bound if None).

    Returns
    -------
    int
        ``value``.

    Raises
    ------
    ModelError
        If ``value`` is out of bounds.
    """
    if value < minimum or (maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"between {minimum} and {maximum:,}"
        raise ModelError(f"{flag} must be an integer {bound}, got {value}")
    return value


def check_parameter(model: VAEModel, name: str | None, flag: str = "--parameter") -> str | None:
    """Check ``--parameter`` (``--solve-for``): absent, or the name of a hyper-parameter of ``model``.

    Checked before any work.

    Parameters
    ----------
    model : VAEModel
        The model the options describe.
    name : str or None
        The value given (None: the default parameter).
    flag : str, optional
        The spelling used on the command line, for the message.

    Returns
    -------
    str or None
        ``name``.

    Raises
    ------
    ModelError
        If ``name`` is empty or names no hyper-parameter of ``model``.
    """
    if name is None:
        return None
    if not name.strip():
        raise ModelError(f"{flag} needs a hyper-parameter name (one of: {', '.join(model.values)}), got an "
                         f"empty string")
    model.require_hyper(name, verb="solve for")
    return name


#: The old name of :func:`check_parameter`.
check_solve_for = check_parameter


class _Spelled(argparse.Action):
    """Store the value, and in ``<dest>_flag`` the spelling of the option used (``--parameter``/``--solve-for``)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: str | Sequence[Any] | None, option_string: str | None = None) -> None:
        setattr(namespace, self.dest, values)
        setattr(namespace, f"{self.dest}_flag", option_string)


def add_parameter_option(p: argparse.ArgumentParser, help: str) -> None:
    """Add ``--parameter PARAM`` with its old spelling ``--solve-for`` (same option, ``args.parameter``).

    ``args.parameter_flag`` records the spelling used (for messages).

    Parameters
    ----------
    p : argparse.ArgumentParser
        The sub-command's parser.
    help : str
        Its help text (the old spelling is mentioned after it).
    """
    p.add_argument("--parameter", "--solve-for", dest="parameter", metavar="PARAM", default=None, action=_Spelled,
                   help=f"{help}; --solve-for is the old spelling")
    p.set_defaults(parameter_flag="--parameter")


def value_hint(name: str) -> str:
    """The option that gives hyper-parameter ``name`` a value.

    Parameters
    ----------
    name : str
        A hyper-parameter name.

    Returns
    -------
    str
        Its own option (``--sigma2``), else ``--set NAME=VALUE``.
    """
    flag = _HYPER_FLAGS.get(name)
    return flag if flag else f"--set {name}=VALUE"


def write_output(path: str | os.PathLike[str], flag: str, write: Callable[[], _T]) -> _T:
    """Run ``write()`` (which writes ``path``); an ``OSError`` (full disk, permissions...) becomes one line.

    A file that did not exist before and is left half-written is removed.

    Parameters
    ----------
    path : str or os.PathLike
        The file ``write`` writes.
    flag : str
        The option that named it (``"--out"``), for the message.
    write : callable
        Writes the file.

    Returns
    -------
    object
        What ``write()`` returns.

    Raises
    ------
    DataError
        If writing fails with an ``OSError``.
    """
    existed = os.path.lexists(path)
    try:
        return write()
    except OSError as exc:
        if not existed:
            try:
                os.remove(path)
            except OSError:
                pass
        reason = exc.strerror or " ".join(str(exc).split()) or type(exc).__name__
        raise DataError(f"cannot write {flag} {path}: {reason}") from None


def _floats(text: str, what: str) -> list[float]:
    parts = [p.strip() for p in str(text).split(",")]
    if not text or not all(parts):
        raise DataError(f"{what} must be a comma-separated list of numbers, got {text!r}")
    try:
        return [float(p) for p in parts]
    except ValueError:
        raise DataError(f"{what} must be a comma-separated list of numbers, got {text!r}") from None


def _ints(text: str, what: str) -> list[int]:
    vals = _floats(text, what)
    if not all(float(v).is_integer() for v in vals):
        raise ModelError(f"{what} must be integers, got {text!r}")
    if any(v < 1 for v in vals):
        raise ModelError(f"{what} must be {'a positive integer' if len(vals) == 1 else 'positive integers'}, "
                         f"got {text!r}")
    return [int(v) for v in vals]


def _one_int(text: str, what: str) -> int:
    """One positive integer (a dimension); a list is refused."""
    vals = _ints(text, what)
    if len(vals) != 1:
        raise ModelError(f"{what} takes one positive integer, got {text!r}")
    return vals[0]


def add_model_options(p: argparse.ArgumentParser) -> None:
    """Add the options that describe the model (a preset and its hyper-parameters, or ``--model-file``).

    Parameters
    ----------
    p : argparse.ArgumentParser
        The sub-command's parser.
    """
    g = p.add_argument_group("model options")
    g.add_argument("--model", choices=["linear", "conditional", "hierarchical"], default=None,
                   help="model family (default: linear)")
    g.add_argument("--model-file", metavar="FILE", default=None,
                   help="a custom model graph (.toml or .json; see docs/custom-models.md) instead of --model")
    g.add_argument("--set", metavar="NAME=VALUE", action="append", default=[],
                   help="value of any hyper-parameter by name (repeatable), e.g. --set sigma2_y=2")
    g.add_argument("--data-dim", metavar="N", help="data dimension N (default: from the data, else 3)")
    g.add_argument("--latent-dim", metavar="n", default=None,
                   help="latent dimension n; hierarchical: n1,n2 (default: 1; hierarchical 1,1)")
    g.add_argument("--x-dim", metavar="Nx", help="conditional: the first Nx coordinates of the data are x")
    g.add_argument("--beta", metavar="B", default=None,
                   help="KL weight beta (default 1); hierarchical: beta1,beta2")
    g.add_argument("--sigma2", metavar="S", default=None, help="decoder variance sigma'^2 (fixed decoder variance)")
    g.add_argument("--decoder-variance", choices=["fixed", "learned"], default=None,
                   help="sigma'^2 a hyper-parameter (fixed) or a free parameter (learned)")
    g.add_argument("--encoder", default=None, metavar="KIND",
                   help="encoder covariance: diagonal, full, isotropic or fixed:VALUE; hierarchical: KIND1,KIND2")
    g.add_argument("--weight-decay-enc", metavar="ETA", default=None, help="weight decay on encoder maps (default 0)")
    g.add_argument("--weight-decay-dec", metavar="ETA", default=None, help="weight decay on decoder maps (default 0)")
    g.add_argument("--prior-variance", metavar="V", default=None, help="prior variance (default 1)")
    g.add_argument("--tau2", metavar="T", default=None, help="hierarchical: variance of p(z1|z2) (default 1)")


def samples_file(text: str) -> str:
    """The argparse type of ``--samples FILE``: a file name, with a hint for the old ``--samples COUNT``.

    ``--samples`` was the count of synthetic samples; it is now a file of
    samples (as the API's ``samples=``) and the count is
    ``--synthetic-samples``.  An integer that names no file gets that hint.

    Parameters
    ----------
    text : str
        The value given.

    Returns
    -------
    str
        ``text`` (the file is read later).

    Raises
    ------
    argparse.ArgumentTypeError
        If ``text`` is an integer and no such file exists.
    """
    if re.fullmatch(r"\s*[-+]?\d+\s*", text) and not os.path.exists(text):
        raise argparse.ArgumentTypeError(f"no file {text!r}: --samples now takes a file of samples (rows); the "
                                         f"number of synthetic samples is --synthetic-samples {text.strip()}")
    return text


def add_data_options(p: argparse.ArgumentParser, required: bool = True) -> None:
    """Add the data source (one of ``--spectrum``, ``--covariance``, ``--samples``, ``--data``, ``--dataset``).

    Also ``--ddof``, the data options ``--standardize`` and
    ``--center``/``--no-center`` (the API's ``standardize=``/``center=``),
    and the options of ``--dataset synthetic`` (``--synthetic-spectrum``,
    ``--synthetic-samples``, ``--seed``).

    Parameters
    ----------
    p : argparse.ArgumentParser
        The sub-command's parser.
    required : bool, optional
        Whether a data source must be given.
    """
    g = p.add_argument_group("data (choose one)")
    src = g.add_mutually_exclusive_group(required=required)
    src.add_argument("--spectrum", metavar="L1,L2,...", help="eigenvalues of the data covariance")
    src.add_argument("--covariance", metavar="FILE", help="covariance matrix (.npy or .csv)")
    src.add_argument("--samples", metavar="FILE", type=samples_file,
                     help="samples, one per row (.npy or .csv); their covariance is used (see --ddof)")
    src.add_argument("--data", metavar="FILE",
                     help="any of the three, recognised by shape as the API's data=: 1-D (a .csv of one line) a "
                     "spectrum, square symmetric a covariance, else samples (rows)")
    src.add_argument("--dataset", choices=["synthetic", "digits"],
                     help="built-in data: synthetic Gaussian samples, or scikit-learn's digits (pixels / 16)")
    g.add_argument("--ddof", type=int, choices=[0, 1], default=1,
                   help="covariance of samples: 1 = unbiased (numpy.cov, default), 0 = maximum likelihood")
    g.add_argument("--standardize", action="store_true", default=False,
                   help="divide each feature of samples by its standard deviation (a covariance: use its "
                   "correlation matrix), so thresholds do not depend on the features' units; stated in the output")
    g.add_argument("--center", action=argparse.BooleanOptionalAction, default=True,
                   help="subtract each feature's mean from samples (default); --no-center analyses the second "
                   "moment about zero, X^T X / (M - ddof)")
    g.add_argument("--synthetic-spectrum", metavar="L1,L2,...", default="4,2,1,0.5",
                   help="population eigenvalues of --dataset synthetic (default 4,2,1,0.5)")
    g.add_argument("--synthetic-samples", type=int, default=2000, metavar="M",
                   help="number of samples of --dataset synthetic, >= 2 (default 2000)")
    g.add_argument("--seed", type=int, default=0, metavar="S",
                   help="seed of the synthetic samples and of the bootstrap resampling, >= 0 (default 0)")


def _number(text: str | None, what: str) -> float | None:
    if text is None:
        return None
    vals = _floats(text, what)
    if len(vals) != 1:
        raise ModelError(f"{what} takes one number, got {text!r}")
    if not math.isfinite(vals[0]):
        raise ModelError(f"{what} must be a finite number, got {text!r}")
    return vals[0]


_HYPER_FLAGS = {"sigma2": "--sigma2", "beta": "--beta", "prior_variance": "--prior-variance", "tau2": "--tau2",
                "weight_decay_enc": "--weight-decay-enc", "weight_decay_dec": "--weight-decay-dec"}
_STRUCTURE_FLAGS = {"model": "--model", "data_dim": "--data-dim", "latent_dim": "--latent-dim", "x_dim": "--x-dim",
                    "encoder": "--encoder", "decoder_variance": "--decoder-variance"}


def _settings(args: argparse.Namespace) -> dict[str, float | None]:
    """``--set NAME=VALUE`` pairs as a dict of numbers."""
    out = {}
    for item in getattr(args, "set", None) or []:
        name, eq, value = item.partition("=")
        name = name.strip()
        if not eq or not name:
            raise ModelError(f"--set takes NAME=VALUE, got {item!r}")
        out[name] = _number(value, f"--set {name}")
    return out


def build_model(args: argparse.Namespace, data_dim: int | None) -> VAEModel:
    """The model the options describe.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed options (see :func:`add_model_options`).
    data_dim : int or None
        The dimension of the data, if known (checked against ``--data-dim``
        or the model file; the default data dimension otherwise).

    Returns
    -------
    VAEModel
        The preset, or the model of ``--model-file``, with the values given.

    Raises
    ------
    ModelError, DataError
        For an invalid option or a dimension that does not match the data.
    """
    settings = _settings(args)
    if getattr(args, "model_file", None):
        return _model_from_file(args, data_dim, settings)
    model = _preset(args, data_dim)
    return model.with_values(**settings) if settings else model


def _model_from_file(args: argparse.Namespace, data_dim: int | None, settings: dict[str, float | None]) -> VAEModel:
    from ..api import load_model

    for attr, flag in _STRUCTURE_FLAGS.items():
        if getattr(args, attr, None) is not None:
            raise ModelError(f"{flag} describes a preset; with --model-file the file describes the model")
    model = load_model(args.model_file)
    values = {}
    for name, flag in _HYPER_FLAGS.items():
        text = getattr(args, name.replace("-", "_"), None)
        if text is None:
            continue
        if name not in model.values:
            raise ModelError(f"{flag} names {name}, which {args.model_file} does not use (its hyper-parameters are: "
                             f"{', '.join(model.values)}); use --set NAME=VALUE")
        values[name] = _number(text, flag)
    values.update(settings)
    model = model.with_values(**values) if values else model
    total = sum(v.dim for v in model.graph.observed())
    if data_dim is not None and data_dim != total:
        dims = ", ".join(f"{v.name}: {v.dim}" for v in model.graph.observed())
        raise ModelError(f"the data have {data_dim} dimensions but {args.model_file} observes {total} ({dims})")
    return model


def _preset(args: argparse.Namespace, data_dim: int | None) -> VAEModel:
    """The preset model the options describe."""
    from ..api import ConditionalVAE, HierarchicalVAE, LinearVAE

    args = argparse.Namespace(**vars(args))
    for attr, default in (("model", "linear"), ("encoder", "diagonal"), ("decoder_variance", "fixed"),
                          ("weight_decay_enc", "0"), ("weight_decay_dec", "0"), ("prior_variance", "1")):
        if getattr(args, attr, None) is None:
            setattr(args, attr, default)
    tau2_given = getattr(args, "tau2", None) is not None
    if not tau2_given:
        args.tau2 = "1"
    n_data = None if args.data_dim is None else _one_int(args.data_dim, "--data-dim")
    if data_dim is not None and n_data is not None and n_data != data_dim:
        raise DataError(f"--data-dim {n_data} does not match the data, which have {data_dim} dimensions")
    n_data = n_data or data_dim or 3
    common = dict(decoder_variance=args.decoder_variance,
                  weight_decay_enc=_number(args.weight_decay_enc, "--weight-decay-enc"),
                  weight_decay_dec=_number(args.weight_decay_dec, "--weight-decay-dec"),
                  prior_variance=_number(args.prior_variance, "--prior-variance"))
    if args.decoder_variance == "fixed":
        common["sigma2"] = _number(args.sigma2, "--sigma2")
    elif args.sigma2 is not None:
        raise ModelError("--sigma2 cannot be given with --decoder-variance learned (sigma'^2 is then a parameter)")
    if args.model != "hierarchical" and tau2_given:
        raise ModelError("--tau2 applies to --model hierarchical only")
    if args.model != "conditional" and args.x_dim is not None:
        raise ModelError("--x-dim applies to --model conditional only")
    if args.model == "hierarchical":
        lat = _ints("1,1" if args.latent_dim is None else args.latent_dim, "--latent-dim")
        betas = _floats("1,1" if args.beta is None else args.beta, "--beta")
        if not all(math.isfinite(b) for b in betas):
            raise ModelError(f"--beta must be finite numbers, got {args.beta!r}")
        enc = [e.strip() for e in args.encoder.split(",")]
        if len(enc) == 1:
            enc = enc * 2
        if len(lat) != 2 or len(betas) != 2 or len(enc) != 2:
            raise ModelError("hierarchical models take two values: --latent-dim n1,n2 --beta b1,b2 --encoder k1,k2")
        return HierarchicalVAE(n_data, tuple(lat), betas=tuple(betas), encoders=tuple(enc),
                               tau2=_number(args.tau2, "--tau2"), **common)
    lat = _ints("1" if args.latent_dim is None else args.latent_dim, "--latent-dim")
    if len(lat) != 1:
        raise ModelError(f"--latent-dim takes one integer for --model {args.model}, got {args.latent_dim!r}")
    beta = _number("1" if args.beta is None else args.beta, "--beta")
    if "," in args.encoder:
        raise ModelError(f"--encoder takes one kind for --model {args.model}, got {args.encoder!r}")
    if args.model == "conditional":
        if args.x_dim is None:
            raise ModelError("--model conditional needs --x-dim (the first x-dim coordinates are x)")
        xd = _one_int(args.x_dim, "--x-dim")
        if xd >= n_data:
            raise ModelError(f"--x-dim must be between 1 and {n_data - 1} (the data have {n_data} coordinates)")
        return ConditionalVAE(xd, n_data - xd, lat[0], encoder=args.encoder, beta=beta, **common)
    return LinearVAE(n_data, lat[0], encoder=args.encoder, beta=beta, **common)


def data_dim(data: dict[str, Any]) -> int:
    """The dimension of data as :func:`load_data` returns them.

    Parameters
    ----------
    data : dict
        ``{"spectrum": ...}`` or ``{"covariance": ...}``.

    Returns
    -------
    int
        The number of eigenvalues, or the size of the covariance.
    """
    return len(data["spectrum"]) if "spectrum" in data else int(data["covariance"].shape[0])


def read_data(args: argparse.Namespace) -> tuple[str, Any, str]:
    """Read the data source the options name, as it is (no reduction of samples yet).

    ``--data`` is recognised by shape exactly as the API's ``data=``
    (:func:`statvae.data.resolve.data_kind`); a text file (``.csv``...) of
    one line is a list of numbers (a spectrum), as a 1-D ``.npy``.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed options (see :func:`add_data_options`).

    Returns
    -------
    kind : str
        ``"spectrum"``, ``"covariance"`` or ``"samples"``.
    array : numpy.ndarray
        The numbers (a covariance and samples validated; a spectrum is
        checked by the analysis).
    description : str
        What the data are, for the output.

    Raises
    ------
    DataError, ModelError
        For a bad option, or a file that cannot be read or does not hold valid data.
    """
    from ..data import digits, load_array, load_covariance, load_samples, synthetic
    from ..data.datasets import check_synthetic_size
    from ..data.resolve import data_kind
    from ..data.spectra import validate_covariance, validate_samples, validate_spectrum
    import numpy as np

    # the synthetic options are checked whatever the source: a bad value is a mistake either way
    check_count(args.synthetic_samples, "--synthetic-samples", 2)
    check_count(args.seed, "--seed", 0)
    synth = validate_spectrum(_floats(args.synthetic_spectrum, "--synthetic-spectrum"), "--synthetic-spectrum")
    if args.dataset == "synthetic":
        check_synthetic_size(args.synthetic_samples, synth.size, "--synthetic-samples")
    if args.spectrum is not None:
        return "spectrum", np.asarray(_floats(args.spectrum, "--spectrum")), "spectrum"
    if args.covariance is not None:
        return "covariance", load_covariance(args.covariance), f"covariance {args.covariance}"
    if args.samples is not None:
        x = load_samples(args.samples)
        return "samples", x, f"{x.shape[0]} samples from {args.samples}"
    if args.data is not None:
        a = load_array(args.data)
        if a.ndim == 2 and a.shape[0] == 1 and not str(args.data).lower().endswith(".npy"):
            a = a[0]  # text is read as a table: one line of numbers is a list (a 1-D .npy read as text)
        kind = data_kind(a)
        if kind == "spectrum":
            return "spectrum", a, f"spectrum from {args.data}"  # checked by the analysis, as --spectrum
        if kind == "covariance":
            return "covariance", validate_covariance(a), f"covariance {args.data}"
        x = validate_samples(a)
        return "samples", x, f"{x.shape[0]} samples from {args.data}"
    if args.dataset == "digits":
        x = digits()
        return "samples", x, f"digits ({x.shape[0]} samples, 64 pixels / 16)"
    spec = _floats(args.synthetic_spectrum, "--synthetic-spectrum")
    x = synthetic(spec, samples=args.synthetic_samples, seed=args.seed)
    return ("samples", x, f"synthetic ({args.synthetic_samples} samples, population spectrum "
                          f"{args.synthetic_spectrum}, seed {args.seed})")


def load_prepared(args: argparse.Namespace) -> tuple[dict[str, Any], str, Any, Any]:
    """Read the data and apply the data options, as the API's ``prepare_data`` (one implementation).

    Parameters
    ----------
    args : argparse.Namespace
        The parsed options (see :func:`add_data_options`).

    Returns
    -------
    data : dict
        ``{"spectrum": array}`` or ``{"covariance": array}``.
    description : str
        What the data are and, when an option changed them, what was done.
    preprocessing : Preprocessing
        What was done (:class:`statvae.data.preprocess.Preprocessing`).
    samples : numpy.ndarray or None
        The samples as read (None for a spectrum or a covariance).

    Raises
    ------
    DataError, ModelError
        For a bad option or data, or an option that does not apply to them.
    """
    from ..data.resolve import prepare_data

    kind, a, desc = read_data(args)
    center, standardize = getattr(args, "center", True), getattr(args, "standardize", False)
    if not center and kind != "samples":
        raise DataError(f"--no-center applies to samples only (--samples, --data with samples, --dataset); "
                        f"a {kind} is taken as given")
    if standardize and kind == "spectrum":
        raise DataError("--standardize needs samples or a covariance: a spectrum has no features to scale")
    data, prep = prepare_data(**{kind: a}, ddof=args.ddof, center=center, standardize=standardize)
    if standardize or not center:
        done = [] if center else [f"not centred: second moment about zero, divided by M - ddof = "
                                  f"{prep.samples - prep.ddof}"]
        if standardize:
            done.append("standardized: the correlation matrix" if kind == "covariance" else
                        f"standardized: each feature divided by its standard deviation (ddof={prep.ddof})")
        desc = f"{desc}; {'; '.join(done)}"
    return data, desc, prep, (a if kind == "samples" else None)


def load_data(args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    """Read the data source the options name, reduced for the analyses.

    Samples (``--samples``, ``--dataset``, or ``--data`` recognised as
    samples) are reduced to their covariance with ``--ddof`` (centred unless
    ``--no-center``, standardized with ``--standardize``: :func:`load_prepared`).

    Parameters
    ----------
    args : argparse.Namespace
        The parsed options (see :func:`add_data_options`).

    Returns
    -------
    data : dict
        ``{"spectrum": array}`` or ``{"covariance": array}``, keyword
        arguments for the analyses.
    description : str
        What the data are, for the output.

    Raises
    ------
    DataError, ModelError
        For a bad option, or a file that cannot be read or does not hold valid data.
    """
    data, desc, _, _ = load_prepared(args)
    return data, desc


def latent_excess_notes(model: VAEModel) -> list[str]:
    """A note for each latent with more coordinates than the data it models have dimensions.

    Parameters
    ----------
    model : VAEModel
        The model.

    Returns
    -------
    list of str
        One sentence per such latent (empty if none).
    """
    notes = []
    g = model.graph
    out_dims = sum(v.dim for v in g.observed() if v.variance is not None)
    for z in g.latents():
        if z.dim > out_dims:
            notes.append(f"{z.name} has {z.dim} coordinates but the modelled data only {out_dims} dimensions: "
                         f"at most {out_dims} of them can leave collapse, the other {z.dim - out_dims} stay "
                         f"collapsed for every value")
    return notes
