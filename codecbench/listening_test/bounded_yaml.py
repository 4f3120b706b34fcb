"""YAML from a file someone else may have written, read with bounds, and values quoted short.

A few hundred bytes of nested anchors and aliases stand for billions of values ("billion
laughs"); PyYAML shares them while loading, but anything that walks or prints the result
(a check, an error message quoting it) expands them. Nesting thousands of levels deep
exhausts Python's stack in PyYAML's composer. Both are refused from the parser's events,
before any node is built.

Aliases stay allowed, within :data:`MAX_ALIAS_NODES`: the spec format never needs them, but
YAML authors use them to share a value. Only aliases make a document larger than its bytes;
:data:`MAX_NODES` bounds what loading it builds either way.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterable
from typing import Any

import yaml

#: Values aliases may stand for in one document, each use counted with everything under it.
#: Sharing a setting or a files map takes a few hundred; a 377-byte alias bomb, billions.
MAX_ALIAS_NODES = 10_000
#: Values in one document, aliases expanded (2,000 items with ten file conditions take 42,000).
MAX_NODES = 100_000
#: Levels of nested lists and mappings (a test.yaml needs four: conditions[0].files.item).
MAX_DEPTH = 20

_QUOTE = reprlib.Repr()
_QUOTE.maxstring = _QUOTE.maxother = 80
_QUOTE.maxlist = _QUOTE.maxdict = _QUOTE.maxtuple = _QUOTE.maxset = 5
_QUOTE.maxlevel = 2


class YamlBoundsError(ValueError):
    """The text is not YAML, or expands or nests beyond the bounds; the message says where."""


def quoted(value: Any) -> str:
    """``value`` as quoted in a message: its repr, shortened (without building the whole repr of a
    huge value first); control characters come out escaped."""
    return _QUOTE.repr(value)


def shown(value: Any, limit: int = 80) -> str:
    """A name or path as shown in a message: bare when printable and at most ``limit`` characters,
    else :func:`quoted` (escaped, shortened)."""
    text = str(value)
    return text if len(text) <= limit and text.isprintable() else quoted(text)


def listed(values: Iterable[Any], limit: int = 10) -> str:
    """``a, b, c`` for a message: at most ``limit`` values (each :func:`shown`), then how many more."""
    values = list(values)
    listing = ", ".join(shown(value) for value in values[:limit])
    return listing if len(values) <= limit else f"{listing} and {len(values) - limit} more"


def shortened(text: str, limit: int = 400) -> str:
    """``text`` cut to about ``limit`` characters (a parser's message may quote a whole token)."""
    return text if len(text) <= limit else f"{text[:limit - 40]} ... ({len(text)} characters in all)"


def load_bounded_yaml(text: str) -> Any:
    """The one YAML document in ``text`` (safe types only), refused when its aliases stand for more
    than :data:`MAX_ALIAS_NODES` values, when it holds more than :data:`MAX_NODES` values, when an
    alias is part of the value it names, or when it nests deeper than :data:`MAX_DEPTH`.

    Raises:
        YamlBoundsError: with the line, what is wrong and what to write instead.
    """
    try:
        _check_events(text)
        loader = _Loader(text)
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as error:
        raise YamlBoundsError(f"not valid YAML: {shortened(str(error))}") from None


def _check_events(text: str) -> None:
    """Walk the parser's events (no nodes built, no recursion), counting the values each alias
    stands for and the nesting depth."""
    expanded = 0  # values so far, each alias counted as what it stands for
    by_aliases = 0  # of which aliases added
    sizes: dict[str, int] = {}  # anchor -> values under it, aliases expanded
    open_collections: list[tuple[str | None, int]] = []  # (anchor, `expanded` before it)
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent):
            if event.anchor not in sizes:
                if any(anchor == event.anchor for anchor, _ in open_collections):
                    raise YamlBoundsError(f"line {line}: alias *{shown(event.anchor)} is inside the value it names; "
                                          "write the value out.")
                raise YamlBoundsError(f"line {line}: alias *{shown(event.anchor)} names no anchor "
                                      f"(&{shown(event.anchor)}) defined before it.")
            expanded += sizes[event.anchor]
            by_aliases += sizes[event.anchor]
            if by_aliases > MAX_ALIAS_NODES:
                raise YamlBoundsError(
                    f"line {line}: its aliases stand for more than {MAX_ALIAS_NODES} values in all (alias "
                    f"*{shown(event.anchor)} alone for {sizes[event.anchor]}); a test needs far fewer: write the "
                    "values out, or use fewer nested aliases.")
        elif isinstance(event, yaml.ScalarEvent):
            expanded += 1
            if event.anchor is not None:
                sizes[event.anchor] = 1
        elif isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            if event.anchor is not None:
                sizes.pop(event.anchor, None)  # redefined: aliases inside refer to this one, still open
            open_collections.append((event.anchor, expanded))
            expanded += 1
            if len(open_collections) > MAX_DEPTH:
                raise YamlBoundsError(f"line {line}: nests lists and mappings more than {MAX_DEPTH} levels deep; "
                                      "a test.yaml needs four.")
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            anchor, before = open_collections.pop()
            if anchor is not None:
                sizes[anchor] = expanded - before
        if expanded > MAX_NODES:
            raise YamlBoundsError(f"line {line}: holds more than {MAX_NODES} values; a test lists its items and "
                                  "conditions: name a test set for many items (`items: {test_set: NAME, ...}`).")


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, with values its constructors cannot build (a date 2001-13-45, an
    integer of more than 4300 digits) reported as YAML errors at their place."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as error:
            value = node.value if isinstance(node, yaml.ScalarNode) else node.tag
            problem = str(error).split(": value has")[0]  # Python's hint on integer digits is not for the author
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {quoted(value)} ({shortened(problem, 120)})", node.start_mark) from None
