"""Independent plain-numpy reference for ARBITRARY linear-Gaussian VAE graphs.

Like :mod:`reference` (which it reuses for finite differences, the collapsed
point and critical values), this module was written *without* reading or
importing anything from the ``statvae`` package (nor its documentation): it
is an independent check of that package, derived only from the semantics
stated below.  Everything is exact (closed-form Gaussian expectations, no
sampling) and in float64; only numpy is used.

The spec (a plain, JSON-compatible dict)
----------------------------------------
::

    spec = {
      "hyper": {"sigma2": 2.0, "beta": 1.0, "p": 1.0, "eta": 0.1, ...},
      "variables": [
        {"name": "x", "dim": 3, "observed": True, "variance": "sigma2"},
        {"name": "c", "dim": 1, "observed": True, "variance": None},      # input
        {"name": "y", "dim": 2, "observed": True, "variance": "learned"},
        {"name": "z", "dim": 2, "observed": False, "variance": "p",
         "encoder": "diagonal", "encoder_variance": "d0", "beta": "beta"},
      ],
      "maps": [
        {"name": "W", "source": "z", "target": "x", "role": "generative", "weight_decay": "eta"},
        {"name": "V", "source": "x", "target": "z", "role": "inference", "weight_decay": None},
      ],
    }

* Any numeric field given as a string is looked up in ``spec["hyper"]``; a
  number may also be given directly.  The string ``"learned"`` in an
  observed variable's ``variance`` is a keyword (no hyper may be called
  ``"learned"``).
* Variables: ``name``, ``dim`` (int >= 1), ``observed`` (bool) and
  ``variance`` are required.  Observed: ``variance`` is ``None`` (an input
  without a factor of its own), ``"learned"`` (a free parameter) or a
  positive value.  Latent: ``variance`` is a positive value (variance of
  p(z | generative parents), or of the prior N(0, v I) without parents);
  ``encoder`` in ``"diagonal" | "full" | "isotropic" | "fixed"`` (required),
  ``encoder_variance`` (required iff ``"fixed"``: D = d0 I), ``beta``
  (KL weight, default 1.0).
* Maps: ``name``, ``source``, ``target``, ``role`` (``"generative"`` or
  ``"inference"``) are required, ``weight_decay`` (hyper name, number or
  None = 0, must be >= 0) is optional.  The map from s to t has shape
  (t.dim, s.dim).  Inference maps must point into a latent; generative maps
  into a variable with a factor (latent or observed with a variance).
* Rejected with ``ValueError``: unknown/duplicate names, unknown keys, bad
  dims or kinds, self-maps, cycles in the inference graph or in the
  generative graph, a latent without an inference map into it, non-positive
  fixed variances, negative weight decays, name clashes with the generated
  parameter keys ``D:<latent>`` / ``sigma2:<observed>``.

Semantics
---------
Data: the observed variables, stacked in ``variables`` order, are zero-mean
random vectors with the given joint second-moment matrix ``S``
(E[o o^T] = S, nothing centred; a constant input c has S_cc = c^2).
Encoder: every latent z = sum_{inference maps A: p -> z} A p + e_z with
e_z ~ N(0, D_z) independent of everything else (latents processed in a
topological order of the inference graph).  Hence every variable u is a
linear function u = T_u xi of xi = (o, e_z1, e_z2, ...) ~ (0, K),
K = blockdiag(S, D_z1, D_z2, ...), and every second moment is exact.

Objective (maximised)::

    L = sum_{observed v with a variance} E log N(v; sum_{gen M: p -> v} M p, s_v I)
      + sum_{latents z} beta_z (E log N(z; sum_{gen M: p -> z} M p, v_z I) + H[N(0, D_z)])
      - sum_{maps M} eta_M / 2 |M|_F^2

with E log N(v; m, s I_d) = -d/2 log(2 pi s) - E|v - m|^2 / (2 s),
E|v - m|^2 = tr(R K R^T) for v - m = R xi, and H[N(0, D)] =
n/2 log(2 pi e) + 1/2 log det D.  Invalid points (some D not positive
definite, a learned variance <= 0) give ``-inf``.

:func:`graph_terms` returns ``reconstruction`` (sum of the observed factors),
``reconstruction:<v>`` per observed factor, ``kl:<z>`` per latent
(positive: -(E log p(z|pa) + H[q_z]) = E[log q(z|.) - log p(z|pa)]),
``weight_decay`` (positive) and ``total``, so that
``total = reconstruction - sum_z beta_z kl:<z> - weight_decay``.

Parameters
----------
``params`` dicts (for :func:`graph_objective`): every map by its name
(array of shape (t.dim, s.dim)); ``"D:<z>"`` the encoder covariance of
latent z as a full symmetric matrix (optional for a ``"fixed"`` encoder,
where it defaults to d0 I; used as given otherwise, whatever the encoder
kind); ``"sigma2:<v>"`` the variance of every observed v with variance
``"learned"``.  Unknown keys raise ``ValueError``.

Free-parameter vector (:class:`GraphProblem`), in this order: every map in
``maps`` order, row-major (C order); then per latent in ``variables`` order
its encoder-covariance free entries (diagonal: D_11..D_nn; full: upper
triangle row-major, an off-diagonal entry sets both D_jk and D_kj;
isotropic: one scalar d, D = d I; fixed: none); then one learned variance
per observed variable with variance ``"learned"``, in ``variables`` order.
Block roles (for :mod:`reference`): maps touching a latent (source or
target) ``"latent_map"``; observed-to-observed maps ``"direct_map"``;
covariances ``"cov:<kind>"`` (block name ``D:<z>``); learned variances
``"sigma2"`` (block name ``sigma2:<v>``; there may be several).

:class:`GraphProblem` has the interface of :class:`reference.Problem`, so
``reference.collapsed_point``, ``collapsed_spectrum``,
``critical_by_bisection``, ``maximize_objective``, ... work on it unchanged.
Its :meth:`GraphProblem.magnitude` sums the absolute values of the
individual factors (each observed factor, each beta-weighted KL, the weight
decay), which for a single observed factor equals ``reference.Problem``'s.
"""

