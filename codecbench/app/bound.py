"""Event handlers with some arguments fixed (the settings, the database), for Gradio events."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any


def bound(fn: Callable[..., Any], *args: Any) -> partial:
    """``fn`` with its first ``args`` fixed, named and documented as ``fn``.

    Gradio shows a handler's name in its warnings and its docstring in the page's API
    description; a bare :func:`functools.partial` would show ``partial``'s own. The signature
    stays the partial's (the remaining parameters), which Gradio matches against the inputs.
    Gradio does not see the type hints of a partial: a handler that asks for ``gr.Request``,
    ``gr.SelectData`` and the like must be a callable object instead.
    """
    handler = partial(fn, *args)
    handler.__name__ = fn.__name__  # type: ignore[attr-defined]
    handler.__doc__ = fn.__doc__
    return handler
