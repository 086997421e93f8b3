"""Unconstrained coordinates for the parameter vector: what an optimiser moves.

Maps are free; a diagonal encoder covariance, an isotropic scale and a learned
variance are positive (their logarithms are free); a full encoder covariance is
positive definite (``D = L L^T`` with ``L`` lower triangular, the logarithm of its
diagonal free).  :class:`Unconstrained` maps the free vector ``u`` to the layout's
``theta`` and carries the exact first and second derivatives of that map, so that a
trust-region solver gets the exact gradient and Hessian-vector product in ``u``:

    grad_u = J^T grad_theta,        H_u du = J^T H_theta J du + C(grad_theta) du,

where ``C`` is the curvature of the map contracted with the gradient.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..model.layout import Layout

__all__ = ["Unconstrained"]


class Unconstrained:
    """The map ``u -> theta`` from free coordinates to a layout's parameter vector.

    Parameters
    ----------
    layout : Layout
        The parameter layout of a compiled model.

    Examples
    --------
    >>> import numpy as np, statvae
    >>> lay = statvae.LinearVAE(2, 1, sigma2=1.0).compile().layout
    >>> r = Unconstrained(lay)
    >>> theta = lay.pack(W=[[1.0], [0.5]], V=[[0.2, 0.1]], D=[0.3])
    >>> bool(np.allclose(r.theta(r.from_theta(theta)), theta))
    True
    """

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.size = layout.size
        self._log: list[np.ndarray] = []  # positions taken as exp(u)
        self._full: list[tuple[slice, int, tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]] = []
        for b in layout.blocks:
            idx = np.arange(b.offset, b.offset + b.size)
            if b.kind in ("diagonal", "isotropic", "variance"):
                self._log.append(idx)
            elif b.kind == "full":
                n = b.shape[0]
                self._full.append((b.slice, n, np.triu_indices(n), np.tril_indices(n)))
        self._log_idx = np.concatenate(self._log) if self._log else np.zeros(0, dtype=int)

    # -- the map --------------------------------------------------------------
    def _lower(self, part: np.ndarray, n: int, lo: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        L = np.zeros((n, n))
        L[lo] = part
        d = np.arange(n)
        L[d, d] = np.exp(L[d, d])
        return L

    def theta(self, u: np.ndarray) -> np.ndarray:
        """``theta(u)``.

        Parameters
        ----------
        u : numpy.ndarray
            Free coordinates.

        Returns
        -------
        numpy.ndarray
            The parameter vector.
        """
        t = np.array(u, dtype=float)
        t[self._log_idx] = np.exp(t[self._log_idx])
        for sl, n, up, lo in self._full:
            L = self._lower(np.asarray(u[sl]), n, lo)
            t[sl] = (L @ L.T)[up]
        return t

    def from_theta(self, theta: np.ndarray) -> np.ndarray:
        """The free coordinates of a valid parameter vector (the inverse map).

        Parameters
        ----------
        theta : numpy.ndarray
            A parameter vector with positive variances and positive definite covariances.

        Returns
        -------
        numpy.ndarray
            ``u`` with ``theta(u) == theta`` to rounding.
        """
        u = np.array(theta, dtype=float)
        u[self._log_idx] = np.log(u[self._log_idx])
        for sl, n, up, lo in self._full:
            D = np.zeros((n, n))
            D[up] = theta[sl]
            D = D + np.triu(D, 1).T
            L = np.linalg.cholesky(D)
            d = np.arange(n)
            L[d, d] = np.log(L[d, d])
            u[sl] = L[lo]
        return u

    # -- derivatives ----------------------------------------------------------
    def jvp(self, u: np.ndarray, du: np.ndarray) -> np.ndarray:
        """``J du``: the change of ``theta`` along ``du``.

        Parameters
        ----------
        u, du : numpy.ndarray
            The point and the direction in free coordinates.

        Returns
        -------
        numpy.ndarray
        """
        out = np.array(du, dtype=float)
        out[self._log_idx] = np.exp(u[self._log_idx]) * du[self._log_idx]
        for sl, n, up, lo in self._full:
            L = self._lower(u[sl], n, lo)
            dL = self._dlower(L, du[sl], n, lo)
            dD = dL @ L.T
            out[sl] = (dD + dD.T)[up]
        return out

    def _dlower(self, L: np.ndarray, part: np.ndarray, n: int, lo: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        dL = np.zeros((n, n))
        dL[lo] = part
        d = np.arange(n)
        dL[d, d] *= L[d, d]
        return dL

    def _gradient_matrix(self, g: np.ndarray, n: int, up: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """``G`` with ``<G, dD> = g . dtheta`` for symmetric ``dD`` (``G = Gh + Gh^T``, ``Gh`` upper)."""
        Gh = np.zeros((n, n))
        Gh[up] = g
        return Gh + Gh.T

    def vjp(self, u: np.ndarray, g: np.ndarray) -> np.ndarray:
        """``J^T g``: a gradient in ``theta`` as a gradient in ``u``.

        Parameters
        ----------
        u : numpy.ndarray
            The point in free coordinates.
        g : numpy.ndarray
            A gradient with respect to ``theta``.

        Returns
        -------
        numpy.ndarray
        """
        out = np.array(g, dtype=float)
        out[self._log_idx] = np.exp(u[self._log_idx]) * g[self._log_idx]
        for sl, n, up, lo in self._full:
            L = self._lower(u[sl], n, lo)
            gL = self._gradient_matrix(g[sl], n, up) @ L
            d = np.arange(n)
            gL[d, d] *= L[d, d]
            out[sl] = gL[lo]
        return out

    def curvature(self, u: np.ndarray, g: np.ndarray, du: np.ndarray) -> np.ndarray:
        """``C(g) du``: the second derivative of the map contracted with ``g``, applied to ``du``.

        Parameters
        ----------
        u : numpy.ndarray
            The point in free coordinates.
        g : numpy.ndarray
            The gradient with respect to ``theta`` at ``theta(u)``.
        du : numpy.ndarray
            The direction.

        Returns
        -------
        numpy.ndarray
        """
        out = np.zeros(self.size)
        out[self._log_idx] = np.exp(u[self._log_idx]) * g[self._log_idx] * du[self._log_idx]
        for sl, n, up, lo in self._full:
            L = self._lower(u[sl], n, lo)
            G = self._gradient_matrix(g[sl], n, up)
            dL = self._dlower(L, du[sl], n, lo)
            d = np.arange(n)
            # phi(L) = <Gh, L L^T>: grad_L = G L, d(grad_L)[dL] = G dL; then the chain through L_ii = exp(u_ii)
            t = G @ dL
            t[d, d] *= L[d, d]
            gL = G @ L
            t[d, d] += gL[d, d] * L[d, d] * np.asarray(du[sl])[self._diag_positions(n, lo)]
            out[sl] = t[lo]
        return out

    @staticmethod
    def _diag_positions(n: int, lo: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        rows, cols = lo
        return np.flatnonzero(rows == cols)

    def hvp(self, u: np.ndarray, g: np.ndarray, hvp_theta: Any, du: np.ndarray) -> np.ndarray:
        """``H_u du`` from the gradient and a Hessian-vector product in ``theta``.

        Parameters
        ----------
        u : numpy.ndarray
            The point in free coordinates.
        g : numpy.ndarray
            The gradient with respect to ``theta`` at ``theta(u)``.
        hvp_theta : callable
            ``v -> H_theta v`` at ``theta(u)``.
        du : numpy.ndarray
            The direction.

        Returns
        -------
        numpy.ndarray
        """
        return self.vjp(u, hvp_theta(self.jvp(u, du))) + self.curvature(u, g, du)
