"""Low-rank-plus-diagonal data: ``diag(d) + U U^T`` multiplied by its factor gives the dense results.

A binding of data given as a factor (samples, or a
:class:`statvae.data.LowRankPlusDiagonal`) hands the generated code
:class:`statvae.numeric.codegen.LowRankDiagonalBlock` objects.  Every compiled
function (value, gradient, HVP, Hessian, d gradient / d hyper) must agree with
a dense binding to 1e-10 relative; the dense reference is built independently
(``numpy.cov`` of the samples, ``diag(d) + U @ U.T`` written out here).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import statvae
from catalogue import all_models
from statvae.data import LowRankPlusDiagonal
from statvae.errors import DataError
from statvae.numeric import random_parameters
from statvae.numeric.codegen import (
    LOWRANK_MAX_FRACTION,
    LOWRANK_MIN_DIM,
    DiagonalBlock,
    LowRankDiagonalBlock,
    _tr,
    _trp,
    data_structure,
)

RTOL = 1e-10
MODELS = all_models(small=False)
IDS = [m[0] for m in MODELS]


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("STATVAE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "statvae-cache"))


def _close(a, b, what):
    """Agreement to RTOL relative to the largest entry of the reference (no absolute floor)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape, what
    scale = float(np.abs(b).max(initial=0.0))
    err = float(np.abs(a - b).max(initial=0.0))
    assert err <= RTOL * scale or err == 0.0, f"{what}: {err:.3g} vs scale {scale:.3g}"


def _compare(f, low, dense, rng):
    """Every compiled function of two bindings of the same data."""
    assert low.structure == "lowrank" and dense.structure in ("dense", "diagonal")
    theta = random_parameters(f.layout, rng)
    _close(low.value(theta), dense.value(theta), "value")
    _close(low.gradient(theta), dense.gradient(theta), "gradient")
    v, g = low.value_and_gradient(theta)
    _close(v, dense.value(theta), "value_and_gradient")
    _close(g, dense.gradient(theta), "value_and_gradient")
    p = f.layout.size
    d = rng.standard_normal(p)
    _close(low.hvp(theta, d), dense.hvp(theta, d), "hvp")
    ds = rng.standard_normal((3, p))
    _close(low.hvp(theta, ds), dense.hvp(theta, ds), "stacked hvp")
    idx = rng.choice(p, size=min(p, 4), replace=False)  # unit directions: the per-block HVPs
    e = np.zeros((len(idx), p))
    e[np.arange(len(idx)), idx] = 1.0
    _close(low.hvp(theta, e), dense.hvp(theta, e), "Hessian columns")
    h = dense.hessian(theta)
    _close(low.hessian(theta), h, "hessian")
    if hasattr(f, "block_plan"):  # Hessian blocks as the tracker takes them (pair functions of the data blocks)
        plan = f.block_plan([np.sort(idx)])
        got = low.hessian_blocks(theta, plan)
        ref = dense.hessian_blocks(theta, plan)
        assert sorted(got) == sorted(ref), "hessian_blocks"
        for size in ref:
            _close(got[size], ref[size], "hessian_blocks")
        _close(got[len(idx)][0], h[np.ix_(np.sort(idx), np.sort(idx))], "hessian_blocks vs hessian")
    for n in f.model.values:
        _close(low.gradient_hyper(theta, n), dense.gradient_hyper(theta, n), f"d gradient / d {n}")


def _hyper(model, rng):
    return {n: float(rng.uniform(0.3, 2.0)) for n in model.values}


@pytest.mark.parametrize("label,model", MODELS, ids=IDS)
def test_every_model_agrees_with_dense_products(label, model):
    """Every option of every model family, including cross blocks between observed variables."""
    rng = np.random.default_rng(len(label))
    k = sum(v.dim for v in model.graph.observed())
    u = rng.standard_normal((k, 2))
    d = rng.uniform(0.1, 1.0, k)
    f = model.compile()
    hyper = _hyper(model, rng)
    low = f.bind(covariance=LowRankPlusDiagonal(u, d), structure="lowrank", **hyper)
    dense = f.bind(covariance=np.diag(d) + u @ u.T, **hyper)
    _compare(f, low, dense, rng)


