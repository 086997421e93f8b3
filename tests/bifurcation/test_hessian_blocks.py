"""Hessian blocks without full-width HVP rows (``BoundObjective.hessian_blocks``) and the tracker's cosets.

Checked against finite differences of the gradient, against the stacked-HVP route the tracker used before
(bit for bit), and the coset bookkeeping of ``Span`` against a plain reimplementation of its definitions.
"""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import statvae
from catalogue import all_models
from statvae.bifurcation.stability import _eigenvalues
from statvae.bifurcation.symmetry import CharacterTable, Characters
from statvae.model.layout import ParameterError
from statvae.numeric import random_parameters
from statvae.numeric.bundle import BlockPlan
from strength import full_strength

MODELS = all_models()


def _bound(model, rng):
    f = model.compile()
    k = sum(v.dim for v in model.graph.observed())
    spectrum = np.sort(rng.uniform(0.3, 3.0, k))[::-1]
    return f, f.bind(spectrum=spectrum, **{n: float(rng.uniform(0.5, 1.5)) for n in model.values})


def _directions(bound, groups):
    dirs = np.zeros((max(groups), bound.owner.layout.size))
    for s, idx in groups.items():
        dirs[np.broadcast_to(np.arange(s), idx.shape), idx] = 1.0
    return dirs


def _gather(cols, groups):
    return {s: cols[np.arange(s)[None, None, :], idx[:, :, None]] for s, idx in groups.items()}


def _stacked(bound, theta, groups):
    """The route before hessian_blocks: compressed unit directions as full vectors through ``hvp``, gathered."""
    return _gather(np.atleast_2d(bound.hvp(theta, _directions(bound, groups))), groups)


def _per_block(bound, theta, groups):
    """The same, one parameter block of the directions at a time (``hvp``'s per-block products), summed in order."""
    dirs = _directions(bound, groups)
    cols = np.zeros_like(dirs)
    for blk in bound.owner.layout.blocks:
        part = np.zeros_like(dirs)
        part[:, blk.slice] = dirs[:, blk.slice]
        rows = np.nonzero(np.any(part != 0, axis=1))[0]
        if len(rows):
            cols[rows] += np.atleast_2d(bound.hvp(theta, part[rows]))
    return _gather(cols, groups)


def _fd_hessian(bound, theta, h=1e-4):
    """Central differences of the gradient: column j is d gradient / d theta_j (independent of any HVP code)."""
    cols = []
    for j in range(len(theta)):
        e = np.zeros(len(theta))
        e[j] = h
        cols.append((bound.gradient(theta + e) - bound.gradient(theta - e)) / (2 * h))
    return np.array(cols).T


def _close(a, b, scale):
    return np.abs(a - b).max() <= 1e-6 * max(1.0, scale)


@settings(max_examples=12, deadline=None)
@given(st.sampled_from(range(len(MODELS))), st.integers(0, 2**32 - 1), st.integers(1, 6))
def test_one_block_of_any_indices_matches_finite_differences_and_the_stacked_route(which, seed, size):
    rng = np.random.default_rng(seed)
    f, b = _bound(MODELS[which][1], rng)
    theta = random_parameters(f.layout, rng)
    S = rng.choice(f.layout.size, min(size, f.layout.size), replace=False)
    groups = {len(S): S[None, :]}
    got = b.hessian_blocks(theta, f.block_plan(groups))
    assert set(got) == {len(S)} and got[len(S)].shape == (1, len(S), len(S))
    assert np.array_equal(got[len(S)], _stacked(b, theta, groups)[len(S)])
    fd = _fd_hessian(b, theta)
    assert _close(got[len(S)][0], fd[np.ix_(S, S)], np.abs(fd).max())


test_one_block_of_any_indices_full = full_strength(
    test_one_block_of_any_indices_matches_finite_differences_and_the_stacked_route,
    st.sampled_from(range(len(MODELS))), st.integers(0, 2**32 - 1), st.integers(1, 12), max_examples=80,
    deadline=None)


@settings(max_examples=10, deadline=None)
@given(st.sampled_from(range(len(MODELS))), st.integers(0, 2**32 - 1), st.integers(0, 3))
def test_coset_blocks_at_a_symmetric_point(which, seed, generators):
    """At a point of a fixed-point subspace the Hessian is block diagonal over the cosets (finite differences
    say so), and hessian_blocks gives every block, equal bit for bit to the per-block HVPs summed in order."""
    rng = np.random.default_rng(seed)
    model = MODELS[which][1]
    f, b = _bound(model, rng)
    chars = Characters(model)
    span = chars.span_of(np.zeros(f.layout.size))
    generators = min(generators, f.layout.size)  # a catalogue model may have fewer parameters than generators
    for k in rng.choice(f.layout.size, generators, replace=False) if generators else []:
        span.add(chars.chars[k])
    inside = np.zeros(f.layout.size, dtype=bool)
    inside[span.fixed_subspace()] = True
    theta = np.where(inside, random_parameters(f.layout, rng), 0.0)
    try:
        f.layout.check(theta)
    except ParameterError:
        assume(False)  # a covariance with its off-subspace entries removed may not be positive definite
    groups = {s: idx for s, (_, idx) in span.groups().items()}
    got = b.hessian_blocks(theta, f.block_plan(groups))
    ref = _per_block(b, theta, groups)
    assert all(np.array_equal(got[s], ref[s]) for s in groups)
    stacked = _stacked(b, theta, groups)  # hvp's one product along every block adds in another order
    assert all(np.allclose(got[s], stacked[s], rtol=1e-13, atol=1e-13 * max(1.0, np.abs(ref[s]).max()))
               for s in groups)
    fd = _fd_hessian(b, theta)
    scale = np.abs(fd).max()
    coset = np.array([span.coset_of(i) for i in range(f.layout.size)])
    assert _close(np.where(coset[:, None] == coset[None, :], 0.0, fd), 0.0, scale)  # block diagonal
    for s, idx in groups.items():
        for k, blk in enumerate(idx):
            assert _close(got[s][k], fd[np.ix_(blk, blk)], scale)


