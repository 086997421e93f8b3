"""Declarative description of a linear-Gaussian VAE as a networkx graph.

Variables (observed and latent) are nodes; linear maps are edges.  An edge
``source -> target`` with ``role="generative"`` is a term ``M @ source`` in
the mean of the Gaussian ``p(target | parents)``; with ``role="inference"``
it is a term in the mean of ``q(target | parents)``.  Each variable carries
the attributes of its own Gaussian factors:

* an observed variable with generative parents has ``p(x | pa) = N(sum M pa,
  s I)``; ``s`` is the hyper-parameter named by ``variance`` (``"sigma2"``) or
  a free parameter when ``variance == "learned"``.  An observed variable
  without generative parents is a conditioning *input* (it is not modelled).
* a latent variable has an inference factor ``q(z | pa) = N(sum A pa, D)``
  whose covariance kind is ``encoder`` (``diagonal``, ``full``,
  ``isotropic`` or ``fixed``), a generative factor (the prior ``N(0, v I)``
  when it has no generative parents), and a KL weight named by ``beta``.

The graph is walked by :mod:`statvae.symbolic.moments`.  Nothing here
knows any formula; it only describes and validates.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field, replace
from typing import Any

import networkx as nx

from ..errors import ModelError
from . import hyper as H
from .naming import name_latex, register_block_latex

__all__ = ["Variable", "Map", "ModelGraph", "ENCODER_KINDS"]

ENCODER_KINDS = ("diagonal", "full", "isotropic", "fixed")


def check_dim(name: str, dim: Any) -> int:
    """Validate a dimension: a positive integer (an integral float is accepted).

    Parameters
    ----------
    name : str
        The variable, for the error message.
    dim : object
        The value to check.

    Returns
    -------
    int
        ``dim`` as an int.

    Raises
    ------
    ModelError
        If ``dim`` is not a positive integer.

    Examples
    --------
    >>> check_dim("x", 3.0)
    3
    """
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        if isinstance(dim, float) and dim.is_integer():
            dim = int(dim)
        else:
            raise ModelError(f"dimension of {name} must be a positive integer, got {dim!r}")
    if dim <= 0:
        raise ModelError(f"dimension of {name} must be a positive integer, got {dim!r}")
    return int(dim)


@dataclass(frozen=True)
class Variable:
    """A node of the model graph.

    Attributes
    ----------
    name : str
        Identifier (``"x"``, ``"z"``, ``"z1"``).
    dim : int
        Number of coordinates.
    observed : bool
        Observed (data) or latent.
    latex : str, optional
        LaTeX name of the variable (default derived from the name:
        ``z1`` -> ``z_{1}``).
    index : str, optional
        Letter used for its coordinates in per-mode formulas (``i``, ``j``);
        default: the next free letter.
    variance : str or None
        Hyper-parameter name of the generative noise variance (``"sigma2"``,
        ``"tau2"``, ``"prior_variance"``, or any identifier: a custom name is
        declared on validation), ``"learned"``, or ``None`` for an observed
        input with no generative factor.  A latent defaults to
        ``"prior_variance"`` (no generative parents) or ``"tau2"``.
    encoder : str or None
        Latent only: covariance kind of ``q`` (one of :data:`ENCODER_KINDS`;
        default ``"diagonal"``).
    encoder_variance : str or None
        Latent with ``encoder == "fixed"``: hyper-parameter name of the
        fixed encoder variance ``d0`` (default ``"encoder_variance"``).
    beta : str or None
        Latent only: hyper-parameter name of the KL weight (default ``"beta"``).
    covariance_name : str or None
        Latent only: parameter name of the encoder covariance (default ``"D"``
        for a latent named ``z``, ``"D1"`` for ``z1``, else ``"D_<name>"``).
    spectrum_latex : str or None
        Observed only: LaTeX letter of its eigenvalues (``\\xi``); by default
        eigenvalues print as ``\\xi_{x,i}^{2}``.
    dim_latex : str or None
        LaTeX of its symbolic dimension (default ``N_{x}`` / ``n_{z}``; the
        presets use ``N`` and ``n``).
    covariance_latex : str or None
        Observed only: LaTeX of the covariance whose spectrum matters
        (default ``\\Sigma_{xx}``; the presets use ``\\Sigma`` and
        ``\\Sigma_{y|x}``).
    auto_display : bool
        Set by :meth:`ModelGraph.validate` when it filled in the display
        fields (symbols of such variables get names of their own).

    Unset fields are filled in by :meth:`ModelGraph.validate`.
    """

    name: str
    dim: int
    observed: bool
    latex: str | None = None
    index: str | None = None
    variance: str | None = None
    encoder: str | None = None
    encoder_variance: str | None = None
    beta: str | None = None
    covariance_name: str | None = None
    spectrum_latex: str | None = None
    dim_latex: str | None = None
    covariance_latex: str | None = None
    auto_display: bool = False


@dataclass(frozen=True)
class Map:
    """An edge of the model graph: a linear map ``target += M @ source``.

    Attributes
    ----------
    name : str
        Parameter name of the matrix (shape ``target.dim x source.dim``), an
        identifier.
    source, target : str
        Variable names.
    role : str
        ``"generative"`` (decoder side) or ``"inference"`` (encoder side).
    weight_decay : str or None
        Hyper-parameter name of the weight decay ``(eta/2) ||M||_F^2`` (a
        custom name is declared on validation, with domain ``>= 0``).
    latex : str, optional
        LaTeX name of the matrix (default derived from the name: ``Va`` ->
        ``V_{a}``, ``W1`` -> ``W_{1}``).
    """

    name: str
    source: str
    target: str
    role: str
    weight_decay: str | None = None
    latex: str | None = None


@dataclass
class ModelGraph:
    """A validated model graph (networkx ``DiGraph``) with typed accessors.

    Build it with :meth:`add_variable` and :meth:`add_map`, then call
    :meth:`validate` (the presets in :mod:`statvae.model.presets` do this).

    Examples
    --------
    >>> g = ModelGraph()
    >>> g.add_variable(Variable("x", 3, True, "x", "i", variance="sigma2"))
    >>> g.add_variable(Variable("z", 1, False, "z", "j", variance="prior_variance",
    ...                         encoder="diagonal", beta="beta", covariance_name="D"))
    >>> g.add_map(Map("W", "z", "x", "generative", "weight_decay_dec"))
    >>> g.add_map(Map("V", "x", "z", "inference", "weight_decay_enc"))
    >>> g.validate()
    >>> [v.name for v in g.latents()]
    ['z']
    """

    graph: nx.DiGraph = field(default_factory=nx.DiGraph)

    # -- construction -------------------------------------------------
    def add_variable(self, var: Variable) -> None:
        """Add a variable (a node).

        Parameters
        ----------
        var : Variable
            The variable; its name must be new.

        Raises
        ------
        ModelError
            If ``var`` is no :class:`Variable`, its name is no identifier or is taken, or its dimension is bad.
        """
        if not isinstance(var, Variable):
            raise ModelError(f"add_variable takes a Variable, got {type(var).__name__}")
        H.check_identifier(var.name, "a variable name")
        if var.name in self.graph:
            raise ModelError(f"variable {var.name!r} defined twice")
        check_dim(var.name, var.dim)
        self.graph.add_node(var.name, var=var)

    def add_map(self, m: Map) -> None:
        """Add a linear map (an edge) between two variables already added.

        Parameters
        ----------
        m : Map
            The map; its name must be new, and no other map may join the same variables.

        Raises
        ------
        ModelError
            If ``m`` is no :class:`Map`, names an unknown variable or role, is a loop or duplicates a map.
        """
        if not isinstance(m, Map):
            raise ModelError(f"add_map takes a Map, got {type(m).__name__}")
        H.check_identifier(m.name, "a map name")
        for end in (m.source, m.target):
            if end not in self.graph:
                raise ModelError(f"map {m.name!r} refers to unknown variable {end!r}")
        if m.role not in ("generative", "inference"):
            raise ModelError(f"map {m.name!r}: role must be 'generative' or 'inference', got {m.role!r}")
        if m.source == m.target:
            raise ModelError(f"map {m.name!r} from {m.source!r} to itself makes a cycle")
        if self.graph.has_edge(m.source, m.target):
            raise ModelError(f"two maps from {m.source!r} to {m.target!r}")
        if m.name in {e.name for e in self.maps()}:
            raise ModelError(f"map name {m.name!r} used twice")
        self.graph.add_edge(m.source, m.target, map=m, order=self.graph.number_of_edges())

    # -- accessors ----------------------------------------------------
    def variable(self, name: str) -> Variable:
        """The variable called ``name``.

        Parameters
        ----------
        name : str
            A variable of the graph.

        Returns
        -------
        Variable
            The variable.
        """
        return self.graph.nodes[name]["var"]

    def variables(self) -> list[Variable]:
        """Every variable, in the order they were added."""
        return [d["var"] for _, d in self.graph.nodes(data=True)]

    def observed(self) -> list[Variable]:
        """The observed variables, in the order they were added (the order their data are stacked)."""
        return [v for v in self.variables() if v.observed]

    def latents(self) -> list[Variable]:
        """The latent variables, in the order they were added."""
        return [v for v in self.variables() if not v.observed]

    def maps(self, role: str | None = None) -> list[Map]:
        """The maps, in the order they were added.

        Parameters
        ----------
        role : {None, "generative", "inference"}, optional
            Only the maps of this role (None: all).

        Returns
        -------
        list of Map
            The maps.
        """
        edges = sorted(self.graph.edges(data=True), key=lambda e: e[2]["order"])
        return [d["map"] for _, _, d in edges if role is None or d["map"].role == role]

    def role_graph(self, role: str) -> nx.DiGraph:
        """Subgraph with only the edges of one role (all nodes kept).

        Parameters
        ----------
        role : {"generative", "inference"}
            The role.

        Returns
        -------
        networkx.DiGraph
            Every variable, and an edge for each map of ``role``.
        """
        g = nx.DiGraph()
        g.add_nodes_from(self.graph.nodes)
        g.add_edges_from((m.source, m.target) for m in self.maps(role))
        return g

    def parents(self, name: str, role: str) -> list[Map]:
        """Maps of the given role that point into ``name`` (sorted by name).

        Parameters
        ----------
        name : str
            A variable.
        role : {"generative", "inference"}
            The role.

        Returns
        -------
        list of Map
            The maps whose target is ``name``.
        """
        return sorted((m for m in self.maps(role) if m.target == name), key=lambda m: m.name)

    def inference_order(self) -> list[str]:
        """Variables in an order where every inference parent comes first."""
        return list(nx.lexicographical_topological_sort(self.role_graph("inference")))

    def touches_latent(self, m: Map) -> bool:
        """Whether map ``m`` starts or ends at a latent variable.

        Parameters
        ----------
        m : Map
            A map of the graph.

        Returns
        -------
        bool
            False only for a map between two observed variables.
        """
        return not self.variable(m.source).observed or not self.variable(m.target).observed

    def resized(self, dims: dict[str, int]) -> ModelGraph:
        """Same structure with some dimensions changed.

        Parameters
        ----------
        dims : dict
            New dimension by variable name (variables not named keep theirs).

        Returns
        -------
        ModelGraph
            A new graph, not yet validated.
        """
        g = ModelGraph()
        for v in self.variables():
            g.add_variable(replace(v, dim=dims.get(v.name, v.dim)))
        for m in self.maps():
            g.add_map(m)
        return g

    def structure_key(self) -> tuple[Any, ...]:
        """A hashable description of everything but dimensions and values."""
        vs = tuple(sorted((replace(v, dim=0) for v in self.variables()), key=lambda v: v.name))
        ms = tuple(sorted(self.maps(), key=lambda m: m.name))
        return (vs, ms)

    def dims_key(self) -> tuple[tuple[str, int], ...]:
        """A hashable description of the dimensions: ``(name, dim)`` pairs sorted by name."""
        return tuple(sorted((v.name, v.dim) for v in self.variables()))

    # -- validation ---------------------------------------------------
    def validate(self) -> None:
        """Check the description and fill in defaults; raise :class:`ModelError` with one line if bad.

        Unset display fields (LaTeX names, index letters, covariance names)
        and latent defaults (``encoder="diagonal"``, ``beta="beta"``, prior
        variance) are filled in; hyper-parameter names the graph uses are
        declared in the registry (:func:`statvae.model.hyper.declare_for_role`)
        with the domain of their role.
        """
        self._fill_defaults()
        if not self.latents():
            raise ModelError("the model has no latent variable")
        if not self.observed():
            raise ModelError("the model has no observed variable")
        for role in ("generative", "inference"):
            g = self.role_graph(role)
            if not nx.is_directed_acyclic_graph(g):
                cyc = nx.find_cycle(g)
                path = " -> ".join([cyc[0][0]] + [e[1] for e in cyc])
                raise ModelError(f"the {role} maps form a cycle: {path}")
        for v in self.variables():
            check_dim(v.name, v.dim)
            if v.observed:
                if v.encoder is not None or v.beta is not None:
                    raise ModelError(f"observed variable {v.name!r} cannot have an encoder or a KL weight")
                if self.parents(v.name, "inference"):
                    raise ModelError(f"observed variable {v.name!r} cannot be the target of an inference map")
                has_gen = bool(self.parents(v.name, "generative"))
                if has_gen and v.variance is None:
                    raise ModelError(f"observed variable {v.name!r} has generative parents but no variance")
                if not has_gen and v.variance is not None:
                    raise ModelError(f"observed variable {v.name!r} has a variance but no generative parents")
            else:
                if v.encoder not in ENCODER_KINDS:
                    raise ModelError(
                        f"encoder of {v.name!r} must be one of {', '.join(ENCODER_KINDS)} "
                        f"or a positive number, got {v.encoder!r}"
                    )
                if v.variance == "learned":
                    raise ModelError(f"latent {v.name!r}: a learned prior variance is not supported")
                if not self.parents(v.name, "inference"):
                    raise ModelError(f"latent {v.name!r} has no inference map: q({v.name}|...) needs parents")
        self._check_names()
        for m in self.maps():
            if m.latex is not None:
                register_block_latex(m.name, m.latex)
        for name, role in self.hyper_roles().items():
            H.declare_for_role(name, role)
        observed_out = any(
            self.variable(m.target).observed for m in self.maps("generative") if not self.variable(m.source).observed
        )
        if not observed_out:
            raise ModelError("no generative map from a latent to an observed variable: nothing is reconstructed")

    def _fill_defaults(self) -> None:
        """Fill unset fields of every variable (display names, latent defaults)."""
        used = {v.index for v in self.variables() if v.index}
        pool = [c for c in "ijklmpqrstuvabcdefgh" if c not in used]
        nobs = len(self.observed())
        for v in self.variables():
            ch: dict[str, Any] = {}
            if v.latex is None:
                ch["latex"] = name_latex(v.name)
            if v.index is None:
                ch["index"] = pool.pop(0) if pool else f"i{len(used)}"
            if v.dim_latex is None or (v.observed and v.spectrum_latex is None):
                ch["auto_display"] = True
            if v.dim_latex is None:
                ch["dim_latex"] = f"{'N' if v.observed else 'n'}_{{{name_latex(v.name)}}}"
            if v.observed:
                if v.covariance_latex is None:
                    ch["covariance_latex"] = r"\Sigma" if nobs == 1 else rf"\Sigma_{{{v.name}{v.name}}}"
            else:
                if v.encoder is None:
                    ch["encoder"] = "diagonal"
                if v.beta is None:
                    ch["beta"] = "beta"
                if v.variance is None:
                    root = not any(m.target == v.name for m in self.maps("generative"))
                    ch["variance"] = "prior_variance" if root else "tau2"
                if v.covariance_name is None:
                    ch["covariance_name"] = ("D" if v.name == "z" else f"D{v.name[1:]}" if v.name[0] == "z"
                                             and v.name[1:].isdigit() else f"D_{v.name}")
                if (v.encoder or ch.get("encoder")) == "fixed" and v.encoder_variance is None:
                    ch["encoder_variance"] = "encoder_variance"
            if ch:
                self.graph.nodes[v.name]["var"] = replace(v, **ch)

    def _check_names(self) -> None:
        """Parameter and hyper-parameter names must not collide (they share generated code)."""
        params = [m.name for m in self.maps()] + [v.covariance_name for v in self.latents()]
        params += [self.learned_variance_name(v.name) for v in self.variables() if v.variance == "learned"]
        for v in self.latents():
            H.check_identifier(v.covariance_name, f"the covariance name of {v.name!r}")
        seen: set[str | None] = set()
        for p in params:
            if p in seen:
                raise ModelError(f"parameter name {p!r} is used twice (maps, encoder covariances and learned "
                                 f"variances need distinct names)")
            seen.add(p)
        clash = sorted(set(self.hyper_roles()) & seen)
        if clash:
            raise ModelError(f"{clash[0]!r} names both a parameter and a hyper-parameter")

    def learned_variance_name(self, name: str) -> str:
        """Parameter name of the learned noise variance of variable ``name``.

        ``sigma2`` when the graph learns exactly one variance and has no
        hyper-parameter of that name (the presets), otherwise ``s_<variable>``.

        Parameters
        ----------
        name : str
            A variable whose noise variance is learned.

        Returns
        -------
        str
            The parameter name.

        Raises
        ------
        ModelError
            If the variance of ``name`` is not learned.
        """
        learned = [v.name for v in self.variables() if v.variance == "learned"]
        if name not in learned:
            raise ModelError(f"variable {name!r} has no learned variance")
        if len(learned) == 1 and "sigma2" not in self.hyper_roles():
            return "sigma2"
        return f"s_{name}"

    # -- hyper-parameters ---------------------------------------------
    def hyper_roles(self) -> dict[str, str]:
        """Hyper-parameter name -> the role it plays in this graph (see :data:`statvae.model.hyper.ROLES`)."""
        out: dict[str, str] = {}

        def add(n: str | None, role: str) -> None:
            if n is None or n == "learned":
                return
            H.check_identifier(n, "a hyper-parameter name")
            if n in out and out[n] != role and "weight_decay" in (role, out[n]):
                raise ModelError(f"hyper-parameter {n!r} is used both as a {out[n].replace('_', ' ')} and as a "
                                 f"{role.replace('_', ' ')}")
            out.setdefault(n, role)

        for v in self.variables():
            add(v.variance, "noise_variance" if v.observed else "latent_variance")
            add(v.beta, "kl_weight")
            if v.encoder == "fixed":
                add(v.encoder_variance, "encoder_variance")
        for m in self.maps():
            add(m.weight_decay, "weight_decay")
        return out

    def hyper_names(self) -> list[str]:
        """Names of all hyper-parameters the graph refers to, in a stable order (built-ins first)."""
        names = list(self.hyper_roles())
        builtin = [n for n in H.HYPER if n in H.BUILTIN]
        # built-ins in registry order, then the graph's own names in the order it uses them
        # (never the registry's order for those: it depends on what was validated before)
        return sorted(names, key=lambda n: (0, builtin.index(n)) if n in H.BUILTIN else (1, names.index(n)))