@settings(max_examples=12, deadline=None)
@given(N=st.integers(1, 12), n=st.integers(1, 4), r=st.integers(0, 6), seed=st.integers(0, 2**16),
       encoder=st.sampled_from(["diagonal", "full", "isotropic"]), with_diagonal=st.booleans(),
       magnitude=st.floats(-3, 3))
def test_linear_random_factors(N, n, r, seed, encoder, with_diagonal, magnitude):
    rng = np.random.default_rng(seed)
    scale = 10.0 ** magnitude
    u = rng.standard_normal((N, r)) * np.sqrt(scale)
    d = rng.uniform(0.0, 1.0, N) * scale if with_diagonal else None
    model = statvae.LinearVAE(N, n, encoder=encoder, beta=None)
    f = model.compile()
    hyper = _hyper(model, rng)
    dense_cov = u @ u.T + (np.diag(d) if d is not None else 0.0)
    low = f.bind(covariance=LowRankPlusDiagonal(u, d), structure="lowrank", **hyper)
    _compare(f, low, f.bind(covariance=dense_cov, structure="dense", **hyper), rng)


@settings(max_examples=12, deadline=None)
@given(N=st.integers(2, 14), n=st.integers(1, 4), M=st.integers(2, 6), ddof=st.sampled_from([0, 1]),
       seed=st.integers(0, 2**16))
