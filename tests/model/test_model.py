"""Model descriptions: presets, graph structure, validation errors."""

import networkx as nx
import pytest
import sympy as sp

import statvae
from statvae import VAEModel
from statvae.model import Map, ModelGraph, Variable
from statvae.model import hyper as H


def test_presets_build_graphs():
    m = statvae.LinearVAE(4, 2)
    assert isinstance(m.graph.graph, nx.DiGraph)
    assert [v.name for v in m.graph.observed()] == ["x"] and [v.name for v in m.graph.latents()] == ["z"]
    assert {(e.source, e.target, e.role) for e in m.graph.maps()} == {("z", "x", "generative"),
                                                                      ("x", "z", "inference")}
    c = statvae.ConditionalVAE(2, 3, 1)
    assert [e.name for e in c.graph.maps()] == ["A", "B", "W", "C"]
    h = statvae.HierarchicalVAE(5, (3, 2))
    assert h.dims == {"x": 5, "z1": 3, "z2": 2}
    assert set(h.values) >= {"beta1", "beta2", "tau2", "sigma2"}


def test_unset_values_are_symbols_and_numbers_are_exact():
    m = statvae.LinearVAE(3, 1, beta=0.5, weight_decay_enc=None)
    assert m.values["sigma2"] == H.symbol("sigma2")
    assert m.values["beta"] == sp.Rational(1, 2)
    assert m.values["weight_decay_enc"] == H.symbol("weight_decay_enc")
    assert set(m.free_hyper()) == {"sigma2", "weight_decay_enc"}
    b = sp.Symbol("b", positive=True)
    assert statvae.LinearVAE(2, 1, beta=b).values["beta"] == b


def test_latent_dim_larger_than_data_dim_is_legal():
    a = statvae.LinearVAE(2, 5).collapse()
    assert a.critical("sigma2", spectrum=[2.0, 1.0]).value == 2.0


@pytest.mark.parametrize("call,needle", [
    (lambda: statvae.LinearVAE(0, 1), "positive integer"),
    (lambda: statvae.LinearVAE(3, -1), "positive integer"),
    (lambda: statvae.LinearVAE(2.5, 1), "positive integer"),
    (lambda: statvae.LinearVAE(3, 1, encoder="banana"), "encoder"),
    (lambda: statvae.LinearVAE(3, 1, encoder=-0.5), "> 0"),
    (lambda: statvae.LinearVAE(3, 1, decoder_variance="maybe"), "decoder_variance"),
    (lambda: statvae.LinearVAE(3, 1, sigma2=-1), "sigma2 must be > 0"),
    (lambda: statvae.LinearVAE(3, 1, sigma2=float("nan")), "finite"),
    (lambda: statvae.LinearVAE(3, 1, prior_variance=0), "prior_variance must be > 0"),
    (lambda: statvae.LinearVAE(3, 1, weight_decay_dec=-0.1), "weight_decay_dec must be >= 0"),
    (lambda: statvae.LinearVAE(3, 1, beta="x"), "number"),
    (lambda: statvae.LinearVAE(3, 1, decoder_variance="learned", sigma2=2), "free parameter"),
    (lambda: statvae.HierarchicalVAE(3, (1,)), "pair"),
    (lambda: statvae.HierarchicalVAE(3, (1, 1), betas=(1, -2)), "beta2 must be > 0"),
    (lambda: statvae.LinearVAE(3, 1).with_values(gamma=1), "not a hyper-parameter"),
])
def test_bad_descriptions_raise_one_line(call, needle):
    with pytest.raises(statvae.ModelError) as e:
        call()
    assert needle in str(e.value) and "\n" not in str(e.value)


def _custom_graph(extra_maps=()):
    g = ModelGraph()
    g.add_variable(Variable("x", 3, True, "x", "i", variance="sigma2"))
    g.add_variable(Variable("z1", 1, False, "z_1", "j", variance="prior_variance", encoder="diagonal",
                            beta="beta1", covariance_name="D1"))
    g.add_variable(Variable("z2", 1, False, "z_2", "k", variance="prior_variance", encoder="diagonal",
                            beta="beta2", covariance_name="D2"))
    g.add_map(Map("U1", "z1", "x", "generative"))
    g.add_map(Map("W1", "x", "z1", "inference"))
    for m in extra_maps:
        g.add_map(m)
    return g


def test_cycle_is_rejected():
    g = _custom_graph([Map("A", "z1", "z2", "inference"), Map("B", "z2", "z1", "inference")])
    with pytest.raises(statvae.ModelError, match="cycle"):
        VAEModel(g)


def test_custom_graph_is_analysed():
    g = _custom_graph([Map("W2", "z1", "z2", "inference"), Map("U2", "z2", "z1", "generative")])
    m = VAEModel(g, {"beta1": 1, "beta2": 2, "prior_variance": 1})
    a = m.collapse()
    assert a.critical("sigma2", spectrum=[3, 2, 1]).value == 3.0


@pytest.mark.parametrize("maps,needle", [
    ([Map("Q", "x", "nowhere", "inference")], "unknown variable"),
    ([Map("Q", "x", "x", "generative")], "cycle"),
    ([Map("W1", "x", "z2", "inference")], "used twice"),
    ([Map("Q", "z2", "x", "sideways")], "role"),
])
def test_bad_maps(maps, needle):
    with pytest.raises(statvae.ModelError, match=needle):
        _custom_graph(maps)


def test_latent_without_encoder_is_rejected():
    with pytest.raises(statvae.ModelError, match="no inference map"):
        VAEModel(_custom_graph())


def test_errors_are_statvae_errors():
    assert issubclass(statvae.ModelError, statvae.StatvaeError)
    assert issubclass(statvae.DataError, statvae.StatvaeError)
    assert issubclass(statvae.AnalysisError, statvae.StatvaeError)
