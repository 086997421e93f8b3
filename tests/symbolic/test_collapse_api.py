"""The collapse analysis API: inputs, errors, and consistency of its views."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import statvae


def test_critical_needs_values_and_known_names():
    a = statvae.LinearVAE(3, 1, beta=None).collapse()
    with pytest.raises(statvae.AnalysisError, match="sigma2 has no value"):
        a.critical("beta", spectrum=[1, 2, 3])
    with pytest.raises(statvae.ModelError, match="not a hyper-parameter"):
        a.critical("gamma", spectrum=[1, 2, 3])
    with pytest.raises(statvae.ModelError, match="not a hyper-parameter"):
        a.critical("beta", spectrum=[1, 2, 3], sigma2=1, gamma=2)


@pytest.mark.parametrize("kwargs,needle", [
    (dict(spectrum=[1, -2, 3]), "negative"),
    (dict(spectrum=[1, np.nan, 3]), "NaN"),
    (dict(spectrum=[]), "empty"),
    (dict(spectrum=[1, 2]), "dimension 3"),
    (dict(covariance=np.array([[1, 2, 0], [0, 1, 0], [0, 0, 1.0]])), "not symmetric"),
    (dict(covariance=-np.eye(3)), "not positive semi-definite"),
    (dict(covariance=np.eye(2)), "must be 3x3"),
    (dict(), "exactly once"),
    (dict(spectrum=[1, 2, 3], covariance=np.eye(3)), "exactly once"),
])
def test_bad_data(kwargs, needle):
    a = statvae.LinearVAE(3, 1).collapse()
    with pytest.raises(statvae.DataError, match=needle):
        a.critical("sigma2", **kwargs)


def test_no_critical_value_is_an_error():
    a = statvae.LinearVAE(3, 1, prior_variance=None).collapse()
    with pytest.raises(statvae.AnalysisError, match="for every prior_variance"):
        a.critical("prior_variance", spectrum=[1, 2, 3], sigma2=1)


def test_condition_holds_exactly_when_numerically_stable():
    a = statvae.LinearVAE(3, 2, beta=None, weight_decay_dec=None).collapse()
    rng = np.random.default_rng(0)
    for _ in range(30):
        spec = rng.uniform(0.1, 3, 3)
        vals = dict(sigma2=rng.uniform(0.1, 4), beta=rng.uniform(0.2, 3), weight_decay_dec=rng.uniform(0, 1))
        sub = {statvae.model.hyper.symbol(k): v for k, v in vals.items()}
        holds = all(bool(a.condition.xreplace({**sub, sp.Symbol("x_eig_i", positive=True): s})) for s in spec)
        assert holds == a.stable(spectrum=spec, **vals)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.floats(0.05, 5.0), min_size=1, max_size=6), st.integers(1, 4), st.floats(0.2, 3.0))
def test_ascent_directions_count_modes_above_threshold(spec, n, beta):
    """Morse index of collapse: n for every eigenvalue above beta sigma'^2 (the multiplicity of the kernel)."""
    a = statvae.LinearVAE(len(spec), n, beta=beta).collapse()
    sigma2 = float(np.median(spec)) / beta * 1.0001
    expected = n * sum(s > beta * sigma2 for s in spec)
    assert a.ascent_directions(spectrum=spec, sigma2=sigma2) == expected


def test_critical_point_object_and_latex():
    a = statvae.LinearVAE(3, 2).collapse()
    (cp,) = a.critical_points("sigma2", spectrum=[3, 2, 1])
    assert cp.stable_side == "above" and cp.method == "closed form" and cp.mode == {"x": [0]}
    assert statvae.latex(cp) == r"\sigma'^{2}_{c} = 3"


def test_blocks_expose_eigenvalues_and_determinant():
    a = statvae.LinearVAE(3, 2).collapse()
    b = a.latent_blocks[0]
    s, x = statvae.model.hyper.symbol("sigma2"), sp.Symbol("x_eig_i", positive=True)
    assert sp.simplify(b.determinant - x * (s - x) / s**2) == 0
    ev = b.eigenvalues
    assert sum(ev.values()) == 2
    assert sp.simplify(sum(k * v for k, v in ev.items()) - b.matrix.trace()) == 0


def test_hierarchical_equal_betas_flat_block_is_degenerate_not_unstable():
    a = statvae.HierarchicalVAE(3, (2, 1)).collapse()
    assert [b.labels for b in a.degenerate_blocks] == [["U^{(2)}_{jk}", "W^{(2)}_{kj}"]]
    assert a.stable(spectrum=[1, 0.5, 0.2], sigma2=2)
    assert a.critical("sigma2", spectrum=[1, 0.5, 0.2]).value == 1.0
