"""The per-mode Hessian (derived once for symbolic sizes) equals the explicit-entry Hessian.

The explicit Hessian is derived independently: the objective of the model at
its real size, differentiated entry by entry, at a collapsed point found by
solving that model's own stationary equations.
"""

import numpy as np
import pytest
import sympy as sp

import statvae
from catalogue import all_models


@pytest.mark.parametrize("label,model", all_models(), ids=[m[0] for m in all_models()])
def test_assembled_equals_explicit_eigen_form(label, model):
    a = model.collapse()
    point, h_explicit, obj = a.explicit_hessian(form="eigen")
    h_blocks = a.hessian()
    diff = (h_explicit - h_blocks).applyfunc(sp.simplify)
    assert diff == sp.zeros(*diff.shape), label


def _random_covariance(rng, k, spectrum=None):
    q, _ = np.linalg.qr(rng.standard_normal((k, k)))
    s = rng.uniform(0.2, 3.0, size=k) if spectrum is None else np.asarray(spectrum)
    return (q * s) @ q.T


@pytest.mark.parametrize("factory,dims", [
    (lambda: statvae.LinearVAE(3, 2, sigma2=1.3, beta=0.8), 3),
    (lambda: statvae.LinearVAE(2, 2, sigma2=0.9, encoder="full", weight_decay_dec=0.2), 2),
    (lambda: statvae.HierarchicalVAE(2, (2, 1), sigma2=1.1, betas=(1, 2)), 2),
])
def test_full_covariance_rotation_preserves_hessian_spectrum(factory, dims):
    """Plain and hierarchical: a rotation of data space is orthogonal on parameters."""
    rng = np.random.default_rng(3)
    model = factory()
    cov = _random_covariance(rng, dims)
    a = model.collapse()
    _, h_full, _ = a.explicit_hessian(covariance=cov)
    h_blocks = a.hessian(spectra=a.spectra(covariance=cov))
    ev1 = np.linalg.eigvalsh(np.array(h_full, dtype=float))
    ev2 = np.linalg.eigvalsh(np.array(h_blocks, dtype=float))
    np.testing.assert_allclose(ev1, ev2, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("sigma2", [0.3, 0.8, 2.5])
def test_conditional_gauge_preserves_inertia_and_determinant(sigma2):
    """Conditional: the canonical gauge y -> y - C* x is unimodular on parameters."""
    rng = np.random.default_rng(7)
    model = statvae.ConditionalVAE(2, 2, 1, sigma2=sigma2, beta=1.2)
    cov = _random_covariance(rng, 4)
    a = model.collapse()
    point, h_full, _ = a.explicit_hessian(covariance=cov)
    # the collapsed direct map is the regression of y on x, found by the solver
    c_star = cov[2:, :2] @ np.linalg.inv(cov[:2, :2])
    got = np.array([[float(point[sp.Symbol(f"C_{r + 1}_{c + 1}", real=True)]) for c in range(2)] for r in range(2)])
    np.testing.assert_allclose(got, c_star, rtol=1e-10)
    h_blocks = a.hessian(spectra=a.spectra(covariance=cov))
    f, b = np.array(h_full, dtype=float), np.array(h_blocks, dtype=float)
    np.testing.assert_allclose(np.linalg.det(f), np.linalg.det(b), rtol=1e-8)
    ef, eb = np.linalg.eigvalsh(f), np.linalg.eigvalsh(b)
    assert (ef > 0).sum() == (eb > 0).sum()
    assert (ef < 0).sum() == (eb < 0).sum()


def test_block_multiplicities_count_every_parameter():
    """sum over blocks of size x multiplicity = number of parameters, for symbolic sizes."""
    for model in [statvae.LinearVAE(2, 2, encoder="full", decoder_variance="learned"),
                  statvae.ConditionalVAE(1, 2, 2), statvae.HierarchicalVAE(2, (2, 2), encoders=("full", "diagonal"))]:
        a = model.collapse()
        total = sum(b.matrix.shape[0] * b.multiplicity for b in a.blocks)
        for dims in [(3, 2, 4), (5, 1, 2), (2, 3, 3)]:
            sizes = dict(zip(model.dims, dims))
            bigger = model.resized(**sizes)
            from statvae.symbolic.parameters import build_parameters

            sub = {a.structure.dims[k]: v for k, v in sizes.items()}
            assert total.xreplace(sub) == len(build_parameters(bigger))


def test_collapsed_point_is_derived_and_stationary():
    a = statvae.LinearVAE(2, 2, decoder_variance="learned", prior_variance=3).collapse()
    point, _, obj = a.explicit_hessian()
    assert point[sp.Symbol("D_1_1", positive=True)] == 3
    xi = [sp.Symbol(f"x_eig_{i}", positive=True) for i in (1, 2)]
    assert sp.simplify(point[sp.Symbol("sigma2", positive=True)] - (xi[0] + xi[1]) / 2) == 0
    assert sp.simplify(obj.terms["kl"].xreplace(point)) == 0


def test_per_mode_derivation_does_not_grow_with_size():
    import time

    from statvae.symbolic import modes

    modes._CACHE.clear()
    t0 = time.perf_counter()
    a = statvae.LinearVAE(64, 8).collapse()
    assert a.critical("sigma2", spectrum=np.linspace(3, 0.1, 64)).value == pytest.approx(3.0, rel=1e-15)
    assert time.perf_counter() - t0 < 10
    assert len(a.blocks) == 2
