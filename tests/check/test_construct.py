"""The loader's YAML construction (construct.py) gives exactly what PyYAML's `load_all` with the C
loader gives (it only builds strings, mappings and lists itself, faster), except that it refuses a key
twice in one mapping."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from yaml.nodes import Node

from mcp_admission.check.construct import DuplicateKeyError, Loader

ROOT = Path(__file__).resolve().parents[2]


def ours(text: str) -> list[Any]:
    loader = Loader(text)
    try:
        documents = []
        while loader.check_node():
            documents.append(loader.construct_document(cast(Node, loader.get_node())))
        return documents
    finally:
        loader.dispose()


def pyyaml(text: str) -> list[Any]:
    return list(yaml.load_all(text, Loader=yaml.CSafeLoader))


def test_real_files_read_the_same(toolhive: Path) -> None:
    files = [*toolhive.rglob("*.yaml"), *toolhive.rglob("*.json"), *(ROOT / "deploy").rglob("*.yaml")]
    compared = 0
    for path in files:
        text = path.read_text(encoding="utf-8")
        try:
            expected = pyyaml(text)
        except yaml.YAMLError:
            continue  # Helm templates: not YAML for either
        assert ours(text) == expected, path
        compared += 1
    assert compared > 250


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\nb: 0x1f\nc: 1_000\nd: yes\ne: ~\nf: 2001-12-14\ng: 1.5e3\nh: !!binary aGVsbG8=\ni: '123'\n",
        "ports: [80, '80', 0o17, 1:30, .inf, -.nan, on, No, null, '', !!str 12]\n",
        "base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  y: 3\n",  # aliases and a merge key
        "a: &a [1, 2]\nb: *a\n",
        "1: a\n2: b\ntrue: c\n",  # keys that are not strings
        "a: !!set {x, y}\nb: !!omap [{a: 1}]\nc: !!pairs [{a: 1}, {a: 2}]\n",
        "=: x\n? complex\n: key\n",
        "--- |\n  a block\n--- >-\n  folded\n  text\n---\n- - - nested\n",
        "key: 2001-12-14t21:59:43.10-05:00\n",
    ],
)
def test_every_kind_of_value_reads_the_same(text: str) -> None:
    assert ours(text) == pyyaml(text)


def test_deeper_than_python_recurses() -> None:
    """libyaml allows 1000 levels; past Python's recursion limit PyYAML's own construction takes over."""
    (document,) = ours("[" * 990 + "]" * 990)
    depth = 0
    while document:  # compared level by level: == itself would recurse too deep
        (document,) = document
        depth += 1
    assert (depth, document) == (989, [])


def test_shared_nodes_stay_shared() -> None:
    """An alias is the same object, as PyYAML makes it (a walk of the nodes would copy it)."""
    (document,) = ours("a: &a {x: [1]}\nb: *a\n")
    assert document["a"] is document["b"]


def test_timestamps_are_still_datetimes() -> None:
    (document,) = ours("at: 2001-12-14 21:59:43.10\n")
    assert isinstance(document["at"], datetime.datetime)


@pytest.mark.parametrize(
    ("text", "line", "first"),
    [
        ("a: 1\nb: 2\na: 3\n", 2, 0),
        ("x:\n  - {k: 1, k: 2}\n", 1, 1),
        ("m: &m {a: 1}\nn:\n  <<: *m\n  a: 2\n  a: 3\n", 4, 3),  # an override of a merged key is fine once
        ('{"a": 1, "a": 1}', 0, 0),
    ],
)
def test_a_key_twice_is_refused(text: str, line: int, first: int) -> None:
    with pytest.raises(DuplicateKeyError) as error:
        ours(text)
    assert error.value.problem_mark is not None
    assert (error.value.problem_mark.line, error.value.first.line) == (line, first)
