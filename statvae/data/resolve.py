"""One resolver from any data description (spectrum, covariance, samples) to what the model's analysis needs.

A covariance (or samples) is brought to the model's canonical gauge when the
symmetries of the objective allow it for the hyper-parameter values at hand
(:func:`statvae.data.canonical.canonical_form`, a claim checked on the data);
otherwise it is kept as given, and only latent flips are symmetries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DataError
from ..model import hyper as H
from .canonical import canonical_form
from .preprocess import Preprocessing, check_data_options, sample_moment, standardized_covariance
from .spectra import validate_spectrum

if TYPE_CHECKING:
    from ..model.vae import Model
    from .units import Units

__all__ = ["TrackData", "ResolvedData", "data_kind", "prepare_data", "resolve_data", "resolve_spectra", "spectrum_dict",
           "known_values"]


@dataclass
class TrackData:
    """Data resolved for tracking: canonical spectra, or a raw second moment when no canonical form exists.

    Attributes
    ----------
    spectra : dict
        Canonical eigenvalues per observed variable (when ``covariance`` is
        None), else each variable's own eigenvalues (informative only).
    covariance : numpy.ndarray or None
        The joint second moment to track in, when the data have no canonical
        form for this model (only latent flips are symmetries then).
    reason : str
        Why there is no canonical form ("" when there is).
    preprocessing : Preprocessing or None
        How the data given became the matrix analysed (centring,
        standardisation; :mod:`statvae.data.preprocess`).
    """

    spectra: dict[str, np.ndarray]
    covariance: np.ndarray | None = None
    reason: str = ""
    preprocessing: Preprocessing | None = None

    def units(self, model: Model) -> Units:
        """Internal units for these data (:func:`statvae.data.units.units_for`).

        Parameters
        ----------
        model : Model
            The model the data are for.

        Returns
        -------
        Units
            Scaled by the largest eigenvalue (or diagonal entry of the second moment).
        """
        from .units import data_magnitude, units_for

        if self.covariance is not None:
            return units_for(model, data_magnitude(covariance=self.covariance))
        return units_for(model, data_magnitude(spectra=self.spectra))


def known_values(model: Model, parameter: str | None, values: dict[str, Any] | None) -> dict[str, float | None]:
    """Hyper-parameter name -> float, or None where unknown (free, or the parameter solved for / varied).

    Parameters
    ----------
    model : Model
        The model (its values are the defaults).
    parameter : str or None
        The hyper-parameter solved for or varied: unknown.
    values : dict or None
        Values overriding the model's (``None``: unknown).

    Returns
    -------
    dict
        A float or None for every hyper-parameter of the model.

    Raises
    ------
    ModelError
        If a value is out of its hyper-parameter's domain.
    """
    out: dict[str, float | None] = {}
    for n, v in model.values.items():
        v = (values or {}).get(n, v)
        if n == parameter or v is None:
            out[n] = None
            continue
        v = H.coerce_value(n, v)
        out[n] = float(v) if v.is_number else None
    return out


def spectrum_dict(model: Model, spectrum: Any) -> dict[str, np.ndarray]:
    """Validated canonical spectra per observed variable from a spectrum (flat, or a dict per variable).

    Parameters
    ----------
    model : Model
        The model.
    spectrum : array_like or dict
        Eigenvalues: a dict by observed variable, or one flat array (the
        variables' spectra one after the other, in graph order).

    Returns
    -------
    dict
        Descending eigenvalues by observed variable.

    Raises
    ------
    DataError
        If a spectrum is invalid, missing, extra or of the wrong length.
    """
    obs = model.graph.observed()
    if isinstance(spectrum, dict):
        missing = [v.name for v in obs if v.name not in spectrum]
        if missing:
            raise DataError(f"spectrum lacks the observed variable(s) {', '.join(missing)}")
        extra = sorted(set(spectrum) - {v.name for v in obs})
        if extra:
            raise DataError(f"spectrum names {', '.join(map(str, extra))}, which the model does not observe")
        out = {v.name: validate_spectrum(spectrum[v.name], f"spectrum of {v.name}") for v in obs}
    elif len(obs) == 1:
        out = {obs[0].name: validate_spectrum(spectrum)}
    else:
        validate_spectrum(spectrum)  # validates; the order below is the caller's
        raw = np.asarray(spectrum, dtype=float).ravel()
        total = sum(v.dim for v in obs)
        if raw.size != total:
            raise DataError(f"spectrum needs {total} values ({', '.join(f'{v.name}: {v.dim}' for v in obs)}), "
                            f"got {raw.size}")
        out, k = {}, 0
        for v in obs:
            out[v.name] = validate_spectrum(raw[k:k + v.dim], f"spectrum of {v.name}")
            k += v.dim
    for v in obs:
        if len(out[v.name]) != v.dim:
            raise DataError(f"the spectrum of {v.name} has {len(out[v.name])} values but the model's "
                            f"{v.name} has dimension {v.dim}")
    return out


def data_kind(data: Any) -> str:
    """What ``data=`` is taken for, by shape: 1-D a spectrum, square symmetric a covariance, else samples.

    Parameters
    ----------
    data : array_like
        The numbers (validated later, as the kind they are taken for).

    Returns
    -------
    str
        ``"spectrum"``, ``"covariance"`` or ``"samples"``.

    Examples
    --------
    >>> data_kind([3.0, 1.0]), data_kind([[2.0, 1.0], [1.0, 2.0]]), data_kind([[1.0, 2.0], [3.0, 4.0]])
    ('spectrum', 'covariance', 'samples')
    """
    a = np.asarray(data, dtype=float)
    if a.ndim == 1:
        return "spectrum"
    if a.ndim == 2 and a.shape[0] == a.shape[1] and np.allclose(a, a.T):
        return "covariance"
    return "samples"


def prepare_data(data: Any = None, spectrum: Any = None, covariance: Any = None, samples: Any = None,
                 ddof: int = 1, center: bool = True,
                 standardize: bool = False) -> tuple[dict[str, Any], Preprocessing]:
    """Any data description, with the data options applied: ``{"spectrum": ...}`` or ``{"covariance": ...}``.

    The one implementation of ``center`` and ``standardize`` (see
    :mod:`statvae.data.preprocess`): every entry point that accepts samples
    goes through here (through :func:`resolve_data`, or directly, as the
    command line and the finite-sample analyses do).  Samples become their
    covariance (or second moment about zero, ``center=False``), standardized
    on request; a covariance is standardized to its correlation matrix on
    request; a spectrum is passed on as given.

    Parameters
    ----------
    data : array_like, optional
        A spectrum (1-D), a symmetric covariance (square) or samples (other 2-D).
    spectrum, covariance, samples : array_like, optional
        The data, if not given as ``data``; exactly one of the four.
    ddof : {0, 1}, optional
        The divisor of a second moment of samples is ``M - ddof``.
    center : bool, optional
        Centre samples (default).  ``False`` is refused for a spectrum or a
        covariance, which are taken as given.
    standardize : bool, optional
        Divide each feature by its standard deviation (samples), or the
        covariance by the square roots of its diagonal.  Refused for a spectrum.

    Returns
    -------
    data : dict
        ``{"spectrum": ...}`` (as given: an array or a dict by variable) or
        ``{"covariance": numpy.ndarray}``.
    preprocessing : Preprocessing

    Raises
    ------
    DataError
        If the data are not given exactly once, are invalid, or an option does not apply to them.

    Examples
    --------
    >>> import numpy as np
    >>> d, p = prepare_data(samples=np.array([[1.0, 5.0], [2.0, 1.0], [4.0, 3.0]]), standardize=True)
    >>> np.round(d["covariance"], 6).tolist(), p.standardize
    ([[1.0, -0.327327], [-0.327327, 1.0]], True)
    """
    center, standardize = check_data_options(center, standardize)
    given = [x is not None for x in (data, spectrum, covariance, samples)]
    if sum(given) != 1:
        raise DataError("give the data once: a spectrum, a covariance or samples")
    if data is not None:
        a = np.asarray(data, dtype=float)
        kind = data_kind(a)
        spectrum, covariance, samples = (a if kind == k else None for k in ("spectrum", "covariance", "samples"))
    if samples is not None:
        c, prep = sample_moment(samples, ddof, center, standardize)
        return {"covariance": c}, prep
    if not center:
        raise DataError(f"center=False applies to samples only: a {'covariance' if spectrum is None else 'spectrum'} "
                        f"is taken as given")
    if covariance is not None:
        if standardize:
            c, scales = standardized_covariance(covariance)
            return {"covariance": c}, Preprocessing("covariance", True, True, 1, 0, c.shape[0], scales)
        n = int(np.shape(covariance)[0]) if np.ndim(covariance) == 2 else 0
        return {"covariance": covariance}, Preprocessing("covariance", True, False, 1, 0, n)
    if standardize:
        raise DataError("standardize=True needs samples or a covariance: a spectrum has no features to scale")
    n = sum(np.size(v) for v in spectrum.values()) if isinstance(spectrum, dict) else int(np.size(spectrum))
    return {"spectrum": spectrum}, Preprocessing("spectrum", True, False, 1, 0, n)


def resolve_data(model: Model, data: Any = None, spectrum: Any = None, covariance: Any = None,
                 samples: Any = None, ddof: int = 1, parameter: str | None = None,
                 values: dict[str, Any] | None = None, center: bool = True,
                 standardize: bool = False) -> TrackData:
    """Resolve any data description for tracking ``parameter``, checking the canonical form on the data.

    A covariance (or samples) is brought to the model's canonical gauge when
    the symmetries of the objective allow it for these hyper-parameter
    values (``parameter`` varies, so it counts as unknown); otherwise it is
    kept as it is (see :func:`statvae.data.canonical.canonical_form`).

    Parameters
    ----------
    model : Model
        The model.
    data : array_like, optional
        A spectrum (1-D), a symmetric covariance (square) or samples (other 2-D).
    spectrum, covariance, samples : array_like, optional
        The data, if not given as ``data``; exactly one of the four.
    ddof : {0, 1}, optional
        Delta degrees of freedom of the covariance of samples.
    parameter : str, optional
        The hyper-parameter varied (its value counts as unknown).
    values : dict, optional
        Hyper-parameter values overriding the model's.
    center, standardize : bool, optional
        The data options (see :func:`prepare_data`).

    Returns
    -------
    TrackData
        The canonical spectra, or the second moment as given with the reason it has no canonical form.

    Raises
    ------
    DataError
        If the data are not given exactly once, or are invalid.
    """
    prepared, prep = prepare_data(data, spectrum, covariance, samples, ddof, center, standardize)
    if "covariance" in prepared:
        form = canonical_form(model.graph, prepared["covariance"], known_values(model, parameter, values))
        if not form.valid:
            return TrackData(form.spectra, form.covariance, form.describe(), prep)
        return TrackData(form.spectra, preprocessing=prep)
    return TrackData(spectrum_dict(model, prepared["spectrum"]), preprocessing=prep)


def resolve_spectra(model: Model, data: Any = None, spectrum: Any = None, covariance: Any = None,
                    samples: Any = None, ddof: int = 1, center: bool = True,
                    standardize: bool = False) -> dict[str, np.ndarray]:
    """Canonical spectra per observed variable from any data description.

    Parameters
    ----------
    model : Model
        The model.
    data, spectrum, covariance, samples : array_like, optional
        The data, exactly one given (as for :func:`resolve_data`).
    ddof : {0, 1}, optional
        Delta degrees of freedom of the covariance of samples.
    center, standardize : bool, optional
        The data options (see :func:`prepare_data`).

    Returns
    -------
    dict
        Descending canonical eigenvalues by observed variable.

    Raises
    ------
    DataError
        If a covariance has no canonical form for this model (see
        :func:`resolve_data`, which then keeps the covariance instead).
    """
    d = resolve_data(model, data, spectrum, covariance, samples, ddof, center=center, standardize=standardize)
    if d.covariance is not None:
        raise DataError(f"these data have no canonical form for this model ({d.reason})")
    return d.spectra


#: The resolved data (the name ``TrackData`` is kept for compatibility).
ResolvedData = TrackData