from __future__ import annotations

import copy
import math
import numbers

import numpy as np

__all__ = [
    "ENCODER_KINDS",
    "ROLES",
    "parse_spec",
    "graph_terms_batch",
    "graph_objective_batch",
    "graph_terms",
    "graph_objective",
    "GraphProblem",
]

ENCODER_KINDS = ("diagonal", "full", "isotropic", "fixed")
ROLES = ("generative", "inference")

LOG_2PI = math.log(2.0 * math.pi)
LOG_2PIE = math.log(2.0 * math.pi * math.e)

_VAR_KEYS_REQUIRED = {"name", "dim", "observed", "variance"}
_VAR_KEYS_LATENT = {"encoder", "encoder_variance", "beta"}
_MAP_KEYS_REQUIRED = {"name", "source", "target", "role"}
_MAP_KEYS_OPTIONAL = {"weight_decay"}


def _cov_key(z):
    return f"D:{z}"


def _var_key(v):
    return f"sigma2:{v}"


# --------------------------------------------------------------------------
# spec parsing / validation
# --------------------------------------------------------------------------
class _Graph:
    """Validated, resolved form of a spec (all numbers looked up)."""

    def __init__(self, spec):
        if not isinstance(spec, dict):
            raise ValueError("spec must be a dict")
        unknown = set(spec) - {"hyper", "variables", "maps"}
        if unknown:
            raise ValueError(f"unknown spec keys {sorted(unknown)}")
        hyper = spec.get("hyper", {}) or {}
        if not isinstance(hyper, dict):
            raise ValueError("spec['hyper'] must be a dict")
        self.hyper = {}
        for k, v in hyper.items():
            if k == "learned":
                raise ValueError("'learned' is a keyword and cannot be a hyper-parameter name")
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise ValueError(f"hyper-parameter {k!r} must be a number, got {v!r}")
            if not math.isfinite(float(v)):
                raise ValueError(f"hyper-parameter {k!r} must be finite")
            self.hyper[k] = float(v)

        variables = spec.get("variables")
        maps = spec.get("maps", [])
        if not isinstance(variables, (list, tuple)) or not variables:
            raise ValueError("spec['variables'] must be a non-empty list")
        if not isinstance(maps, (list, tuple)):
            raise ValueError("spec['maps'] must be a list")

        self.vars: dict[str, dict] = {}
        self.var_order: list[str] = []
        for v in variables:
            self._add_variable(v)
        self.observed = [n for n in self.var_order if self.vars[n]["observed"]]
        self.latents = [n for n in self.var_order if not self.vars[n]["observed"]]
        if not self.observed:
            raise ValueError("at least one observed variable is required")

        self.maps: list[dict] = []
        names = set(self.vars)
        for m in maps:
            mm = self._parse_map(m)
            if mm["name"] in names:
                raise ValueError(f"duplicate name {mm['name']!r}")
            names.add(mm["name"])
            self.maps.append(mm)
        generated = {_cov_key(z) for z in self.latents} | {_var_key(v) for v in self.observed}
        clash = generated & {m["name"] for m in self.maps}
        if clash:
            raise ValueError(f"map names clash with parameter keys: {sorted(clash)}")

        for z in self.latents:
            if not any(m["role"] == "inference" and m["target"] == z for m in self.maps):
                raise ValueError(f"latent {z!r} has no inference map into it")
        self.inference_order = self._toposort("inference", self.latents)
        self._toposort("generative", self.var_order)  # only checks acyclicity

        # layout of the noise vector xi = (o, e_z1, e_z2, ...)
        pos = 0
        self.obs_slice = {}
        for v in self.observed:
            d = self.vars[v]["dim"]
            self.obs_slice[v] = slice(pos, pos + d)
            pos += d
        self.n_obs = pos
        self.noise_slice = {}
        for z in self.latents:
            d = self.vars[z]["dim"]
            self.noise_slice[z] = slice(pos, pos + d)
            pos += d
        self.n_noise = pos
        self.factors = [v for v in self.var_order if self.vars[v]["kind"] != "input"]

    # ---- helpers ----------------------------------------------------------
    def _value(self, x, what, positive=False, nonneg=False):
        if isinstance(x, bool):
            raise ValueError(f"{what}: expected a number or hyper name, got {x!r}")
        if isinstance(x, str):
            if x not in self.hyper:
                raise ValueError(f"{what}: unknown hyper-parameter {x!r}")
            val = self.hyper[x]
        elif isinstance(x, numbers.Real):
            val = float(x)
        else:
            raise ValueError(f"{what}: expected a number or hyper name, got {x!r}")
        if not math.isfinite(val):
            raise ValueError(f"{what} must be finite")
        if positive and not val > 0:
            raise ValueError(f"{what} must be > 0, got {val}")
        if nonneg and val < 0:
            raise ValueError(f"{what} must be >= 0, got {val}")
        return val

    def _add_variable(self, v):
        if not isinstance(v, dict):
            raise ValueError(f"variable entries must be dicts, got {v!r}")
        missing = _VAR_KEYS_REQUIRED - set(v)
        if missing:
            raise ValueError(f"variable {v.get('name')!r} misses keys {sorted(missing)}")
        name = v["name"]
        if not isinstance(name, str) or not name:
            raise ValueError(f"variable names must be non-empty strings, got {name!r}")
        if name in self.vars:
            raise ValueError(f"duplicate variable {name!r}")
        dim = v["dim"]
        if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or dim < 1:
            raise ValueError(f"variable {name!r}: dim must be an int >= 1, got {dim!r}")
        observed = v["observed"]
        if not isinstance(observed, bool):
            raise ValueError(f"variable {name!r}: 'observed' must be a bool")
        out = {"name": name, "dim": int(dim), "observed": observed}
        if observed:
            extra = set(v) - _VAR_KEYS_REQUIRED
            if extra:
                raise ValueError(f"observed variable {name!r}: unknown keys {sorted(extra)}")
            var = v["variance"]
            if var is None:
                out.update(kind="input", variance=None)
            elif var == "learned":
                out.update(kind="learned", variance=None)
            else:
                out.update(kind="fixed", variance=self._value(var, f"variance of {name!r}", positive=True))
        else:
            extra = set(v) - _VAR_KEYS_REQUIRED - _VAR_KEYS_LATENT
            if extra:
                raise ValueError(f"latent variable {name!r}: unknown keys {sorted(extra)}")
            if v["variance"] is None or v["variance"] == "learned":
                raise ValueError(f"latent {name!r}: variance must be a positive number or hyper name")
            enc = v.get("encoder")
            if enc not in ENCODER_KINDS:
                raise ValueError(f"latent {name!r}: encoder must be one of {ENCODER_KINDS}, got {enc!r}")
            if enc == "fixed":
                if "encoder_variance" not in v:
                    raise ValueError(f"latent {name!r}: a fixed encoder needs 'encoder_variance'")
                d0 = self._value(v["encoder_variance"], f"encoder_variance of {name!r}", positive=True)
            else:
                if v.get("encoder_variance") is not None:
                    self._value(v["encoder_variance"], f"encoder_variance of {name!r}")  # must resolve
                d0 = None
            out.update(
                kind="latent",
                variance=self._value(v["variance"], f"variance of {name!r}", positive=True),
                encoder=enc,
                d0=d0,
                beta=self._value(v.get("beta", 1.0), f"beta of {name!r}"),
            )
        self.vars[name] = out
        self.var_order.append(name)

    def _parse_map(self, m):
        if not isinstance(m, dict):
            raise ValueError(f"map entries must be dicts, got {m!r}")
        missing = _MAP_KEYS_REQUIRED - set(m)
        if missing:
            raise ValueError(f"map {m.get('name')!r} misses keys {sorted(missing)}")
        extra = set(m) - _MAP_KEYS_REQUIRED - _MAP_KEYS_OPTIONAL
        if extra:
            raise ValueError(f"map {m.get('name')!r}: unknown keys {sorted(extra)}")
        name, s, t, role = m["name"], m["source"], m["target"], m["role"]
        if not isinstance(name, str) or not name:
            raise ValueError(f"map names must be non-empty strings, got {name!r}")
        for end in (s, t):
            if end not in self.vars:
                raise ValueError(f"map {name!r}: unknown variable {end!r}")
        if s == t:
            raise ValueError(f"map {name!r}: source and target are the same variable")
        if role not in ROLES:
            raise ValueError(f"map {name!r}: role must be one of {ROLES}, got {role!r}")
        if role == "inference" and self.vars[t]["observed"]:
            raise ValueError(f"inference map {name!r} must point into a latent, not {t!r}")
        if role == "generative" and self.vars[t]["kind"] == "input":
            raise ValueError(f"generative map {name!r} points into {t!r}, which has no factor (variance None)")
        wd = m.get("weight_decay")
        eta = 0.0 if wd is None else self._value(wd, f"weight_decay of {name!r}", nonneg=True)
        touches_latent = not (self.vars[s]["observed"] and self.vars[t]["observed"])
        return {
            "name": name, "source": s, "target": t, "role": role, "eta": eta,
            "shape": (self.vars[t]["dim"], self.vars[s]["dim"]),
            "block_role": "latent_map" if touches_latent else "direct_map",
        }

    def _toposort(self, role, nodes):
        """Topological order of ``nodes`` under the maps of ``role``; ValueError on a cycle."""
        nodes = list(nodes)
        node_set = set(nodes)
        parents = {n: {m["source"] for m in self.maps if m["role"] == role and m["target"] == n and m["source"] in node_set}
                   for n in nodes}
        order, done = [], set()
        while len(order) < len(nodes):
            ready = [n for n in nodes if n not in done and parents[n] <= done]
            if not ready:
                left = sorted(n for n in nodes if n not in done)
                raise ValueError(f"cycle in the {role} graph among {left}")
            for n in ready:
                order.append(n)
                done.add(n)
        return order

    def parents(self, v, role):
        return [m for m in self.maps if m["role"] == role and m["target"] == v]


