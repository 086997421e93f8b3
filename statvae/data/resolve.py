"""One resolver from any data description (spectrum, covariance, samples) to what the model's analysis needs.

A covariance (or samples) is brought to the model's canonical gauge when the
symmetries of the objective allow it for the hyper-parameter values at hand
(:func:`statvae.data.canonical.canonical_form`, a claim checked on the data);
otherwise it is kept as given, and only latent flips are symmetries.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import DataError
from .canonical import canonical_form
from .spectra import covariance_from_samples, validate_spectrum

__all__ = ["TrackData", "ResolvedData", "resolve_data", "resolve_spectra"]


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
    """

    spectra: dict
    covariance: np.ndarray | None = None
    reason: str = ""

    def units(self, model):
        """Internal units for these data (:func:`statvae.data.units.units_for`)."""
        from .units import data_magnitude, units_for

        if self.covariance is not None:
            return units_for(model, data_magnitude(covariance=self.covariance))
        return units_for(model, data_magnitude(spectra=self.spectra))


def _known_values(model, parameter, values) -> dict:
    out = {}
    for n, v in model.values.items():
        v = (values or {}).get(n, v)
        out[n] = None if n == parameter or v is None or (hasattr(v, "is_number") and not v.is_number) else float(v)
    return out


def resolve_data(model, data=None, spectrum=None, covariance=None, samples=None, ddof: int = 1,
                 parameter: str | None = None, values: dict | None = None) -> TrackData:
    """Resolve any data description for tracking ``parameter``, checking the canonical form on the data.

    A covariance (or samples) is brought to the model's canonical gauge when
    the symmetries of the objective allow it for these hyper-parameter
    values (``parameter`` varies, so it counts as unknown); otherwise it is
    kept as it is (see :func:`statvae.data.canonical.canonical_form`).
    """
    given = [x is not None for x in (data, spectrum, covariance, samples)]
    if sum(given) != 1:
        raise DataError("give the data once: a spectrum, a covariance or samples")
    if data is not None:
        a = np.asarray(data, dtype=float)
        if a.ndim == 1:
            spectrum = a
        elif a.ndim == 2 and a.shape[0] == a.shape[1] and np.allclose(a, a.T):
            covariance = a
        else:
            samples = a
    if samples is not None:
        covariance = covariance_from_samples(samples, ddof)
    g = model.graph
    obs = g.observed()
    if covariance is not None:
        form = canonical_form(g, covariance, _known_values(model, parameter, values))
        if not form.valid:
            return TrackData(form.spectra, form.covariance, form.describe())
        out = form.spectra
    elif isinstance(spectrum, dict):
        missing = [v.name for v in obs if v.name not in spectrum]
        if missing:
            raise DataError(f"spectrum lacks the observed variable(s) {', '.join(missing)}")
        out = {v.name: validate_spectrum(spectrum[v.name], f"spectrum of {v.name}") for v in obs}
    else:
        flat = np.asarray(spectrum, dtype=float).ravel()
        out, k = {}, 0
        total = sum(v.dim for v in obs)
        if flat.size != total:
            raise DataError(f"the spectrum has {flat.size} values but the model's data have {total} dimensions")
        for v in obs:
            out[v.name] = validate_spectrum(flat[k:k + v.dim], f"spectrum of {v.name}")
            k += v.dim
    for v in obs:
        if len(out[v.name]) != v.dim:
            raise DataError(f"the data of {v.name} have {len(out[v.name])} dimensions, the model {v.dim}")
    return TrackData(out)


def resolve_spectra(model, data=None, spectrum=None, covariance=None, samples=None, ddof: int = 1) -> dict:
    """Canonical spectra per observed variable from any data description.

    Raises
    ------
    DataError
        If a covariance has no canonical form for this model (see
        :func:`resolve_data`, which then keeps the covariance instead).
    """
    d = resolve_data(model, data, spectrum, covariance, samples, ddof)
    if d.covariance is not None:
        raise DataError(f"these data have no canonical form for this model ({d.reason})")
    return d.spectra


#: The resolved data (the name ``TrackData`` is kept for compatibility).
ResolvedData = TrackData
