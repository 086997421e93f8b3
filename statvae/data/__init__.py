"""Data: validation of spectra, covariances and samples; built-in datasets."""

from .datasets import digits, load_array, load_covariance, load_samples, synthetic
from .canonical import CanonicalForm, canonical_form
from .lowrank import LowRankPlusDiagonal
from .spectra import (
    covariance_from_samples,
    validate_covariance,
    validate_samples,
    validate_spectrum,
)

__all__ = ["digits", "synthetic", "load_array", "load_samples", "load_covariance", "canonical_form", "CanonicalForm",
           "covariance_from_samples", "validate_covariance", "validate_samples", "validate_spectrum",
           "LowRankPlusDiagonal"]
