"""Random valid model graphs for property tests, built twice: as statvae models and as reference specs.

A *description* is a plain dict drawn by :func:`descriptions` (a hypothesis
strategy); :func:`to_statvae` turns it into a :class:`statvae.VAEModel` and
:func:`to_spec` into a spec for the independent reference
(``tests/graph_reference.py``, written without reading statvae).  The two
share only the description, never code.

Shapes covered: 1-3 observed variables (modelled outputs with their own or
a shared noise variance, learned or fixed; conditioning inputs; constant
inputs whose maps are biases), 1-3 latents in one or two levels (a
second-level latent generates a first-level one and reads it), encoders
reading any non-empty subset of the observed variables, direct maps from
inputs to outputs, every encoder kind, KL weights per latent or shared,
weight decays per map (zero or not).  Data: a random joint second moment
with non-zero cross-moments (a constant input contributes the means).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import statvae
from statvae.model.graph import Map, ModelGraph, Variable

ENCODERS = ("diagonal", "full", "isotropic", "fixed")


@st.composite
def descriptions(draw, max_obs=3, max_latents=3, learned=True):
    """A random valid graph description with hyper-parameter values and a data seed."""
    n_obs = draw(st.integers(1, max_obs))
    obs = []
    for k in range(n_obs):
        kind = "output" if k == 0 else draw(st.sampled_from(["output", "input", "constant"]))
        dim = 1 if kind == "constant" else draw(st.integers(1, 3))
        obs.append({"name": f"x{k}", "dim": dim, "kind": kind})
    outputs = [o for o in obs if o["kind"] == "output"]
    shared_noise = draw(st.booleans())
    hyper = {}
    for o in outputs:
        if learned and draw(st.integers(0, 4)) == 0:
            o["variance"] = "learned"
            continue
        name = "sigma2" if shared_noise else f"sigma2_{o['name']}"
        o["variance"] = name
        hyper.setdefault(name, draw(st.floats(0.3, 3.0)))
    n_lat = draw(st.integers(1, max_latents))
    two_level = n_lat >= 2 and draw(st.booleans())
    lats, maps = [], []
    for k in range(n_lat):
        top = two_level and k == n_lat - 1
        enc = draw(st.sampled_from(ENCODERS))
        lat = {"name": f"z{k}", "dim": draw(st.integers(1, 2)), "level": 2 if top else 1, "encoder": enc}
        lat["beta"] = "beta" if draw(st.booleans()) else f"beta_z{k}"
        hyper.setdefault(lat["beta"], draw(st.floats(0.5, 2.0)))
        if enc == "fixed":
            lat["encoder_variance"] = f"d0_z{k}"
            hyper[lat["encoder_variance"]] = draw(st.floats(0.3, 2.0))
        lats.append(lat)
    firsts = [z for z in lats if z["level"] == 1]
    top = [z for z in lats if z["level"] == 2]

    def decay(mname):
        if draw(st.integers(0, 2)) == 0:
            return None
        name = f"eta_{mname}"
        hyper[name] = draw(st.sampled_from([0.0, 0.0, 0.05, 0.3]))
        return name

    for z in firsts:  # decoders into a non-empty subset of the outputs
        targets = draw(st.lists(st.sampled_from(outputs), min_size=1, max_size=len(outputs), unique_by=lambda o: o["name"]))
        for o in targets:
            mname = f"W_{z['name']}_{o['name']}"
            maps.append({"name": mname, "source": z["name"], "target": o["name"], "role": "generative",
                         "weight_decay": decay(mname)})
        sources = draw(st.lists(st.sampled_from(obs), min_size=1, max_size=len(obs), unique_by=lambda o: o["name"]))
        for o in sources:
            mname = f"V_{o['name']}_{z['name']}"
            maps.append({"name": mname, "source": o["name"], "target": z["name"], "role": "inference",
                         "weight_decay": decay(mname)})
    for o in outputs:  # every output needs a generative parent
        if not any(m["target"] == o["name"] for m in maps):
            z = firsts[0]
            maps.append({"name": f"W_{z['name']}_{o['name']}", "source": z["name"], "target": o["name"],
                         "role": "generative", "weight_decay": None})
    for u in top:
        children = draw(st.lists(st.sampled_from(firsts), min_size=1, max_size=len(firsts),
                                 unique_by=lambda z: z["name"]))
        for z in children:
            z["variance"] = "tau2"
            hyper.setdefault("tau2", draw(st.floats(0.5, 2.0)))
            maps.append({"name": f"U_{u['name']}_{z['name']}", "source": u["name"], "target": z["name"],
                         "role": "generative", "weight_decay": decay(f"U_{u['name']}_{z['name']}")})
            maps.append({"name": f"R_{z['name']}_{u['name']}", "source": z["name"], "target": u["name"],
                         "role": "inference", "weight_decay": decay(f"R_{z['name']}_{u['name']}")})
        if not children:
            return draw(st.nothing())
    for z in lats:
        z.setdefault("variance", "prior_variance")
    hyper.setdefault("prior_variance", 1.0)
    for o in obs:  # direct maps (regressions, biases) from inputs into outputs
        if o["kind"] == "output":
            continue
        for t in outputs:
            if draw(st.booleans()):
                mname = f"C_{o['name']}_{t['name']}"
                maps.append({"name": mname, "source": o["name"], "target": t["name"], "role": "generative",
                             "weight_decay": decay(mname) if draw(st.integers(0, 3)) == 0 else None})
    seed = draw(st.integers(0, 2**31 - 1))
    scale = draw(st.sampled_from([1.0, 1.0, 1e-3, 1e3]))
    return {"observed": obs, "latents": lats, "maps": maps, "hyper": hyper, "seed": seed, "scale": scale}


def to_statvae(desc, free=()) -> statvae.VAEModel:
    """The statvae model of a description (hyper-parameters in ``free`` left free)."""
    g = ModelGraph()
    for o in desc["observed"]:
        g.add_variable(Variable(o["name"], o["dim"], True, variance=o.get("variance")))
    for z in desc["latents"]:
        g.add_variable(Variable(z["name"], z["dim"], False, variance=z["variance"], encoder=z["encoder"],
                                encoder_variance=z.get("encoder_variance"), beta=z["beta"]))
    for m in desc["maps"]:
        g.add_map(Map(m["name"], m["source"], m["target"], m["role"], m["weight_decay"]))
    values = {k: (None if k in free else v) for k, v in desc["hyper"].items()}
    return statvae.VAEModel(g, values)


def to_spec(desc, **hyper) -> dict:
    """The reference spec of a description, with some hyper-parameter values replaced."""
    h = {**desc["hyper"], **hyper}
    variables = []
    for o in desc["observed"]:
        variables.append({"name": o["name"], "dim": o["dim"], "observed": True, "variance": o.get("variance")})
    for z in desc["latents"]:
        v = {"name": z["name"], "dim": z["dim"], "observed": False, "variance": z["variance"],
             "encoder": z["encoder"], "beta": z["beta"]}
        if z["encoder"] == "fixed":
            v["encoder_variance"] = z["encoder_variance"]
        variables.append(v)
    maps = [{"name": m["name"], "source": m["source"], "target": m["target"], "role": m["role"],
             "weight_decay": m["weight_decay"]} for m in desc["maps"]]
    return {"hyper": h, "variables": variables, "maps": maps}


def second_moment(desc) -> np.ndarray:
    """A random joint second moment ``E[o o^T]`` of the observed variables, cross-moments non-zero.

    ``Sigma + mu mu^T`` with a random covariance ``Sigma`` (times
    ``desc["scale"]``); a constant input has no variance and mean 1, so its
    row holds the means of the others (``mu = 0`` without constant inputs).
    """
    rng = np.random.default_rng(desc["seed"])
    obs = desc["observed"]
    offs = np.cumsum([0] + [o["dim"] for o in obs])
    k = int(offs[-1])
    a = rng.standard_normal((k, k + 2))
    cov = a @ a.T / (k + 2) * desc["scale"]
    const = [int(offs[i]) for i, o in enumerate(obs) if o["kind"] == "constant"]
    mean = np.zeros(k)
    if const:
        mean = rng.standard_normal(k) * np.sqrt(desc["scale"])
        for j in const:
            cov[j, :] = cov[:, j] = 0.0
            mean[j] = 1.0
    s = cov + np.outer(mean, mean)
    return (s + s.T) / 2
