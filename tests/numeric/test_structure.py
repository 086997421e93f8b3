"""Structure-aware products: diagonal data multiplied as a diagonal give the dense results.

A binding of diagonal data (a spectrum, or a covariance zero off its
diagonal) hands the generated code :class:`statvae.numeric.codegen.DiagonalBlock`
objects; every compiled function must agree with the dense products to
1e-12 relative, the tracker must find the same branch points with both, and
non-diagonal data must keep the dense path.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import statvae
from catalogue import all_models
from statvae.errors import DataError
from statvae.numeric import random_parameters
from statvae.numeric.codegen import DiagonalBlock, data_structure

RTOL = 1e-12
MODELS = all_models(small=False)
IDS = [m[0] for m in MODELS]


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("STATVAE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "statvae-cache"))


def _close(a, b, what):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    scale = max(1.0, float(np.abs(b).max())) if b.size else 1.0
    assert a.shape == b.shape, what
    assert float(np.abs(a - b).max(initial=0.0)) <= RTOL * scale, what


def _compare(model, spectrum, seed):
    """Every compiled function with diagonal-aware and dense products of the same diagonal data."""
    rng = np.random.default_rng(seed)
    f = model.compile()
    theta = random_parameters(f.layout, rng)
    hyper = {n: float(rng.uniform(0.3, 2.0)) for n in model.values}
    diag = f.bind(spectrum=spectrum, **hyper)
    dense = f.bind(spectrum=spectrum, structure="dense", **hyper)
    assert diag.structure == "diagonal" and dense.structure == "dense"
    _close(diag.value(theta), dense.value(theta), "value")
    _close(diag.gradient(theta), dense.gradient(theta), "gradient")
    vd, gd = diag.value_and_gradient(theta)
    _close(vd, dense.value(theta), "value_and_gradient")
    _close(gd, dense.gradient(theta), "value_and_gradient")
    p = f.layout.size
    v = rng.standard_normal(p)
    _close(diag.hvp(theta, v), dense.hvp(theta, v), "hvp")
    vs = rng.standard_normal((3, p))
    _close(diag.hvp(theta, vs), dense.hvp(theta, vs), "stacked hvp")
    # Hessian blocks as the tracker takes them: unit directions (the per-block HVPs)
    idx = rng.choice(p, size=min(p, 4), replace=False)
    e = np.zeros((len(idx), p))
    e[np.arange(len(idx)), idx] = 1.0
    _close(diag.hvp(theta, e)[:, idx], dense.hvp(theta, e)[:, idx], "Hessian block")
    _close(diag.hessian(theta), dense.hessian(theta), "hessian")
    for n in model.values:
        _close(diag.gradient_hyper(theta, n), dense.gradient_hyper(theta, n), f"d gradient / d {n}")


@pytest.mark.parametrize("label,model", MODELS, ids=IDS)
def test_every_model_agrees_with_dense_products(label, model):
    k = sum(v.dim for v in model.graph.observed())
    spectrum = np.linspace(2.5, 0.4, k)
    _compare(model, spectrum, seed=len(label))


@settings(max_examples=10, deadline=None)
@given(N=st.integers(1, 9), n=st.integers(1, 4), seed=st.integers(0, 2**16),
       encoder=st.sampled_from(["diagonal", "full", "isotropic"]), zeros=st.integers(0, 3))
def test_linear_random_spectra(N, n, seed, encoder, zeros):
    rng = np.random.default_rng(seed)
    spectrum = rng.uniform(0.01, 5.0, N) * 10.0 ** rng.uniform(-3, 3)
    spectrum[: min(zeros, N - 1)] = 0.0  # zero eigenvalues are diagonal data too
    _compare(statvae.LinearVAE(N, n, encoder=encoder, beta=None), spectrum, seed)


@settings(max_examples=6, deadline=None)
@given(Nx=st.integers(1, 5), Ny=st.integers(1, 5), n=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_conditional_rectangular_zero_blocks(Nx, Ny, n, seed):
    """Cross blocks of a diagonal covariance are rectangular zero blocks."""
    rng = np.random.default_rng(seed)
    _compare(statvae.ConditionalVAE(Nx, Ny, n), rng.uniform(0.1, 3.0, Nx + Ny), seed)


def test_non_diagonal_data_use_dense_products():
    f = statvae.LinearVAE(4, 2).compile()
    rng = np.random.default_rng(1)
    a = rng.standard_normal((4, 4))
    cov = a @ a.T + np.eye(4)
    b = f.bind(covariance=cov, sigma2=1.0)
    assert b.structure == "dense"
    assert not any(isinstance(x, DiagonalBlock) for x in b._data)
    assert f.bind(covariance=np.diag([3.0, 2.0, 1.0, 0.5]), sigma2=1.0).structure == "diagonal"
    assert f.bind(spectrum=[3.0, 2.0, 1.0, 0.5], sigma2=1.0, structure="dense").structure == "dense"
    with pytest.raises(DataError, match="diagonal"):
        f.bind(covariance=cov, sigma2=1.0, structure="diagonal")
    with pytest.raises(DataError, match="structure"):
        f.bind(covariance=cov, sigma2=1.0, structure="banded")
    # the mpmath backend and the explicit path keep dense data
    assert statvae.LinearVAE(2, 1).compile(backend="mpmath").bind(spectrum=[2.0, 1.0], sigma2=1.0).structure == "dense"
    assert statvae.LinearVAE(2, 1).compile(path="explicit").bind(spectrum=[2.0, 1.0], sigma2=1.0).structure \
        == "dense"


def test_data_structure_and_block_products():
    assert data_structure(np.diag([1.0, 0.0, 2.0])) == "diagonal"
    assert data_structure(np.diag([1.0, 2.0]), "dense") == "dense"
    m = np.diag([1.0, 2.0])
    m[0, 1] = m[1, 0] = 1e-300
    assert data_structure(m) == "dense"
    rng = np.random.default_rng(0)
    for shape in [(3, 3), (2, 4), (4, 2)]:
        d = rng.standard_normal(min(shape))
        S = DiagonalBlock(d, shape)
        dense = S.toarray()
        x = rng.standard_normal((5, 2, shape[0]))
        y = rng.standard_normal((5, shape[1], 2))
        np.testing.assert_array_equal(x @ S, x @ dense)
        np.testing.assert_array_equal(S @ y, dense @ y)
        np.testing.assert_array_equal(S.T.toarray(), dense.T)
        np.testing.assert_array_equal(np.asarray(S), dense)
        np.testing.assert_allclose((S @ S.T).toarray(), dense @ dense.T, rtol=0, atol=0)
    with pytest.raises(ValueError):
        DiagonalBlock([1.0, 2.0], (3, 3))


@pytest.mark.parametrize("model,spectrum,start,stop", [
    (statvae.LinearVAE(6, 3, beta=1), [3.0, 2.5, 1.7, 0.6, 0.3, 0.1], 4.0, 0.5),
    (statvae.LinearVAE(5, 2, encoder="full", beta=1), [2.0, 1.5, 0.9, 0.4, 0.2], 2.5, 0.3),
])
def test_track_same_branch_points(monkeypatch, model, spectrum, start, stop):
    parameter = "sigma2"
    runs = {}
    for structure in ("diagonal", "dense"):
        monkeypatch.setenv("STATVAE_DATA_STRUCTURE", structure)
        d = statvae.track(model, spectrum=spectrum, parameter=parameter, start=start, stop=stop)
        runs[structure] = [(s.kind, s.parameter) for s in d.special_points(branch=0)]
    assert [k for k, _ in runs["diagonal"]] == [k for k, _ in runs["dense"]]
    a = np.array([p for _, p in runs["diagonal"]])
    b = np.array([p for _, p in runs["dense"]])
    assert a.size and np.allclose(a, b, rtol=RTOL, atol=0)


def test_tracker_binds_the_diagonal_structure(monkeypatch):
    from statvae.bifurcation.problem import ContinuationProblem

    model = statvae.LinearVAE(4, 2)
    monkeypatch.delenv("STATVAE_DATA_STRUCTURE", raising=False)
    canonical = ContinuationProblem(model, {"x": np.array([3.0, 2.0, 1.0, 0.5])}, "sigma2")
    assert canonical.structure == "diagonal"
    a = np.random.default_rng(2).standard_normal((4, 4))
    own = ContinuationProblem(model, None, "sigma2", covariance=a @ a.T + np.eye(4))
    assert own.structure == "dense"
    monkeypatch.setenv("STATVAE_DATA_STRUCTURE", "dense")
    assert ContinuationProblem(model, {"x": np.array([3.0, 2.0, 1.0, 0.5])}, "sigma2").structure == "dense"