def parse_spec(spec) -> _Graph:
    """Validate ``spec`` (ValueError if invalid) and return its resolved form."""
    return _Graph(spec)


def _check_S(G, S):
    S = np.asarray(S, dtype=float)
    n = G.n_obs
    if S.shape != (n, n):
        raise ValueError(f"S must be {n}x{n} (sum of observed dims), got {S.shape}")
    if not np.all(np.isfinite(S)):
        raise ValueError("S must be finite")
    if not np.allclose(S, S.T, rtol=1e-12, atol=1e-12 * max(1.0, np.abs(S).max())):
        raise ValueError("S must be symmetric")
    S = 0.5 * (S + S.T)
    ev = np.linalg.eigvalsh(S)
    if ev[0] < -1e-12 * max(1.0, abs(ev[-1])):
        raise ValueError("S must be positive semi-definite")
    return S


# --------------------------------------------------------------------------
# the objective
# --------------------------------------------------------------------------
def _sym(D):
    return 0.5 * (D + np.swapaxes(D, -1, -2))


def _logdet_pd(D):
    """log det of a symmetric matrix; nan where it is not positive definite."""
    ok = np.linalg.eigvalsh(D)[..., 0] > 0
    _, ld = np.linalg.slogdet(np.where(ok[..., None, None], D, np.eye(D.shape[-1])))
    return np.where(ok, ld, np.nan)


