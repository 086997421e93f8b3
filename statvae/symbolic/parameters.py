"""Explicit-entry parameters of a model: one sympy symbol per free entry.

Each free entry records the *coordinates* it touches (``(variable, index)``
pairs, 0-based), which is what the per-mode analysis groups by: the decoder
entry ``W[i, j]`` touches ``(x, i)`` and ``(z, j)``; the encoder covariance
entry ``D[j, k]`` touches ``(z, j)`` and ``(z, k)``; a learned variance or an
isotropic encoder scale touches nothing.

Layout of the flat parameter vector (the order of :attr:`ParameterSet.entries`):
maps in graph order (row-major), then encoder covariances of each latent in
graph order (diagonal: ``D_11..D_nn``; full: upper triangle row-major;
isotropic: one scale; fixed: nothing), then learned variances.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..model import hyper as H
from .names import register_latex
from ..model.graph import ModelGraph, Variable
from ..model.layout import Layout, scale_name
from ..model.vae import Model

__all__ = ["ParamEntry", "ParamBlock", "ParameterSet", "build_parameters"]

Coord = tuple[str, int]


@dataclass(frozen=True)
class ParamEntry:
    """One free scalar parameter.

    Attributes
    ----------
    symbol : sympy.Symbol
    block : str
        Name of the block it belongs to (``"W"``, ``"D"``, ``"sigma2"``).
    index : tuple of int
        Position inside the block (0-based; ``()`` for scalars).
    coords : tuple of (str, int)
        Coordinates touched, with repetition (``D[j, j]`` touches ``(z, j)``
        twice).
    """

    symbol: sp.Symbol
    block: str
    index: tuple
    coords: tuple

    @property
    def coordinate_set(self) -> frozenset[tuple[str, int]]:
        """The coordinates touched, without repetition."""
        return frozenset(self.coords)

    def odd_coordinates(self) -> frozenset:
        """Coordinates touched an odd number of times (the flip character)."""
        return frozenset(c for c in set(self.coords) if self.coords.count(c) % 2 == 1)


@dataclass
class ParamBlock:
    """A named block of parameters and the matrix (or scalar) it forms.

    ``kind`` is ``"map"``, ``"covariance"`` or ``"variance"``; ``value`` is the
    sympy Matrix (maps, covariances) or expression (variances) built from the
    entries (a fixed encoder covariance is ``d0 * I`` with no entries).
    """

    name: str
    kind: str
    value: object
    entries: list
    owner: str
    encoder: str | None = None


class ParameterSet:
    """All free parameters of a model with explicit dimensions."""

    def __init__(self, blocks: list[ParamBlock]):
        self.blocks = {b.name: b for b in blocks}
        self.entries: list[ParamEntry] = [e for b in blocks for e in b.entries]
        self.symbols: list[sp.Symbol] = [e.symbol for e in self.entries]
        self.by_symbol = {e.symbol: e for e in self.entries}

    def __len__(self) -> int:
        return len(self.entries)

    def value(self, name: str) -> object:
        """The sympy matrix or expression of a block.

        Parameters
        ----------
        name : str
            Name of the block (``"W"``, ``"D"``, ...).

        Returns
        -------
        sympy.Matrix or sympy.Expr
        """
        return self.blocks[name].value

    def latent_odd(self, latent_names: set[str]) -> list[ParamEntry]:
        """Entries odd under the sign flip of some latent coordinate.

        Parameters
        ----------
        latent_names : set of str
            Names of the latent variables whose coordinates count.

        Returns
        -------
        list of ParamEntry
        """
        return [e for e in self.entries if any(c[0] in latent_names for c in e.odd_coordinates())]

    def index(self, symbol: sp.Symbol) -> int:
        """Position of a parameter symbol in :attr:`symbols` (the flat vector).

        Parameters
        ----------
        symbol : sympy.Symbol
            A parameter symbol of the set.

        Returns
        -------
        int
        """
        return self.symbols.index(symbol)


def named_symbol(name: str, latex: str, **assumptions: bool) -> sp.Symbol:
    """Create a plain sympy Symbol and register how it prints in LaTeX.

    Parameters
    ----------
    name : str
        Name of the symbol.
    latex : str
        Its LaTeX form.
    **assumptions : bool
        Sympy assumptions (``positive=True``).

    Returns
    -------
    sympy.Symbol
    """
    s = sp.Symbol(name, **assumptions)
    register_latex(s, latex)
    return s


def entry_symbol(block: str, r: int, c: int | None = None, positive: bool = False) -> sp.Symbol:
    """Symbol of a block entry (1-based in its name and LaTeX).

    Parameters
    ----------
    block : str
        Name of the block.
    r : int
        Row (0-based), or position in a vector block.
    c : int, optional
        Column (0-based), for matrix blocks.
    positive : bool
        Declare the symbol positive.

    Returns
    -------
    sympy.Symbol
        Named ``W_1_2`` (``W_{12}`` in LaTeX) for ``entry_symbol("W", 0, 1)``.
    """
    base = entry_latex_base(block)
    if c is None:
        name, tex = f"{block}_{r + 1}", f"{base}_{{{r + 1}}}"
    else:
        name = f"{block}_{r + 1}_{c + 1}"
        tex = f"{base}_{{{r + 1}{c + 1}}}" if max(r, c) < 9 else f"{base}_{{{r + 1},{c + 1}}}"
    return named_symbol(name, tex, positive=True) if positive else named_symbol(name, tex, real=True)


def entry_latex_base(block: str) -> str:
    """LaTeX base of an entry name: ``U1`` -> ``U^{(1)}`` keeps entry subscripts readable.

    A block whose LaTeX already has a subscript (``V_{a}``, declared or derived) is
    parenthesised: entries print as ``(V_{a})_{12}``.

    Parameters
    ----------
    block : str
        A block name.

    Returns
    -------
    str
    """
    if block[-1].isdigit() and len(block) == 2 and block[0].isalpha():
        return f"{block[:-1]}^{{({block[-1]})}}"
    from .names import block_latex

    tex = block_latex(block)
    return f"\\left({tex}\\right)" if "_" in tex else tex


def scale_symbol(latent: Variable) -> sp.Symbol:
    """Symbol of an isotropic encoder scale ``d`` (``D = d I``).

    Parameters
    ----------
    latent : Variable
        A latent variable with an isotropic encoder.

    Returns
    -------
    sympy.Symbol
        Positive, named by :func:`~statvae.model.layout.scale_name`.
    """
    assert latent.covariance_name is not None  # a validated graph names every covariance
    name = scale_name(latent.covariance_name)
    tex = "d" if len(name) == 1 else f"d_{{{name[1:]}}}"
    return named_symbol(name, tex, positive=True)


def learned_variance_symbol(graph: ModelGraph, var: Variable) -> sp.Symbol:
    """The parameter symbol of a learned noise variance (see :meth:`ModelGraph.learned_variance_name`).

    Parameters
    ----------
    graph : ModelGraph
        The model's graph.
    var : Variable
        A variable whose noise variance is learned.

    Returns
    -------
    sympy.Symbol
        The hyper-parameter symbol ``sigma2`` when that is the name, else a new positive symbol.
    """
    name = graph.learned_variance_name(var.name)
    if name == "sigma2":
        return H.symbol("sigma2")
    return named_symbol(name, f"s_{{{var.latex}}}", positive=True)


def build_parameters(model: Model) -> ParameterSet:
    """Create the explicit-entry parameters of ``model`` (its current dimensions).

    The entries, their order and the coordinates they touch come from
    :class:`statvae.model.layout.Layout` (the one definition of the flat
    vector); here each entry gets its sympy symbol.

    Parameters
    ----------
    model : Model

    Returns
    -------
    ParameterSet
    """
    g = model.graph
    lay = Layout(model)
    blocks: list[ParamBlock] = []

    def entries_of(name: str, symbol_of) -> tuple[list[ParamEntry], sp.Matrix]:
        b = lay.by_name[name]
        mat = sp.zeros(*b.shape)
        out = []
        for e in b.entries():
            s = symbol_of(e)
            mat[e.index] = s
            if e.index[0] != e.index[1] and b.kind == "full":
                mat[e.index[1], e.index[0]] = s
            out.append(ParamEntry(s, name, e.index, e.coords))
        return out, mat

    for m in g.maps():
        entries, mat = entries_of(m.name, lambda e, n=m.name: entry_symbol(n, e.index[0], e.index[1]))
        blocks.append(ParamBlock(m.name, "map", sp.ImmutableMatrix(mat), entries, m.target))
    for v in g.latents():
        n, name = v.dim, v.covariance_name
        assert name is not None  # a validated graph names every covariance
        if v.encoder in ("diagonal", "full"):
            entries, mat = entries_of(name, lambda e, c=name: entry_symbol(c, e.index[0], e.index[1],
                                                                            positive=e.index[0] == e.index[1]))
        elif v.encoder == "isotropic":
            s = scale_symbol(v)
            mat, entries = s * sp.eye(n), [ParamEntry(s, name, (), ())]
        else:  # fixed
            assert v.encoder_variance is not None  # a fixed encoder names its variance
            mat, entries = H.symbol(v.encoder_variance) * sp.eye(n), []
        blocks.append(ParamBlock(name, "covariance", sp.ImmutableMatrix(mat), entries, v.name, v.encoder))
    for v in g.variables():
        if v.variance == "learned":
            s = learned_variance_symbol(g, v)
            blocks.append(ParamBlock(s.name, "variance", s, [ParamEntry(s, s.name, (), ())], v.name))
    params = ParameterSet(blocks)
    assert [e.symbol.name for e in params.entries] == [_symbol_name(e) for e in lay.entries()]
    return params


def _symbol_name(e) -> str:
    """The symbol name :func:`build_parameters` gives a layout entry (the consistency check)."""
    if not e.index:
        return e.block
    return entry_symbol(e.block, e.index[0], e.index[1]).name


def variance_of(model: Model, params: ParameterSet, var: Variable) -> sp.Expr:
    """Noise variance of the generative factor of ``var`` (hyper symbol or learned parameter).

    Parameters
    ----------
    model : VAEModel
        The model.
    params : ParameterSet
        Its parameters.
    var : Variable
        A variable with a generative factor.

    Returns
    -------
    sympy.Expr
    """
    if var.variance == "learned":
        return learned_variance_symbol(model.graph, var)
    assert var.variance is not None  # only variables with a generative factor are asked
    return H.symbol(var.variance)
