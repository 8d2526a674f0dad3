"""The projection-method registry: one :class:`ProjectionMethod` per way of drawing a map.

A method is one function plus one :func:`register_method` call. Everything else reads the
registry: :func:`embedcore.analysis.projection.project` (its checks, defaults and runner), the
explorer's controls (the method list, the settings offered with their ranges, the PCA preview,
queueing and background maps), the search and languages pages' map choices, and the CLI's
``project --method``. The built-in methods (UMAP, PCA, t-SNE) register themselves in
:mod:`embedcore.analysis.reducers`; read the registry through
:func:`embedcore.analysis.projection.registered_methods` / ``get_method`` / ``method_names``, which
load them (and the plugins below) first.

A package outside this repository registers its methods through the ``embedcore.projection_methods``
entry point group (``name = "package.module"``): the module is imported the first time the
registry is listed, and calls :func:`register_method` itself.

Examples
--------
>>> import numpy as np
>>> from embedcore.analysis.projection import get_method, method_names, project
>>> from embedcore.analysis.projection import ProjectionMethod, register_method, unregister_method
>>> def first_axes(X, n_components, random_state, params, notes):
...     return np.asarray(X, dtype=np.float32)[:, :n_components]
>>> toy = register_method(ProjectionMethod("axes", "First axes", first_axes, min_points=1,
...                                        neighbour_based=False, slow=False))
>>> "axes" in method_names(), get_method("axes").display_name
(True, 'First axes')
>>> project(np.eye(3), "axes").tolist()
[[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]
>>> unregister_method("axes")
>>> "axes" in method_names()
False
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = [
    "ProjectionMethod",
    "Setting",
    "register_method",
    "registry_snapshot",
    "unregister_method",
]

#: ``run(X, n_components, random_state, params, notes) -> coords``: ``X`` float32 rows (unit
#: length and without repeats for a neighbour-based method), ``params`` the method's defaults
#: overridden by the caller's (the runner may write the values it actually used into it),
#: ``notes`` a list to append sentences for the user to.
Runner = Callable[..., object]


@dataclass(frozen=True)
class Setting:
    """A parameter the explorer offers as a slider beside the map.

    ``low``, ``high`` and ``step`` are the slider's range (all ints: an integer slider).
    ``auto(n_points, n_components)``, when given, is the value used until the user switches
    "Auto" off; the slider then starts from it.
    """

    name: str
    low: float
    high: float
    step: float = 1
    help: str = ""
    auto: Callable[[int, int], float] | None = None
    auto_help: str = ""

    @property
    def integer(self) -> bool:
        """Whether the slider holds whole numbers."""
        return all(isinstance(v, int) for v in (self.low, self.high, self.step))


def _no_summary(params: Mapping) -> str:
    return ""


@dataclass(frozen=True)
class ProjectionMethod:
    """One projection method and what the engine and the UI need to know about it.

    Attributes
    ----------
    name : str
        Lower-case identifier (``"umap"``), the ``method=`` of :func:`project`.
    display_name : str
        What the UI and messages call it (``"t-SNE"``).
    run : callable
        ``run(X, n_components, random_state, params, notes) -> array (n, n_components)``.
    min_points : int
        Fewest distinct texts it can map.
    defaults : mapping
        Its parameters' defaults; ``project(..., **params)`` overrides them.
    settings : tuple of Setting
        The parameters the explorer offers, with their ranges.
    neighbour_based : bool
        Rows are unit-normalised and repeated rows fitted once (cosine geometry); False for a
        linear method, which also places a query exactly (:func:`~embedcore.analysis.explore.place_query`).
    slow : bool
        Takes seconds or more: the explorer queues it, shows a PCA preview above
        ``preview_above`` points (or while ``ready()`` is False) and computes large maps in
        the background.
    preview_above, max_points : int or None
        Above ``preview_above`` points a preview is shown first; above ``max_points`` the
        explorer refuses (the run would take tens of minutes).
    ready : callable or None
        ``ready() -> bool``: False while a first use would still compile code.
    dimensions : tuple of int
        The views it can draw (``(2, 3)``; ``(2,)`` for a method without 3-D).
    summary : callable
        ``summary(params) -> str``: the parameters that matter, for the map's caption.
    description : str
        One sentence for the method control's help.
    """

    name: str
    display_name: str
    run: Runner
    min_points: int = 3
    defaults: Mapping = field(default_factory=dict)
    settings: tuple[Setting, ...] = ()
    neighbour_based: bool = True
    slow: bool = True
    preview_above: int | None = None
    max_points: int | None = None
    ready: Callable[[], bool] | None = None
    dimensions: tuple[int, ...] = (2, 3)
    summary: Callable[[Mapping], str] = _no_summary
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name or self.name != self.name.lower() or not self.name.isidentifier():
            raise ValueError(f"A method name is a lower-case identifier; got {self.name!r}.")
        object.__setattr__(self, "defaults", MappingProxyType(dict(self.defaults)))
        object.__setattr__(self, "settings", tuple(self.settings))

    def needs_preview(self, n: int) -> bool:
        """Will a map of ``n`` points take long enough to show a PCA first?

        >>> from embedcore.analysis.projection import get_method
        >>> get_method("pca").needs_preview(10**6), get_method("tsne").needs_preview(5000)
        (False, True)
        """
        if not self.slow:
            return False
        if self.ready is not None and not self.ready():
            return True
        return self.preview_above is not None and n > self.preview_above


_lock = threading.Lock()
_methods: dict[str, ProjectionMethod] = {}


def register_method(method: ProjectionMethod) -> ProjectionMethod:
    """Add ``method`` to the registry (replacing one of the same name); return it.

    The UI lists methods in registration order.
    """
    if not isinstance(method, ProjectionMethod):
        raise TypeError("register_method() takes a ProjectionMethod")
    with _lock:
        _methods[method.name] = method
    return method


def unregister_method(name: str) -> None:
    """Remove a method (a test's toy method); unknown names are ignored."""
    with _lock:
        _methods.pop(name, None)


def registry_snapshot() -> tuple[ProjectionMethod, ...]:
    """The methods registered so far, in registration order.

    Read the registry through :func:`embedcore.analysis.projection.registered_methods`, which
    registers the built-in methods and the installed plugins first.
    """
    with _lock:
        return tuple(_methods.values())
