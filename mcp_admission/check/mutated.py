"""--write-mutated: every object as the webhooks would leave it, as YAML.

Into a directory, each input file's objects go to the same relative name (a directory argument's
files keep their path below it; stdin is `stdin.yaml`; a `.json` input is written as `.yaml`; inputs
with the same name share one file, in order), one document per object (a `kind: List` becomes its
items). To `-`, one multi-document stream on stdout. Unusable documents are not written.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

import yaml

from mcp_admission.policies import JSON

from .checker import Result

STDOUT = "-"


def _dump(objects: Iterable[JSON], out: TextIO) -> None:
    yaml.dump_all(
        objects, out, Dumper=yaml.CSafeDumper, sort_keys=False, default_flow_style=False, allow_unicode=True
    )


def _target_name(relative: str) -> str:
    return relative[: -len(".json")] + ".yaml" if relative.endswith(".json") else relative


def write_mutated(results: list[Result], target: str, stdout: TextIO) -> str | None:
    """Writes the mutated objects; returns why it could not (for an error about `target`), or None."""
    if target == STDOUT:
        _dump((r.mutated for r in results), stdout)
        return None
    by_file: dict[str, list[JSON]] = {}
    for result in results:
        by_file.setdefault(_target_name(result.manifest.source.relative), []).append(result.mutated)
    root = Path(target)
    try:
        for relative, objects in by_file.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("w", encoding="utf-8") as out:
                _dump(objects, out)
    except OSError as exc:
        return f"cannot write mutated manifests: {exc.strerror or exc} ({exc.filename or target})"
    return None