def test_samples_bound_as_their_factor(N, n, M, ddof, seed):
    """``bind(samples=X)`` equals the binding of ``numpy.cov(X)``; few samples never form the N x N matrix."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((M, N)) * rng.uniform(0.1, 3.0, N) + rng.standard_normal(N)
    model = statvae.LinearVAE(N, n, beta=None)
    f = model.compile()
    hyper = _hyper(model, rng)
    low = f.bind(samples=x, ddof=ddof, structure="lowrank", **hyper)
    assert low._binding._cov is None and low._binding.lowrank.rank == M
    _compare(f, low, f.bind(covariance=np.cov(x, rowvar=False, ddof=ddof), **hyper), rng)
    np.testing.assert_allclose(low.cov, np.cov(x, rowvar=False, ddof=ddof), rtol=1e-12, atol=1e-12)


@settings(max_examples=8, deadline=None)
@given(Nx=st.integers(1, 6), Ny=st.integers(1, 6), n=st.integers(1, 3), r=st.integers(0, 4),
       seed=st.integers(0, 2**16))
def test_conditional_rectangular_cross_blocks(Nx, Ny, n, r, seed):
    """Cross blocks of ``U U^T`` are rectangular ``U_x U_y^T`` without a diagonal."""
    rng = np.random.default_rng(seed)
    model = statvae.ConditionalVAE(Nx, Ny, n)
    f = model.compile()
    u = rng.standard_normal((Nx + Ny, r))
    d = rng.uniform(0.1, 2.0, Nx + Ny)
    hyper = _hyper(model, rng)
    low = f.bind(covariance=LowRankPlusDiagonal(u, d), structure="lowrank", **hyper)
    _compare(f, low, f.bind(covariance=np.diag(d) + u @ u.T, **hyper), rng)


@settings(max_examples=25, deadline=None)
@given(rows=st.integers(1, 7), cols=st.integers(1, 7), r=st.integers(0, 4), k=st.integers(1, 3),
       batch=st.sampled_from([(), (2,), (2, 3)]), with_diagonal=st.booleans(), seed=st.integers(0, 2**16))
def test_block_products_equal_dense(rows, cols, r, k, batch, with_diagonal, seed):
    rng = np.random.default_rng(seed)
    left, right = rng.standard_normal((rows, r)), rng.standard_normal((cols, r))
    d = rng.standard_normal(min(rows, cols)) if with_diagonal else None
    s = LowRankDiagonalBlock(left, right, d)
    dense = left @ right.T
    if d is not None:
        dense[np.arange(d.size), np.arange(d.size)] += d
    np.testing.assert_allclose(s.toarray(), dense, rtol=1e-13, atol=1e-13)
    x = rng.standard_normal(batch + (k, rows))
    y = rng.standard_normal(batch + (cols, k))
    np.testing.assert_allclose(x @ s, x @ dense, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(s @ y, dense @ y, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(s.T.toarray(), dense.T, rtol=1e-13, atol=1e-13)
    if not batch:  # vectors
        np.testing.assert_allclose(s @ y[:, 0], dense @ y[:, 0], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(x[0] @ s, x[0] @ dense, rtol=1e-12, atol=1e-12)
    o = rng.standard_normal(batch + (cols, rows))
    np.testing.assert_allclose(_trp(s, o), np.trace(dense @ o, axis1=-2, axis2=-1), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(_trp(o, s), np.trace(o @ dense, axis1=-2, axis2=-1), rtol=1e-12, atol=1e-12)
    if rows == cols:
        np.testing.assert_allclose(_tr(s), np.trace(dense), rtol=1e-12, atol=1e-12)
        diag = DiagonalBlock(rng.standard_normal(rows))
        np.testing.assert_allclose(_trp(s, diag), np.trace(dense @ diag.toarray()), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(s @ diag, dense @ diag.toarray(), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError):
        s @ np.ones((cols + 1, 2))


def test_structure_choice_and_errors():
    rng = np.random.default_rng(3)
    N = max(LOWRANK_MIN_DIM, 40)
    f = statvae.LinearVAE(N, 2).compile()
    few = rng.standard_normal((int(LOWRANK_MAX_FRACTION * N), N))
    many = rng.standard_normal((int(LOWRANK_MAX_FRACTION * N) + 1, N))
    assert f.bind(samples=few, sigma2=1.0).structure == "lowrank"
    assert f.bind(samples=many, sigma2=1.0).structure == "dense"
    assert f.bind(samples=many, sigma2=1.0, structure="lowrank").structure == "lowrank"
    assert f.bind(samples=few, sigma2=1.0, structure="dense").structure == "dense"
    small = LowRankPlusDiagonal(rng.standard_normal((N, 3)), np.ones(N))
    assert f.bind(covariance=small, sigma2=1.0).structure == "lowrank"
    big = LowRankPlusDiagonal(rng.standard_normal((N, int(LOWRANK_MAX_FRACTION * N) + 1)))
    assert f.bind(covariance=big, sigma2=1.0).structure == "dense"
    assert f.bind(covariance=LowRankPlusDiagonal(np.zeros((N, 2)), np.ones(N)), sigma2=1.0).structure == "diagonal"
    assert f.bind(covariance=LowRankPlusDiagonal(np.zeros((N, 0)), np.ones(N)), sigma2=1.0).structure == "diagonal"
    assert data_structure(small) == "lowrank" and data_structure(small, "dense") == "dense"
    with pytest.raises(DataError, match="structure='lowrank' needs"):
        f.bind(covariance=np.eye(N), sigma2=1.0, structure="lowrank")
    with pytest.raises(DataError, match="structure='lowrank' needs"):
        f.bind(spectrum=np.ones(N), sigma2=1.0, structure="lowrank")
    with pytest.raises(DataError, match="zero off the diagonal"):
        f.bind(covariance=small, sigma2=1.0, structure="diagonal")
    with pytest.raises(DataError, match="structure must be one of"):
        f.bind(covariance=small, sigma2=1.0, structure="sparse")
    with pytest.raises(DataError, match="exactly one of"):
        f.bind(samples=few, spectrum=np.ones(N), sigma2=1.0)
    # below LOWRANK_MIN_DIM the dense products are cheaper: auto forms the matrix, lowrank still forces the factor
    g = statvae.LinearVAE(LOWRANK_MIN_DIM - 1, 2).compile()
    x = rng.standard_normal((2, LOWRANK_MIN_DIM - 1))
    assert g.bind(samples=x, sigma2=1.0).structure == "dense"
    assert g.bind(samples=x, sigma2=1.0, structure="lowrank").structure == "lowrank"
    with pytest.raises(DataError, match=f"{N}-dimensional"):
        f.bind(samples=few[:, :5], sigma2=1.0)
    with pytest.raises(DataError, match="ddof"):
        f.bind(samples=few, ddof=2, sigma2=1.0)
    # the mpmath backend and the explicit path take the dense matrix
    x = rng.standard_normal((2, 3))
    for g in (statvae.LinearVAE(3, 1).compile(backend="mpmath"), statvae.LinearVAE(3, 1).compile(path="explicit")):
        b = g.bind(samples=x, sigma2=1.0)
        assert b.structure == "dense"
        np.testing.assert_allclose(np.asarray(b.cov, dtype=float), np.cov(x, rowvar=False), rtol=1e-14)


@pytest.mark.parametrize("factor,diagonal,message", [
    ([[1.0, np.nan]], None, "factor has a NaN"),
    ([[1.0], [np.inf]], None, "factor has a NaN"),
    ([[1.0], [2.0]], [1.0, -0.5], "diagonal has a negative entry"),
    ([[1.0], [2.0]], [1.0], "diagonal must have 2 entries"),
    ([[1.0], [2.0]], [1.0, np.nan], "diagonal has a NaN"),
    ("abc", None, "factor must be an array of numbers"),
    (np.ones((2, 2, 2)), None, "factor must be"),
    (np.ones((0, 2)), None, "factor has no rows"),
    ([[1j]], None, "complex"),
])
def test_invalid_lowrank_data(factor, diagonal, message):
    with pytest.raises(DataError, match=message) as err:
        LowRankPlusDiagonal(factor, diagonal)
    assert "\n" not in str(err.value)


def test_lowrank_data_are_read_only_and_materialise():
    u = np.array([[1.0, 0.5], [2.0, -1.0], [0.0, 3.0]])
    d = np.array([0.5, 0.0, 1.0])
    c = LowRankPlusDiagonal(u, d)
    u[0, 0] = 99.0  # the object holds its own copy
    assert c.factor[0, 0] == 1.0
    with pytest.raises(ValueError):
        c.factor[0, 0] = 2.0
    expected = np.diag([0.5, 0.0, 1.0]) + np.array([[1.0, 0.5], [2.0, -1.0], [0.0, 3.0]]) @ \
        np.array([[1.0, 0.5], [2.0, -1.0], [0.0, 3.0]]).T
    np.testing.assert_array_equal(np.asarray(c), expected)
    assert (c.dim, c.rank, c.shape) == (3, 2, (3, 3))
    x = np.random.default_rng(0).standard_normal((5, 3))
    for ddof in (0, 1):
        np.testing.assert_allclose(LowRankPlusDiagonal.from_samples(x, ddof).toarray(),
                                   np.cov(x, rowvar=False, ddof=ddof), rtol=1e-13, atol=1e-14)
    with pytest.raises(DataError, match="at least 2 samples"):
        LowRankPlusDiagonal.from_samples(x[:1])


def test_keyword_calls_reuse_the_lowrank_binding():
    rng = np.random.default_rng(5)
    N = LOWRANK_MIN_DIM
    f = statvae.LinearVAE(N, 2).compile()
    theta = random_parameters(f.layout, rng)
    x = rng.standard_normal((4, N))
    c = LowRankPlusDiagonal(rng.standard_normal((N, 3)), rng.uniform(0, 1, N))
    for kw in (dict(samples=x), dict(covariance=c)):
        bound = f.bind(sigma2=0.7, **kw)
        assert bound.structure == "lowrank"
        np.testing.assert_array_equal(f.gradient(theta, sigma2=0.7, **kw), bound.gradient(theta))
        first = f._data_cache[0]
        f.gradient(theta, sigma2=0.8, **kw)
        assert f._data_cache[0] is first  # same data binding, only the hyper-parameters redone
    x[0, 0] += 1.0  # samples edited in place are bound again
    np.testing.assert_array_equal(f.gradient(theta, sigma2=0.7, samples=x),
                                  f.bind(samples=x, sigma2=0.7).gradient(theta))


def test_analyses_take_the_lowrank_form_as_its_matrix():
    """Outside the compiled objective a LowRankPlusDiagonal is the matrix it stands for (numpy.asarray)."""
    rng = np.random.default_rng(11)
    c = LowRankPlusDiagonal(rng.standard_normal((6, 2)), np.full(6, 0.1))
    a = statvae.LinearVAE(6, 2).collapse()
    assert float(a.critical(covariance=c)) == pytest.approx(float(np.linalg.eigvalsh(c.toarray()).max()), rel=1e-12)
