"""YAML documents into Python data: PyYAML's C loader, as `yaml.load_all(..., CSafeLoader)` reads them
(YAML 1.1, the same values), except that a key repeated in one mapping is an error, as kubectl's strict
decoding has it (`key "x" already set in map`), where PyYAML silently keeps the last value.

Speed: PyYAML composes nodes in C but resolves tags and constructs values in Python, generically
(SafeConstructor: a constructor lookup, a generator and bookkeeping per node). Manifests are nearly
all strings, mappings and lists, so `Loader.construct_document` builds those itself and hands every
other node (numbers, booleans, null, timestamps, merge keys, explicit tags...) to SafeConstructor;
documents with aliases (`*name`: shared or recursive nodes) go to SafeConstructor whole. Measured on
bench/check's 10,000-object stream, CPU time: `yaml.load_all` 2.0-2.4 s; with this construction
1.0-1.4 s; with the tag memo below as well 0.8-1.2 s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"

Implicit = tuple[bool, bool]
_resolve = cast(Callable[[Any, type[Node], Any, Implicit], str], yaml.CSafeLoader.resolve)  # untyped stubs


class DuplicateKeyError(ConstructorError):
    """A mapping with the same key twice; `problem_mark` is the second, `first` the first."""

    def __init__(self, key: object, first: yaml.Mark, second: yaml.Mark) -> None:
        super().__init__(None, None, f'duplicate key "{key}"', second)
        self.first = first


def _refuse_duplicates(pairs: list[tuple[Node, Node]], keys: list[Any]) -> None:
    seen: dict[tuple[type, Any], Node] = {}
    for (key_node, _), key in zip(pairs, keys, strict=True):
        first = seen.setdefault((type(key), key), key_node)  # 1 and true are two keys, as for kubectl
        if first is not key_node:
            raise DuplicateKeyError(key, first.start_mark, key_node.start_mark)


class Loader(yaml.CSafeLoader):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._text = text  # node marks index it (in characters)
        self._tags: dict[tuple[str, Implicit], str] = {}

    def resolve(self, kind: type[Node], value: Any, implicit: Implicit) -> str:
        # The C composer asks this for every scalar, and keys and many values repeat: the resolver's
        # answer is a pure function of its arguments, so it is remembered (bench/README.md, check).
        if kind is not ScalarNode:
            return _resolve(self, kind, value, implicit)
        key = (value, implicit)
        tag = self._tags.get(key)
        if tag is None:
            tag = self._tags[key] = _resolve(self, kind, value, implicit)
        return tag

    def construct_document(self, node: Node) -> Any:
        if self._text.find("*", node.start_mark.index, node.end_mark.index) < 0:  # no alias in it
            try:
                data = self._build(node)
            except RecursionError:  # nested deeper than Python recurses: SafeConstructor's way below
                self.constructed_objects, self.recursive_objects, self.deep_construct = {}, {}, False
            else:
                self.constructed_objects = {}  # what SafeConstructor built for the nodes handed to it
                return data
        return super().construct_document(node)

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        """SafeConstructor's mappings (documents with aliases, merge keys...), duplicates refused too."""
        own = node.value  # flatten_mapping takes the merge keys (`<<`) out of this very list
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        if len(own) > 1:
            _refuse_duplicates(own, [self.constructed_objects[key] for key, _ in own])
        return mapping

    def _build(self, node: Node) -> Any:
        tag = node.tag
        if tag == _STR:
            return node.value
        if tag == _MAP:
            mapping = {}
            for key_node, value_node in node.value:
                if key_node.tag != _STR:  # a merge key, a number or a boolean as key, ...
                    return self.construct_object(node, deep=True)
                mapping[key_node.value] = self._build(value_node)
            if len(mapping) < len(node.value):
                _refuse_duplicates(node.value, [key.value for key, _ in node.value])
            return mapping
        if tag == _SEQ:
            return [self._build(item) for item in node.value]
        return self.construct_object(node, deep=True)