def _exp_loggauss(sq, d, var):
    """E log N(v; m, var I_d) given E|v - m|^2 = sq."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return -0.5 * d * (LOG_2PI + np.log(var)) - sq / (2.0 * var)


def _resolve_params(G, params):
    """Check keys/shapes; return (maps, covs, variances) dicts of float arrays."""
    expected = {m["name"] for m in G.maps}
    expected |= {_cov_key(z) for z in G.latents}
    expected |= {_var_key(v) for v in G.observed if G.vars[v]["kind"] == "learned"}
    unknown = set(params) - expected
    if unknown:
        raise ValueError(f"unknown parameter keys {sorted(unknown)}")
    maps, covs, svars = {}, {}, {}
    for m in G.maps:
        if m["name"] not in params:
            raise ValueError(f"missing map {m['name']!r}")
        M = np.asarray(params[m["name"]], dtype=float)
        if M.shape[-2:] != m["shape"]:
            raise ValueError(f"map {m['name']!r} must have shape {m['shape']} (plus batch axes), got {M.shape}")
        maps[m["name"]] = M
    for z in G.latents:
        n = G.vars[z]["dim"]
        key = _cov_key(z)
        if key in params:
            D = np.asarray(params[key], dtype=float)
            if D.shape[-2:] != (n, n):
                raise ValueError(f"{key} must have shape {(n, n)} (plus batch axes), got {D.shape}")
        elif G.vars[z]["encoder"] == "fixed":
            D = G.vars[z]["d0"] * np.eye(n)
        else:
            raise ValueError(f"missing encoder covariance {key!r}")
        covs[z] = _sym(D)
    for v in G.observed:
        if G.vars[v]["kind"] == "learned":
            key = _var_key(v)
            if key not in params:
                raise ValueError(f"missing learned variance {key!r}")
            svars[v] = np.asarray(params[key], dtype=float)
    return maps, covs, svars


def _graph_terms(G, S, params) -> dict[str, np.ndarray]:
    maps, covs, svars = _resolve_params(G, params)
    shapes = [M.shape[:-2] for M in maps.values()] + [D.shape[:-2] for D in covs.values()]
    shapes += [s.shape for s in svars.values()]
    b = np.broadcast_shapes(*shapes) if shapes else ()
    nK = G.n_noise

    # joint second moment of the noise sources xi = (o, e_z...)
    K = np.zeros(b + (nK, nK))
    K[..., : G.n_obs, : G.n_obs] = S
    for z in G.latents:
        sl = G.noise_slice[z]
        K[..., sl, sl] = covs[z]

    # u = T_u xi for every variable
    T = {}
    for v in G.observed:
        E = np.zeros((G.vars[v]["dim"], nK))
        E[:, G.obs_slice[v]] = np.eye(G.vars[v]["dim"])
        T[v] = np.broadcast_to(E, b + E.shape)
    for z in G.inference_order:
        E = np.zeros((G.vars[z]["dim"], nK))
        E[:, G.noise_slice[z]] = np.eye(G.vars[z]["dim"])
        Tz = np.broadcast_to(E, b + E.shape).copy()
        for m in G.parents(z, "inference"):
            Tz = Tz + maps[m["name"]] @ T[m["source"]]
        T[z] = Tz

    def sq_residual(v):
        R = T[v]
        for m in G.parents(v, "generative"):
            R = R - maps[m["name"]] @ T[m["source"]]
        return np.sum((R @ K) * R, axis=(-2, -1))

    out = {}
    valid = np.ones(b, dtype=bool)
    rec_total = np.zeros(b)
    for v in G.observed:
        info = G.vars[v]
        if info["kind"] == "input":
            continue
        s = svars[v] if info["kind"] == "learned" else info["variance"]
        if info["kind"] == "learned":
            valid &= np.broadcast_to(s > 0, b)
        r = _exp_loggauss(sq_residual(v), info["dim"], s)
        out[f"reconstruction:{v}"] = r
        rec_total = rec_total + r
    total = rec_total
    for z in G.latents:
        info = G.vars[z]
        ld = _logdet_pd(covs[z])
        valid &= np.broadcast_to(np.isfinite(ld), b)
        ent = 0.5 * info["dim"] * LOG_2PIE + 0.5 * ld
        kl = -(_exp_loggauss(sq_residual(z), info["dim"], info["variance"]) + ent)
        out[f"kl:{z}"] = kl
        total = total - info["beta"] * kl
    wd = np.zeros(b)
    for m in G.maps:
        if m["eta"] != 0.0:
            wd = wd + 0.5 * m["eta"] * np.sum(maps[m["name"]] ** 2, axis=(-2, -1))
    total = total - wd
    valid &= np.isfinite(total)
    out["reconstruction"] = rec_total
    out["weight_decay"] = wd
    out["total"] = np.where(valid, total, -np.inf)
    return out


def graph_terms_batch(spec, params, S) -> dict[str, np.ndarray]:
    """Batched :func:`graph_terms`: arrays in ``params`` may carry (broadcastable)
    leading batch axes; returns arrays over those axes."""
    G = parse_spec(spec)
    return _graph_terms(G, _check_S(G, S), params)


def graph_objective_batch(spec, params, S) -> np.ndarray:
    """Batched :func:`graph_objective`."""
    return graph_terms_batch(spec, params, S)["total"]


def graph_terms(spec, params, S) -> dict[str, float]:
    """Exact decomposition of the objective (see the module doc): keys
    ``reconstruction``, ``reconstruction:<v>``, ``kl:<z>`` (positive),
    ``weight_decay`` (positive) and ``total`` (``-inf`` at invalid points)."""
    return {k: float(v) for k, v in graph_terms_batch(spec, params, S).items()}


def graph_objective(spec, params, S) -> float:
    """The (maximised) objective L of the graph ``spec`` at ``params`` for data
    second moment ``S``; see the module doc."""
    return graph_terms(spec, params, S)["total"]


# --------------------------------------------------------------------------
# free-parameter layer
# --------------------------------------------------------------------------
class GraphProblem:
    """A graph spec together with its free parameters; same interface as
    :class:`reference.Problem` (``size``, ``labels``, ``blocks``,
    ``latent_index``, ``free_index``, ``map_fd_scale``, ``pack``,
    ``unpack``, ``unpack_batch``, ``f``, ``f_batch``, ``terms``,
    ``magnitude``, ``fd_scale``) plus :meth:`with_hyper`.

    ``blocks`` is a list of ``(name, role, slice, shape)``: maps (by name,
    role ``latent_map``/``direct_map``), covariances (``D:<z>``,
    ``cov:<kind>``, shape (n, n)), learned variances (``sigma2:<v>``,
    ``sigma2``, shape ())."""

    def __init__(self, spec, S):
        self.spec = copy.deepcopy(spec)
        self.graph = G = parse_spec(self.spec)
        self.hyper = dict(G.hyper)
        self.S = _check_S(G, S)
        self.Sigma = self.S  # alias, as in reference.Problem

        blocks, labels, pos = [], [], 0
        for m in G.maps:
            r, c = m["shape"]
            blocks.append((m["name"], m["block_role"], slice(pos, pos + r * c), (r, c)))
            labels += [f"{m['name']}[{i},{j}]" for i in range(r) for j in range(c)]
            pos += r * c
        self._cov = []  # (latent, key, encoder kind, slice, n, d0)
        for z in G.latents:
            info = G.vars[z]
            n, enc, key = info["dim"], info["encoder"], _cov_key(z)
            if enc == "diagonal":
                lab = [f"{key}[{i},{i}]" for i in range(n)]
            elif enc == "full":
                lab = [f"{key}[{i},{j}]" for i in range(n) for j in range(i, n)]
            elif enc == "isotropic":
                lab = [f"{key}:d"]
            else:
                lab = []
            sl = slice(pos, pos + len(lab))
            blocks.append((key, "cov:" + enc, sl, (n, n)))
            self._cov.append((z, key, enc, sl, n, info["d0"]))
            labels += lab
            pos += len(lab)
        self._learned = []  # (observed, key, index)
        for v in G.observed:
            if G.vars[v]["kind"] == "learned":
                key = _var_key(v)
                blocks.append((key, "sigma2", slice(pos, pos + 1), ()))
                self._learned.append((v, key, pos))
                labels.append(key)
                pos += 1
        self.blocks = blocks
        self.labels = labels
        self.size = pos
        self.latent_index = np.array(
            [i for (_, role, sl, _) in blocks if role == "latent_map" for i in range(sl.start, sl.stop)], dtype=int
        )
        mask = np.ones(self.size, dtype=bool)
        mask[self.latent_index] = False
        self.free_index = np.flatnonzero(mask)
        self.map_fd_scale = 10.0

    def __repr__(self):
        return f"GraphProblem(spec={self.spec!r})"

    def with_hyper(self, **values) -> GraphProblem:
        """A new GraphProblem with some ``spec['hyper']`` entries replaced
        (KeyError for names not in the spec's hyper)."""
        spec = copy.deepcopy(self.spec)
        hyper = dict(spec.get("hyper", {}) or {})
        for k, v in values.items():
            if k not in hyper:
                raise KeyError(f"unknown hyper-parameter {k!r}")
            hyper[k] = float(v)
        spec["hyper"] = hyper
        return GraphProblem(spec, self.S)

    # ---- packing --------------------------------------------------------
    def pack(self, params) -> np.ndarray:
        """params dict -> free-parameter vector.  Maps by name, ``D:<z>``
        full matrices (diagonal / upper triangle / mean of the diagonal for
        isotropic; ignored for fixed), ``sigma2:<v>`` learned variances."""
        theta = np.zeros(self.size)
        for name, role, sl, shp in self.blocks:
            if role in ("latent_map", "direct_map"):
                M = np.asarray(params[name], dtype=float)
                if M.shape != shp:
                    raise ValueError(f"{name} must have shape {shp}, got {M.shape}")
                theta[sl] = M.ravel()
            elif role == "sigma2":
                theta[sl] = float(np.asarray(params[name], dtype=float))
        for z, key, enc, sl, n, _ in self._cov:
            if enc == "fixed":
                continue
            D = np.asarray(params[key], dtype=float)
            if D.shape != (n, n):
                raise ValueError(f"{key} must have shape {(n, n)}, got {D.shape}")
            if enc == "diagonal":
                theta[sl] = np.diag(D)
            elif enc == "full":
                theta[sl] = D[np.triu_indices(n)]
            else:
                theta[sl] = np.mean(np.diag(D))
        return theta

    def unpack_batch(self, Theta) -> dict[str, np.ndarray]:
        """(m, size) array -> params dict of arrays with leading batch axis m
        (full D matrices always, also for fixed encoders)."""
        Theta = np.asarray(Theta, dtype=float)
        if Theta.ndim != 2 or Theta.shape[1] != self.size:
            raise ValueError(f"expected an (m, {self.size}) array, got {Theta.shape}")
        m = Theta.shape[0]
        out = {}
        for name, role, sl, shp in self.blocks:
            if role in ("latent_map", "direct_map"):
                out[name] = Theta[:, sl].reshape((m,) + shp)
            elif role == "sigma2":
                out[name] = Theta[:, sl.start]
        for z, key, enc, sl, n, d0 in self._cov:
            vals = Theta[:, sl]
            D = np.zeros((m, n, n))
            if enc == "diagonal":
                i = np.arange(n)
                D[:, i, i] = vals
            elif enc == "full":
                iu, ju = np.triu_indices(n)
                D[:, iu, ju] = vals
                D[:, ju, iu] = vals
            elif enc == "isotropic":
                D[:] = vals[:, 0, None, None] * np.eye(n)
            else:
                D[:] = d0 * np.eye(n)
            out[key] = D
        return out

    def unpack(self, theta) -> dict[str, np.ndarray]:
        """free-parameter vector -> params dict (learned variances as floats)."""
        P = self.unpack_batch(np.asarray(theta, dtype=float).reshape(1, -1))
        out = {k: v[0] for k, v in P.items()}
        for _, key, _ in self._learned:
            out[key] = float(out[key])
        return out

    # ---- objective ------------------------------------------------------
    def f(self, theta) -> float:
        """Objective at the free-parameter vector ``theta``."""
        return float(self.f_batch(np.asarray(theta, dtype=float).reshape(1, -1))[0])

    __call__ = f

    def f_batch(self, Theta) -> np.ndarray:
        """Objective for each row of the (m, size) array ``Theta``."""
        return _graph_terms(self.graph, self.S, self.unpack_batch(Theta))["total"]

    def terms(self, theta) -> dict[str, float]:
        """:func:`graph_terms` at the free-parameter vector ``theta``."""
        T = _graph_terms(self.graph, self.S, self.unpack(theta))
        return {k: float(v) for k, v in T.items()}

    def magnitude(self, theta) -> float:
        """Round-off scale F: sum of |each observed factor| + sum_z beta_z |kl_z|
        + weight decay, at least 1 (inf at invalid points)."""
        T = self.terms(theta)
        G = self.graph
        F = sum(abs(T[f"reconstruction:{v}"]) for v in G.observed if G.vars[v]["kind"] != "input")
        F += sum(abs(G.vars[z]["beta"]) * abs(T[f"kl:{z}"]) for z in G.latents)
        F += abs(T["weight_decay"])
        return float(max(F, 1.0)) if np.isfinite(F) else float("inf")

    def fd_scale(self, theta) -> np.ndarray:
        """Per-coordinate FD length scale, as in reference.Problem: maps
        ``map_fd_scale``; covariance entries of one encoder the mean |diagonal|
        of that D; each learned variance its |value| (1 where 0)."""
        theta = np.asarray(theta, dtype=float)
        scale = np.full(self.size, float(self.map_fd_scale))
        P = self.unpack(theta)
        for z, key, enc, sl, n, _ in self._cov:
            if sl.stop > sl.start:
                c = float(np.mean(np.abs(np.diag(P[key]))))
                scale[sl] = c if c > 0 else 1.0
        for _, _, i in self._learned:
            c = abs(float(theta[i]))
            scale[i] = c if c > 0 else 1.0
        return scale
