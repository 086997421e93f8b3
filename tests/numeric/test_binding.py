"""Keyword calls reuse the binding of the data (never stale), and the unchecked path of the bound objective."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import statvae
from statvae.errors import StatvaeError
from statvae.numeric import random_parameters


@pytest.fixture(scope="module")
def setup():
    f = statvae.LinearVAE(5, 2, sigma2=1.0, beta=1.3).compile()
    rng = np.random.default_rng(3)
    theta = random_parameters(f.layout, rng)
    a = rng.standard_normal((5, 5))
    return f, theta, a @ a.T + 0.3 * np.eye(5)


hyper = st.floats(0.05, 20.0, allow_nan=False)


@settings(max_examples=25, deadline=None)
@given(s=hyper, beta=hyper)
def test_keyword_calls_equal_bound_calls_exactly(setup, s, beta):
    f, theta, C = setup
    b = f.bind(covariance=C, sigma2=s, beta=beta)
    assert f.value(theta, covariance=C, sigma2=s, beta=beta) == b.value(theta)
    assert np.array_equal(f.gradient(theta, covariance=C, sigma2=s, beta=beta), b.gradient(theta))
    v = np.arange(theta.size, dtype=float)
    assert np.array_equal(f.hvp(theta, v, covariance=C, sigma2=s, beta=beta), b.hvp(theta, v))
    assert np.array_equal(f.gradient_hyper(theta, "sigma2", covariance=C, sigma2=s, beta=beta),
                          b.gradient_hyper(theta, "sigma2"))
    assert np.array_equal(f.bind(covariance=C).with_hyper(sigma2=s, beta=beta).gradient(theta), b.gradient(theta))


def test_hyper_only_change_does_not_rebind_the_data(setup, monkeypatch):
    f, theta, C = setup
    C = C.copy()
    f.gradient(theta, covariance=C, sigma2=0.5)
    from statvae.data import spectra

    def fail(*args, **kwargs):
        raise AssertionError("the data were validated again")

    monkeypatch.setattr(spectra, "validate_covariance", fail)
    for s in (0.6, 0.7, 0.8):  # new hyper-parameters, same data: no validation of the data
        assert f.gradient(theta, covariance=C, sigma2=s).shape == theta.shape
    assert np.array_equal(f.gradient(theta, covariance=C.copy(), sigma2=0.9),  # equal contents: same binding
                          f.gradient(theta, covariance=C, sigma2=0.9))


def test_in_place_mutation_rebinds(setup):
    f, theta, C = setup
    C = C.copy()
    g1 = f.gradient(theta, covariance=C, sigma2=0.7)
    C *= 2.0  # same object, same memory, new contents
    g2 = f.gradient(theta, covariance=C, sigma2=0.7)
    assert not np.array_equal(g1, g2)
    assert np.array_equal(g2, f.bind(covariance=C.copy(), sigma2=0.7).gradient(theta))
    C[0, 1] += 1e-3  # one symmetric pair of entries changed
    C[1, 0] += 1e-3
    assert np.array_equal(f.gradient(theta, covariance=C, sigma2=0.7),
                          f.bind(covariance=C.copy(), sigma2=0.7).gradient(theta))
    C[0, 1] = np.nan  # a now invalid array is validated again, not served from the cache
    with pytest.raises(StatvaeError):
        f.gradient(theta, covariance=C, sigma2=0.7)


def test_spectrum_lists_and_mutation(setup):
    f, theta, _ = setup
    spec = [5.0, 4.0, 3.0, 2.0, 1.0]
    g1 = f.gradient(theta, spectrum=spec)
    spec[0] = 6.0
    g2 = f.gradient(theta, spectrum=spec)
    assert np.array_equal(g2, f.bind(spectrum=[6.0, 4.0, 3.0, 2.0, 1.0]).gradient(theta))
    assert not np.array_equal(g1, g2)
    arr = np.array([5.0, 4.0, 3.0, 2.0, 1.0])
    assert np.array_equal(f.gradient(theta, spectrum=arr), g1)
    assert np.array_equal(f.gradient(theta, spectrum=arr.astype(int)), g1)  # ints: a binding of their own


def test_different_array_equal_contents(setup):
    f, theta, C = setup
    for _ in range(3):
        fresh = np.array(C)  # a new object on every call
        assert np.array_equal(f.gradient(theta, covariance=fresh, sigma2=1.1),
                              f.bind(covariance=C, sigma2=1.1).gradient(theta))


def test_unchecked_path_is_identical(setup):
    f, theta, C = setup
    b = f.bind(covariance=C, sigma2=0.8)
    v = np.linspace(-1, 1, theta.size)
    assert b.value(theta, check=False) == b.value(theta)
    assert np.array_equal(b.gradient(theta, check=False), b.gradient(theta))
    vg0, vg1 = b.value_and_gradient(theta, check=False), b.value_and_gradient(theta)
    assert vg0[0] == vg1[0] and np.array_equal(vg0[1], vg1[1])
    assert np.array_equal(b.hvp(theta, v, check=False), b.hvp(theta, v))
    assert np.array_equal(b.hvp(theta, np.eye(theta.size)[:3], check=False), b.hvp(theta, np.eye(theta.size)[:3]))
    assert np.array_equal(b.gradient_hyper(theta, "beta", check=False), b.gradient_hyper(theta, "beta"))
    assert np.array_equal(b.gradient(list(theta), check=False), b.gradient(theta))


def test_fast_unpack_matches_layout():
    for model in (statvae.LinearVAE(4, 2), statvae.LinearVAE(4, 3, encoder="full")):
        f = model.compile()
        theta = random_parameters(f.layout, np.random.default_rng(0))
        fast, slow = f._unpack(theta), f.layout.unpack(theta)
        assert fast.keys() == slow.keys()
        for k in fast:
            assert np.array_equal(fast[k], slow[k]) and np.asarray(fast[k]).dtype == np.asarray(slow[k]).dtype


@pytest.mark.parametrize("bad", ["nan", "short", "negative variance", "matrix"])
def test_public_calls_reject_bad_theta(setup, bad):
    f, theta, C = setup
    t = theta.copy()
    if bad == "nan":
        t[0] = np.nan
    elif bad == "short":
        t = t[:-1]
    elif bad == "negative variance":
        t[f.layout.by_name["D"].slice.start] = -1.0
    else:
        t = np.stack([t, t])
    b = f.bind(covariance=C)
    for call in (lambda: b.gradient(t), lambda: b.value(t), lambda: b.value_and_gradient(t),
                 lambda: b.hvp(t, np.ones(theta.size)), lambda: b.gradient_hyper(t, "sigma2"),
                 lambda: f.gradient(t, covariance=C), lambda: f.value(t, spectrum=[1, 2, 3, 4, 5])):
        with pytest.raises(StatvaeError):
            call()
    if bad in ("short", "matrix"):  # the unchecked path still tests the shape
        with pytest.raises(StatvaeError):
            b.gradient(t, check=False)


arrays = st.integers(0, 3).flatmap(lambda k: st.lists(
    st.floats(allow_nan=True, allow_infinity=True, width=64), min_size=k * k, max_size=k * k).map(
    lambda xs, k=k: np.array(xs, dtype=float).reshape(k, k)))


@settings(max_examples=60, deadline=None)
@given(a=arrays, i=st.integers(0, 8), flip=st.booleans(), transpose=st.booleans())
def test_same_bytes_is_a_bytewise_comparison(a, i, flip, transpose):
    from statvae.numeric.bundle import same_bytes

    b = a.copy()
    if flip and a.size:
        b.flat[i % a.size] = -b.flat[i % a.size]  # also 0.0 -> -0.0: equal numbers, different bytes
    x, y = (a.T, b.T) if transpose else (a, b)  # non-contiguous views take numpy's route
    assert same_bytes(x, y) == (x.tobytes() == y.tobytes())
    assert not same_bytes(a, a.view(np.int64))  # the same bytes as another dtype are not the same data


def test_snapshot_shares_nothing_with_the_callers_array(setup):
    """The private snapshot may be the bound data block itself, never the caller's memory."""
    f, theta, C = setup
    C = 0.5 * (C + C.T)  # exactly symmetric: the bound block has the same bytes
    g1 = f.gradient(theta, covariance=C, sigma2=0.9)
    entry = f._data_cache[0]
    assert not np.shares_memory(entry.snapshot, C)
    C[2, 2] += 1.0
    assert not np.array_equal(f.gradient(theta, covariance=C, sigma2=0.9), g1)


def test_model_defaults_are_read_as_floats():
    f = statvae.LinearVAE(4, 2, sigma2=0.9, beta=1.2).compile()
    theta = random_parameters(f.layout, np.random.default_rng(0))
    spec = [4.0, 3.0, 2.0, 1.0]
    assert np.array_equal(f.gradient(theta, spectrum=spec), f.bind(spectrum=spec, sigma2=0.9, beta=1.2).gradient(theta))
