"""The one flat-parameter layout: pack and unpack are inverse, entries agree with the symbolic parameters."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import statvae
from statvae.model.layout import Layout
from statvae.symbolic.parameters import build_parameters

models = st.builds(
    lambda n, k, enc, var: statvae.LinearVAE(n, k, encoder=enc, decoder_variance=var),
    st.integers(1, 4), st.integers(1, 3), st.sampled_from(["diagonal", "full", "isotropic", 0.5]),
    st.sampled_from(["fixed", "learned"]))


def _valid_theta(lay, rng):
    blocks = {}
    for b in lay.blocks:
        if b.kind == "map":
            blocks[b.name] = rng.normal(size=b.shape)
        elif b.kind == "diagonal":
            blocks[b.name] = np.diag(rng.uniform(0.1, 2.0, b.shape[0]))
        elif b.kind == "full":
            a = rng.normal(size=b.shape)
            blocks[b.name] = a @ a.T + np.eye(b.shape[0])
        else:
            blocks[b.name] = float(rng.uniform(0.1, 2.0))
    return blocks


@settings(max_examples=30, deadline=None)
@given(models, st.integers(0, 2 ** 32 - 1))
def test_pack_and_unpack_are_inverse(model, seed):
    lay = Layout(model)
    blocks = _valid_theta(lay, np.random.default_rng(seed))
    theta = lay.pack(**blocks)
    back = lay.unpack(theta, check=True)
    assert set(back) == set(blocks)
    for name, v in blocks.items():
        np.testing.assert_array_equal(back[name], v)
    np.testing.assert_array_equal(lay.pack(**back), theta)  # unpack's output is pack's input, D included


@settings(max_examples=20, deadline=None)
@given(models)
def test_symbolic_parameters_follow_the_layout(model):
    lay, params = Layout(model), build_parameters(model)
    assert len(params) == lay.size
    for e, p in zip(lay.entries(), params.entries):
        assert (p.index, p.coords) == (e.index, e.coords)
        # an isotropic scale d is the one entry of the symbolic block D = d I
        assert p.block == e.block or (p.symbol.name == e.block and lay.by_name[e.block].kind == "isotropic")
