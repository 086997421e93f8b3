"""The collapsed point and its Hessian blocks from the compiled objective, for one data set.

This is the analysis of collapse that assumes nothing about the data: the
collapsed point is solved by Newton's method on the compiled gradient, and
the Hessian there is split into blocks by the flip symmetries that hold
*for these data*:

* in the canonical basis (see :mod:`statvae.data.canonical`) every data and
  latent coordinate flip is a symmetry, and the blocks are the tiny per-mode
  blocks (two entries for the plain VAE);
* in any other basis only latent flips are, and each block couples one latent
  coordinate (or a pair) to every observed coordinate it reads or writes.

Latent coordinates of one variable are interchangeable at the collapsed
point, so the model is evaluated with at most two coordinates per latent
variable (enough for every block type: one latent, two of the same
variable, one each of two variables) and every block stands for
``prod_z binom(n_z, c_z)`` copies in the real model.  That keeps the cost
independent of the latent dimensions.

Inertia is counted on diagonally scaled blocks (``S B S`` with
``S = diag(|B_ii|^-1/2)``, a congruence), with the same relative tolerance
as the symbolic layer: an eigenvalue within ``RTOL`` of zero after scaling is
a flat direction, not an ascent direction.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb

import numpy as np

from ..errors import AnalysisError
from ..symbolic.stability import ZERO_RTOL, scaled_eigenvalues
from ..bifurcation.collapsed import collapsed_start
from ..bifurcation.problem import ContinuationProblem

__all__ = ["CompiledCollapse", "BlockKey", "RTOL", "balance"]

#: Eigenvalues of a diagonally scaled block within this of zero are flat directions.
RTOL = ZERO_RTOL
#: Affine forms fitted at a scale are used within this factor of it; the compiled blocks elsewhere.
WINDOW = 1e3


@dataclass(frozen=True)
class BlockKey:
    """One representative Hessian block at the collapsed point.

    Attributes
    ----------
    character : int
        Flip character (bit mask) of its entries in the reduced model.
    indices : tuple of int
        Its entries in the reduced model's flat parameter vector.
    copies : int
        How many identical blocks the real model has.
    latents : tuple
        ``(latent variable, number of its coordinates)`` the block couples.
    observed : tuple
        Observed coordinates carrying the block (canonical basis only).
    labels : tuple of str
        Parameter names of the entries (``W[0,0]``...).
    """

    character: int
    indices: tuple
    copies: int
    latents: tuple
    observed: tuple
    labels: tuple

    @property
    def touches_latent(self) -> bool:
        """Whether the block couples a latent (its instability is the instability of collapse)."""
        return bool(self.latents)

    def describe(self) -> str:
        """A short name of the block: the parameter blocks it holds."""
        names = []
        for lab in self.labels:
            n = lab.split("[")[0]
            if n not in names:
                names.append(n)
        what = ", ".join(names)
        where = " + ".join(f"{c} coordinate{'s' if c > 1 else ''} of {z}" for z, c in self.latents) or "no latent"
        obs = f" at {', '.join(f'{v}{i + 1}' for v, i in self.observed)}" if self.observed else ""
        return f"{what} ({where}{obs})"


def balance(m: np.ndarray) -> np.ndarray:
    """``S`` with ``S B S`` of unit diagonal (``|B_ii|^-1/2``; 1 where the diagonal vanishes).

    Parameters
    ----------
    m : numpy.ndarray
        A square block ``B``.

    Returns
    -------
    numpy.ndarray
        The diagonal of ``S``.

    Examples
    --------
    >>> balance(np.array([[4.0, 1.0], [1.0, 0.0]]))
    array([0.5, 1. ])
    """
    d = np.abs(np.diagonal(m))
    with np.errstate(divide="ignore"):
        return np.where(d > 0, 1 / np.sqrt(d), 1.0)


class CompiledCollapse:
    """Stability of the collapsed point for one data set, from compiled numerics.

    Parameters
    ----------
    model : VAEModel
    parameter : str
        The hyper-parameter that varies (any hyper-parameter of the model).
    values : dict
        Numbers for every other hyper-parameter.
    spectra : dict, optional
        Canonical eigenvalues per observed variable (canonical basis).
    covariance : array_like, optional
        Joint second moment in any basis (only latent flips are used).

    Examples
    --------
    >>> import statvae
    >>> cc = CompiledCollapse(statvae.LinearVAE(3, 2), "sigma2", {"beta": 1, "prior_variance": 1,
    ...     "weight_decay_enc": 0, "weight_decay_dec": 0}, spectra={"x": [3.0, 2.0, 1.0]})
    >>> cc.index(2.5), cc.index(3.5)
    (2, 0)
    """

    def __init__(self, model, parameter: str, values: dict, spectra: dict | None = None, covariance=None):
        g = model.graph
        self.model = model
        self.parameter = parameter
        self.canonical = covariance is None
        self.reduced = model.resized(**{z.name: min(z.dim, 2) for z in g.latents()})
        self.problem = ContinuationProblem(self.reduced, spectra, parameter, values, covariance=covariance)
        chars = self.problem.chars
        self.span = chars.span_of(np.zeros(self.problem.layout.size))
        self.keys = self._representatives()
        self._points: dict = {}
        self._affine: tuple[str, dict] | None = None
        self._window = (0.0, 0.0)
        self._stack_cache = None
        self._count_memo: dict = {}

    # -- blocks ---------------------------------------------------------------
    def _representatives(self) -> list:
        chars = self.problem.chars
        lay = self.problem.layout
        labels = lay.labels()
        full_dims = {z.name: z.dim for z in self.model.graph.latents()}
        out = []
        for key, idx in zip(self.span.block_keys(), self.span.blocks()):
            latents, ok = [], True
            for z, bits in chars.latent_bits.items():
                used = [k for k, b in enumerate(bits) if key >> b & 1]
                if used and used != list(range(len(used))):
                    ok = False  # a permuted copy of a representative block
                    break
                if used:
                    latents.append((z, len(used)))
            if not ok:
                continue
            copies = 1
            for z, c in latents:
                copies *= comb(full_dims[z], c)
            observed = tuple(chars.coords[b] for b in range(len(chars.coords))
                             if key >> b & 1 and chars.coords[b][0] not in chars.latent_bits)
            out.append(BlockKey(int(key), tuple(int(i) for i in idx), copies, tuple(latents), observed,
                                tuple(labels[i] for i in idx)))
        return out

    def point(self, p: float) -> np.ndarray:
        """The collapsed point at parameter value ``p`` (cached).

        Parameters
        ----------
        p : float
            Value of the parameter.

        Returns
        -------
        numpy.ndarray
            The flat parameter vector of the reduced model.
        """
        p = float(p)
        th = self._points.get(p)
        if th is None:
            near = min(self._points, key=lambda q: abs(np.log(q / p)) if q > 0 and p > 0 else abs(q - p),
                       default=None)
            try:
                th = collapsed_start(self.problem, p, theta0=None if near is None else self._points[near])
            except (ZeroDivisionError, FloatingPointError, OverflowError) as exc:
                raise AnalysisError(f"the collapsed point at {self.parameter} = {p:.6g} is out of floating-point "
                                    f"range ({type(exc).__name__}); rescale the data") from None
            if len(self._points) > 512:
                self._points.clear()
            self._points[p] = th
        return th

    def fit_affine(self, scale: float, rtol: float = 1e-9) -> str | None:
        """Check whether every block is affine in ``p`` or ``1/p``; if so, evaluate blocks from that form.

        The blocks are computed at five values around ``scale`` and the form
        ``H(p) = A + t B`` (``t = p`` or ``1/p``) fitted on two of them is
        required to reproduce the other three to ``rtol`` of their size.
        Afterwards :meth:`blocks` costs two matrix additions per block
        instead of a Newton solve and Hessian-vector products.

        Parameters
        ----------
        scale : float
            Where the fit is made (and used within a factor :data:`WINDOW`).
        rtol : float
            Tolerance of the check, relative to each entry's own scale.

        Returns
        -------
        str or None
            ``"linear"``, ``"reciprocal"``, or None when the blocks are neither.
        """
        if self._affine is not None:
            return self._affine[0]
        fit = self.local_affine(scale, self.keys, rtol)
        if fit is None:
            return None
        self._affine = fit
        self._window = (scale / WINDOW, scale * WINDOW)
        return fit[0]

    def local_affine(self, center: float, keys, rtol: float = 1e-9, kind: str | None = None):
        """``(kind, {key: (A, B)})`` fitted and checked around ``center`` (not stored), or None.

        The blocks are evaluated at ``center x (1, 2, 1/2, 5, 1/5)``; the form is
        fitted on the first two and must reproduce the other three.  It is
        accurate within a factor :data:`WINDOW` of ``center``: further away,
        ``A + t B`` suffers from cancellation between its two terms.

        Parameters
        ----------
        center : float
            Where the fit is made.
        keys : list of BlockKey
            The blocks to fit.
        rtol : float
            Tolerance of the check, relative to each entry's own scale.
        kind : {"linear", "reciprocal"}, optional
            Only try this form.

        Returns
        -------
        tuple or None
            ``(kind, {key: (A, B)})``, or None when no form reproduces the blocks.
        """
        ps = [center, 2.0 * center, 0.5 * center, 5.0 * center, 0.2 * center]
        try:
            mats = [self._compiled_blocks(q, keys) for q in ps]
        except AnalysisError:
            return None
        kinds = (("linear", lambda q: q), ("reciprocal", lambda q: 1.0 / q))
        for name, tf in kinds:
            if kind is not None and name != kind:
                continue
            t = [tf(q) for q in ps]
            forms = {}
            for k in keys:
                h = [m[k] for m in mats]
                b = (h[1] - h[0]) / (t[1] - t[0])
                a = h[0] - t[0] * b
                sc = balance(h[0])  # entries are compared on their own scale, not the block's largest
                if any(np.abs(sc[:, None] * (a + t[j] * b - h[j]) * sc[None, :]).max() > rtol for j in (2, 3, 4)):
                    break
                forms[k] = (a, b)
            else:
                return (name, forms)
        return None

    def in_window(self, p: float) -> bool:
        """Whether the stored affine forms are used at ``p`` (else the compiled blocks are).

        Parameters
        ----------
        p : float
            Value of the parameter.

        Returns
        -------
        bool
        """
        return self._affine is not None and self._window[0] <= p <= self._window[1]

    @property
    def affine(self):
        """``(kind, {key: (A, B)})`` after a successful :meth:`fit_affine`, else None."""
        return self._affine

    def blocks(self, p: float, keys=None) -> dict:
        """``{BlockKey: Hessian block}`` at the collapsed point for ``p`` (all representatives by default).

        Parameters
        ----------
        p : float
            Value of the parameter.
        keys : list of BlockKey, optional
            Representative blocks (default: all of :attr:`keys`).

        Returns
        -------
        dict
        """
        keys = self.keys if keys is None else list(keys)
        if self.in_window(p):
            assert self._affine is not None  # in_window holds only after a successful fit
            kind, forms = self._affine
            t = p if kind == "linear" else 1.0 / p
            return {k: forms[k][0] + t * forms[k][1] for k in keys}
        return self._compiled_blocks(p, keys)

    def _compiled_blocks(self, p: float, keys) -> dict:
        if not keys:
            return {}
        th = self.point(p)
        width = max(len(k.indices) for k in keys)
        dirs = np.zeros((width, self.problem.layout.size))
        for k in keys:
            dirs[np.arange(len(k.indices)), list(k.indices)] = 1.0
        cols = np.atleast_2d(self.problem.hvp(th, dirs, p, check=False))  # th: a converged collapsed point
        out = {}
        for k in keys:
            ix = list(k.indices)
            hb = cols[: len(ix)][:, ix].T
            out[k] = (hb + hb.T) / 2
        return out

    def eigenvalues(self, p: float, keys=None) -> dict:
        """``{BlockKey: descending diagonally scaled eigenvalues}`` at ``p`` (blocks of one size batched).

        Parameters
        ----------
        p : float
            Value of the parameter.
        keys : list of BlockKey, optional
            Representative blocks (default: all of :attr:`keys`).

        Returns
        -------
        dict
        """
        mats = self.blocks(p, keys)
        by_size: dict = {}
        for k, m in mats.items():
            by_size.setdefault(m.shape[0], []).append(k)
        out = {}
        for ks in by_size.values():
            ev = scaled_eigenvalues(np.array([mats[k] for k in ks]))
            for k, e in zip(ks, ev):
                out[k] = e[::-1]
        return out

    def counts(self, p: float, keys=None) -> dict:
        """``{BlockKey: number of ascent directions of that block}`` at ``p``.

        Parameters
        ----------
        p : float
            Value of the parameter.
        keys : list of BlockKey, optional
            Representative blocks (default: all of :attr:`keys`).

        Returns
        -------
        dict
        """
        return {k: int((e > RTOL).sum()) for k, e in self.eigenvalues(p, keys).items()}

    def count_vector(self, p: float) -> np.ndarray:
        """Ascent directions per representative block at ``p``, aligned with :attr:`keys`.

        Same numbers as :meth:`counts`; when the blocks are affine (after
        :meth:`fit_affine`) they are evaluated as stacked arrays, one batched
        eigen-solve per block size, which keeps the self-check of hundreds of
        crossings cheap.

        Parameters
        ----------
        p : float
            Value of the parameter.

        Returns
        -------
        numpy.ndarray of int
        """
        p = float(p)
        memo = self._count_memo.get(p)
        if memo is not None and memo[0] is self._affine:
            return memo[1]
        if not self.in_window(p):
            c = self.counts(p)
            out = np.array([c[k] for k in self.keys], dtype=int)
        else:
            assert self._affine is not None  # in_window holds only after a successful fit
            kind, _ = self._affine
            t = p if kind == "linear" else 1.0 / p
            out = np.zeros(len(self.keys), dtype=int)
            for pos, a, b in self._stacks():
                out[pos] = (scaled_eigenvalues(a + t * b) > RTOL).sum(axis=1)
        if len(self._count_memo) > 4096:
            self._count_memo.clear()
        self._count_memo[p] = (self._affine, out)
        return out

    def copies_vector(self) -> np.ndarray:
        """Multiplicity of each representative block, aligned with :attr:`keys`."""
        return np.array([k.copies for k in self.keys], dtype=object)

    def _stacks(self):
        if self._stack_cache is None or self._stack_cache[0] is not self._affine:
            forms = self._affine[1]
            by_size: dict = {}
            for i, k in enumerate(self.keys):
                by_size.setdefault(forms[k][0].shape[0], []).append(i)
            stacks = [(np.array(ix), np.array([forms[self.keys[i]][0] for i in ix]),
                       np.array([forms[self.keys[i]][1] for i in ix])) for ix in by_size.values()]
            self._stack_cache = (self._affine, stacks)
        return self._stack_cache[1]

    def index(self, p: float) -> int:
        """Number of ascent directions of the ELBO at the collapsed point of the real model.

        Parameters
        ----------
        p : float
            Value of the parameter.

        Returns
        -------
        int
            Each block's count times its copies, summed.
        """
        return int((self.copies_vector() * self.count_vector(p)).sum())

    def stable(self, p: float) -> bool:
        """Whether the collapsed point has no ascent direction at ``p``.

        Parameters
        ----------
        p : float
            Value of the parameter.

        Returns
        -------
        bool
        """
        return self.index(p) == 0

    def crossing_eigenvalue(self, p: float, key: BlockKey, rank: int) -> float:
        """The ``rank``-th largest (0-based) scaled eigenvalue of one block at ``p``.

        Parameters
        ----------
        p : float
            Value of the parameter.
        key : BlockKey
            The block.
        rank : int
            0 for the largest eigenvalue.

        Returns
        -------
        float
        """
        return float(self.eigenvalues(p, [key])[key][rank])

    def latent_keys(self) -> list:
        """Representative blocks that couple a latent (their instability is the instability of collapse)."""
        return [k for k in self.keys if k.touches_latent]

    def key_of(self, observed: dict, latents: dict) -> BlockKey:
        """The representative block carried by the given coordinates.

        Parameters
        ----------
        observed : dict
            Observed variable -> 0-based coordinates (canonical basis).
        latents : dict
            Latent variable -> number of its coordinates.
        """
        chars = self.problem.chars
        bits = 0
        for v, ix in observed.items():
            for i in ix:
                bits ^= 1 << chars.bit[(v, i)]
        for z, c in latents.items():
            for j in range(c):
                bits ^= 1 << chars.bit[(z, j)]
        for k in self.keys:
            if k.character == bits:
                return k
        raise AnalysisError(f"no Hessian block with character {chars.describe(bits)} in the compiled model")