def test_other_paths_take_the_stacked_route():
    model = statvae.LinearVAE(3, 2)
    rng = np.random.default_rng(3)
    theta = random_parameters(model.compile().layout, rng)
    exact = model.compile(path="explicit")
    b = exact.bind(spectrum=[3.0, 2.0, 1.0], sigma2=0.7)
    h = b.hessian(theta)
    for blk in ([0, 6, 12], [1, 7], [13]):
        plan = exact.block_plan([np.array(blk)])
        assert not plan.steps  # no generated pair products on the explicit path
        got = b.hessian_blocks(theta, plan)[len(blk)][0]
        assert np.allclose(got, h[np.ix_(blk, blk)], rtol=1e-12, atol=1e-12)


def test_block_plan_checks_its_blocks():
    f = statvae.LinearVAE(3, 2).compile()
    for bad in ([np.array([], dtype=int)], [np.array([0, 1]), np.array([1, 2])], [np.array([f.layout.size])],
                [np.array([-1])]):
        with pytest.raises(ParameterError):
            f.block_plan(bad)
    plan = f.block_plan([np.array([4, 0]), np.array([2]), np.array([5, 1])])
    assert list(plan.groups) == [1, 2] and plan.width == 2
    assert plan.groups[2].tolist() == [[4, 0], [5, 1]]
    assert isinstance(plan, BlockPlan)


def test_the_tracker_gives_the_same_diagram_by_the_stacked_route(monkeypatch):
    """The whole track, with every Hessian block through stacked HVPs instead: the same branch points, bit for bit."""
    model = statvae.LinearVAE(5, 3)
    spec = [4.0, 3.0, 2.0, 1.5, 1.0]
    d1 = statvae.track(model, spectrum=spec, start=5.0, stop=0.8)
    monkeypatch.setattr(statvae.numeric.bundle.CompiledObjective, "block_plan",
                        lambda self, blocks: BlockPlan(self.layout, blocks, None))
    d2 = statvae.track(model, spectrum=spec, start=5.0, stop=0.8)
    p1 = sorted((s.branch, s.parameter, s.kernel_dim) for s in d1.special_points("branch point"))
    p2 = sorted((s.branch, s.parameter, s.kernel_dim) for s in d2.special_points("branch point"))
    assert p1 == p2 and len(p1) >= 5
    assert [b.points for b in d1.branches.values()] == [b.points for b in d2.branches.values()]


# -- cosets -------------------------------------------------------------------------------------------------------

def _naive(span, chars):
    """Blocks, keys, fixed subspace and coset of every entry, straight from the definitions (Span.reduce)."""
    red = [span.reduce(c) for c in chars]
    keys = sorted(set(red))
    blocks = [[k for k, r in enumerate(red) if r == key] for key in keys]
    return keys, blocks, [k for k, r in enumerate(red) if r == 0], red


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 255), min_size=1, max_size=40), st.lists(st.integers(1, 255), max_size=4))
def test_span_cosets_match_their_definition(chars, gens):
    table = CharacterTable(chars)
    span = table.span_of(np.zeros(len(chars)))
    for g in gens:
        span.add(g)
    keys, blocks, fixed, red = _naive(span, chars)
    assert span.block_keys() == keys
    assert [b.tolist() for b in span.blocks()] == blocks
    assert span.fixed_subspace().tolist() == fixed
    assert [span.coset_of(i) for i in range(len(chars))] == red
    for s, (ks, idx) in span.groups().items():
        assert idx.shape == (len(ks), s)
        for k, row in zip(ks, idx):
            assert row.tolist() == blocks[keys.index(k)]
    assert sum(len(ks) for ks, _ in span.groups().values()) == len(keys)
    assert sorted(span.groups()) == sorted({len(b) for b in blocks})


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([1, 2]), st.floats(1e-8, 1e8))
def test_closed_form_eigenvalues_of_small_blocks(seed, size, scale):
    rng = np.random.default_rng(seed)
    m = rng.standard_normal((20, size, size)) * scale
    m = (m + np.swapaxes(m, 1, 2)) / 2
    got = np.sort(_eigenvalues(m), axis=1)
    ref = np.linalg.eigvalsh(m)
    tol = 8 * np.finfo(float).eps * np.abs(m).reshape(20, -1).max(axis=1)
    assert np.all(np.abs(got - ref) <= tol[:, None])
