"""Test problems with known bifurcations, written independently of statvae's VAE code.

Each is a potential V(x, mu) (maximised) with its gradient and Hessian typed
from the formula, plus the flip characters and permutable groups the tracker
uses for symmetry.
"""

from __future__ import annotations

import numpy as np

from statvae.bifurcation.symmetry import CharacterTable


class _Layout:
    def __init__(self, size):
        self.size = size

    def check(self, theta):
        t = np.asarray(theta, dtype=float)
        if t.shape != (self.size,) or not np.all(np.isfinite(t)):
            raise ValueError("bad theta")
        return t


class PotentialProblem:
    """Base class: subclasses define value, grad, hess (numpy) and the symmetry data."""

    parameter = "mu"
    evaluations = 0

    def __init__(self, size, chars, groups=None):
        self.layout = _Layout(size)
        self.characters = CharacterTable(chars, groups or {}, [("x", i) for i in range(size)])

    def gradient(self, theta, p):
        return self.grad(np.asarray(theta, float), p)

    def hvp(self, theta, v, p):
        h = self.hess(np.asarray(theta, float), p)
        v = np.asarray(v, float)
        return v @ h.T if v.ndim == 2 else h @ v

    def dgrad_dp(self, theta, p, eps=1e-6):
        return (self.grad(theta, p + eps) - self.grad(theta, p - eps)) / (2 * eps) if not hasattr(self, "gp") \
            else self.gp(np.asarray(theta, float), p)

    def reduced(self, theta, p, S, with_dp=True):
        g = self.gradient(theta, p)[S]
        h = self.hess(np.asarray(theta, float), p)[np.ix_(S, S)]
        return g, h, (self.dgrad_dp(theta, p)[S] if with_dp else None)

    def zero_modes(self, theta):
        return np.zeros((0, self.layout.size))

    def observables(self, theta, p):
        theta = np.asarray(theta, float)
        return {"elbo": float(self.value(theta, p)), "kl_total": float(theta @ theta),
                "w_norm_x": np.abs(theta).tolist()}


class Pitchfork(PotentialProblem):
    """V = mu x^2/2 - x^4/4: branch point at 0, branches x^2 = mu."""

    def __init__(self):
        super().__init__(1, [1])

    def value(self, x, mu):
        return mu * x[0] ** 2 / 2 - x[0] ** 4 / 4

    def grad(self, x, mu):
        return np.array([mu * x[0] - x[0] ** 3])

    def gp(self, x, mu):
        return np.array([x[0]])

    def hess(self, x, mu):
        return np.array([[mu - 3 * x[0] ** 2]])


class Transcritical(PotentialProblem):
    """V = mu x^2/2 - x^3/3: branch point at 0 where x = 0 and x = mu exchange stability."""

    def __init__(self):
        super().__init__(1, [0])

    def value(self, x, mu):
        return mu * x[0] ** 2 / 2 - x[0] ** 3 / 3

    def grad(self, x, mu):
        return np.array([mu * x[0] - x[0] ** 2])

    def gp(self, x, mu):
        return np.array([x[0]])

    def hess(self, x, mu):
        return np.array([[mu - 2 * x[0]]])


class Fold(PotentialProblem):
    """V = mu x - x^3/3: x = +-sqrt(mu) meet at a fold at mu = 0."""

    def __init__(self):
        super().__init__(1, [0])

    def value(self, x, mu):
        return mu * x[0] - x[0] ** 3 / 3

    def grad(self, x, mu):
        return np.array([mu - x[0] ** 2])

    def gp(self, x, mu):
        return np.array([1.0])

    def hess(self, x, mu):
        return np.array([[-2 * x[0]]])


class DiagonalOperator(PotentialProblem):
    """V = sum_i (mu - m_i) x_i^2 / 2 - (sum_i x_i^2)^2 / 4.

    With ``m_i`` repeated, the trivial branch has branch points at each
    distinct ``m`` of kernel dimension its multiplicity; the emanating
    branches (up to the O(k) symmetry of each group) have sum x^2 = mu - m.
    """

    def __init__(self, multiplicities=(1, 2, 3, 4, 5)):
        self.m = np.concatenate([[k + 1.0] * c for k, c in enumerate(multiplicities)])
        size = len(self.m)
        groups, start = {}, 0
        for k, c in enumerate(multiplicities):
            groups[f"g{k}"] = list(range(start, start + c))
            start += c
        self.groups = groups
        super().__init__(size, [1 << i for i in range(size)], groups)

    def value(self, x, mu):
        r = x @ x
        return float(np.sum((mu - self.m) * x ** 2) / 2 - r ** 2 / 4)

    def grad(self, x, mu):
        return (mu - self.m) * x - (x @ x) * x

    def gp(self, x, mu):
        return x.copy()

    def hess(self, x, mu):
        return np.diag(mu - self.m - x @ x) - 2 * np.outer(x, x)

    def zero_modes(self, x):
        out = []
        for idx in self.groups.values():
            for a in idx:
                for b in idx:
                    if a < b and (x[a] or x[b]):
                        v = np.zeros(len(x))
                        v[a], v[b] = x[b], -x[a]
                        out.append(v)
        return np.array(out).reshape(len(out), len(x))
