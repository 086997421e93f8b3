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


class _Draw:
    """The choices of :func:`skeleton`, from a numpy generator (plain function of a seed)."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def integers(self, lo, hi):
        return int(self.rng.integers(lo, hi + 1))

    def boolean(self):
        return bool(self.rng.integers(0, 2))

    def choice(self, items):
        return items[int(self.rng.integers(0, len(items)))]

    def subset(self, items):
        """A non-empty subset, in order."""
        while True:
            pick = [x for x in items if self.boolean()]
            if pick:
                return pick

    def uniform(self, lo, hi):
        return float(self.rng.uniform(lo, hi))


def skeleton(seed: int, max_obs: int = 3, max_latents: int = 3, max_dim: int = 3, learned: bool = True) -> dict:
    """A random valid graph description (structure, dimensions, hyper-parameter values) from a seed."""
    d = _Draw(seed)
    n_obs = d.integers(1, max_obs)
    obs = []
    for k in range(n_obs):
        kind = "output" if k == 0 else d.choice(["output", "input", "constant"])
        dim = 1 if kind == "constant" else d.integers(1, max_dim)
        obs.append({"name": f"x{k}", "dim": dim, "kind": kind})
    outputs = [o for o in obs if o["kind"] == "output"]
    shared_noise = d.boolean()
    hyper = {}
    for o in outputs:
        if learned and d.integers(0, 4) == 0:
            o["variance"] = "learned"
            continue
        name = "sigma2" if shared_noise else f"sigma2_{o['name']}"
        o["variance"] = name
        hyper.setdefault(name, d.uniform(0.3, 3.0))
    n_lat = d.integers(1, max_latents)
    two_level = n_lat >= 2 and d.boolean()
    lats, maps = [], []
    for k in range(n_lat):
        top = two_level and k == n_lat - 1
        enc = d.choice(ENCODERS)
        lat = {"name": f"z{k}", "dim": d.integers(1, 2), "level": 2 if top else 1, "encoder": enc}
        lat["beta"] = "beta" if d.boolean() else f"beta_z{k}"
        hyper.setdefault(lat["beta"], d.uniform(0.5, 2.0))
        if enc == "fixed":
            lat["encoder_variance"] = f"d0_z{k}"
            hyper[lat["encoder_variance"]] = d.uniform(0.3, 2.0)
        lats.append(lat)
    firsts = [z for z in lats if z["level"] == 1]
    top = [z for z in lats if z["level"] == 2]

    def decay(mname):
        if d.integers(0, 2) == 0:
            return None
        name = f"eta_{mname}"
        hyper[name] = d.choice([0.0, 0.0, 0.05, 0.3])
        return name

    for z in firsts:  # decoders into a non-empty subset of the outputs, encoders from any observed subset
        for o in d.subset(outputs):
            mname = f"W_{z['name']}_{o['name']}"
            maps.append({"name": mname, "source": z["name"], "target": o["name"], "role": "generative",
                         "weight_decay": decay(mname)})
        for o in d.subset(obs):
            mname = f"V_{o['name']}_{z['name']}"
            maps.append({"name": mname, "source": o["name"], "target": z["name"], "role": "inference",
                         "weight_decay": decay(mname)})
    for o in outputs:  # every output needs a generative parent
        if not any(m["target"] == o["name"] for m in maps):
            z = firsts[0]
            maps.append({"name": f"W_{z['name']}_{o['name']}", "source": z["name"], "target": o["name"],
                         "role": "generative", "weight_decay": None})
    for u in top:  # a second-level latent generates and reads some first-level ones
        for z in d.subset(firsts):
            z["variance"] = "tau2"
            hyper.setdefault("tau2", d.uniform(0.5, 2.0))
            maps.append({"name": f"U_{u['name']}_{z['name']}", "source": u["name"], "target": z["name"],
                         "role": "generative", "weight_decay": decay(f"U_{u['name']}_{z['name']}")})
            maps.append({"name": f"R_{z['name']}_{u['name']}", "source": z["name"], "target": u["name"],
                         "role": "inference", "weight_decay": decay(f"R_{z['name']}_{u['name']}")})
    for z in lats:
        z.setdefault("variance", "prior_variance")
    hyper.setdefault("prior_variance", 1.0)
    for o in obs:  # direct maps (regressions, biases) from inputs into outputs
        if o["kind"] == "output":
            continue
        for t in outputs:
            if d.boolean():
                mname = f"C_{o['name']}_{t['name']}"
                maps.append({"name": mname, "source": o["name"], "target": t["name"], "role": "generative",
                             "weight_decay": decay(mname) if d.integers(0, 3) == 0 else None})
    return {"observed": obs, "latents": lats, "maps": maps, "hyper": hyper, "skeleton": seed}


def solvable(desc) -> list:
    """Hyper-parameters a test may solve for: fixed noise variances and KL weights."""
    return [n for n in desc["hyper"] if n.startswith("sigma2") or n.startswith("beta")]


@st.composite
def descriptions(draw, skeletons=None, **kw):
    """A random graph description with random values, data seed, data scale and canonical flag.

    ``skeletons``: a list of skeleton seeds to draw the structure from (a
    pool, so that compiled code is reused across examples), or ``None`` for
    any structure.
    """
    seed = draw(st.sampled_from(skeletons)) if skeletons is not None else draw(st.integers(0, 2**31 - 1))
    desc = skeleton(seed, **kw)
    for n in list(desc["hyper"]):  # fresh values for every example
        if n.startswith("eta_"):
            desc["hyper"][n] = draw(st.sampled_from([0.0, 0.05, 0.3]))
        elif n != "prior_variance":
            desc["hyper"][n] = draw(st.floats(0.3, 3.0))
    desc["seed"] = draw(st.integers(0, 2**31 - 1))
    desc["scale"] = draw(st.sampled_from([1.0, 1.0, 1e-3, 1e3]))
    desc["block_diagonal"] = draw(st.integers(0, 3)) == 0
    return desc


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
    if desc.get("block_diagonal"):  # uncorrelated observed variables: the per-mode path applies
        mask = np.zeros((k, k), dtype=bool)
        for i in range(len(obs)):
            mask[offs[i]:offs[i + 1], offs[i]:offs[i + 1]] = True
        s = np.where(mask, s, 0.0)
    return (s + s.T) / 2
