"""The import contract: which module may import which, read from the source (lazy imports included).

Layers, top to bottom; a module imports only from its own layer or below:

- cli: the subcommands, wiring the parts (and the one configuration file that names every section)
- adapters: webhook, reconciler, certs, check, audit, deploy, independent of each other, except where a
  part serves another (the webhook serves with the certificates' hot reload)
- report: what check and audit both report (results, locations, formats), below both
- catalogue: the policies, their registry and the package's public names, pure (below); every layer above
  it imports only the package `mcp_admission.policies` (its public names), never one of its modules
- engine: `mcp_admission.policies.engine`, pure; it takes the policies as input, so never imports them
- bottom: the Kubernetes client, the configuration file reader, settings records and the pydantic base,
  Kubernetes name rules, logs, exit codes
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "mcp_admission"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("mcp_admission.cli", "mcp_admission.__main__"),
    (
        "mcp_admission.webhook",
        "mcp_admission.reconciler",
        "mcp_admission.certs",
        "mcp_admission.check",
        "mcp_admission.audit",
        "mcp_admission.deploy",
    ),
    ("mcp_admission.report",),
    ("mcp_admission.policies",),
    ("mcp_admission.policies.engine",),
    (
        "mcp_admission.kube",
        "mcp_admission.configfile",
        "mcp_admission.environment",
        "mcp_admission.models",
        "mcp_admission.records",
        "mcp_admission.names",
        "mcp_admission.logs",
        "mcp_admission.backoff",
        "mcp_admission.metrics",
        "mcp_admission.exitcodes",
        "mcp_admission.examples",
    ),
)
INDEPENDENT = LAYERS[1]  # the adapters: none imports another ...
CATALOGUE = LAYERS.index(("mcp_admission.policies",))  # above it, only the package's public names
ALLOWED_BETWEEN = frozenset({("mcp_admission.webhook", "mcp_admission.certs")})  # ... but these

# What adapters may import of the policies: the package, i.e. its public names.
POLICIES = "mcp_admission.policies"

# The engine and its policies decide from their input alone: no I/O, no clock, no randomness, no state.
PURE = "mcp_admission.policies"
PURE_MAY_IMPORT = frozenset(
    {
        "__future__",
        "collections",
        "dataclasses",
        "enum",
        "functools",
        "itertools",
        "re",
        "typing",
        "unicodedata",
        "jsonpatch",  # RFC 6902 application, pure
    }
)


class Violation(NamedTuple):
    module: str
    imported: str
    line: int
    why: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.imported}: {self.why}"


def package_dirs() -> dict[str, Path]:
    """Package name → folder, as pyproject.toml installs them (the one place the mapping is written)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    mapped = project["tool"]["setuptools"]["package-dir"]
    return {PACKAGE: ROOT / PACKAGE, **{name: ROOT / folder for name, folder in mapped.items()}}


def sources() -> tuple[dict[str, str], frozenset[str]]:
    """Every module of the installed package by its import name, with its source; and which are packages."""
    found: dict[str, str] = {}
    packages: set[str] = set()
    dirs = package_dirs()
    nested = {path.resolve() for name, path in dirs.items() if name != PACKAGE}
    for name, folder in dirs.items():
        for path in sorted(folder.rglob("*.py")):
            if any(parent.resolve() in nested for parent in path.parents if name == PACKAGE):
                continue
            parts = path.relative_to(folder).with_suffix("").parts
            module = ".".join((name, *parts[:-1]) if parts[-1] == "__init__" else (name, *parts))
            found[module] = path.read_text(encoding="utf-8")
            if parts[-1] == "__init__":
                packages.add(module)
    return found, frozenset(packages)


def imports(module: str, source: str, is_package: bool) -> Iterator[tuple[str, int, bool]]:
    """(imported module, line, whether it is a name `from` a module) for every import statement,
    relative ones resolved."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno, False
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")
                anchor = parts if is_package else parts[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from package import submodule` imports the submodule: count both names.
            yield base, node.lineno, False
            for alias in node.names:
                yield f"{base}.{alias.name}", node.lineno, True


def group_of(module: str) -> tuple[int, str] | None:
    """(layer index, group) of an mcp_admission module, by its longest group; None outside every group."""
    found = [
        (index, group)
        for index, layer in enumerate(LAYERS)
        for group in layer
        if module == group or module.startswith(group + ".")
    ]
    return max(found, key=lambda found: len(found[1])) if found else None


def public_names(source: str) -> frozenset[str]:
    """The names a package's `__all__` lists (a literal list or tuple of strings)."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return frozenset(ast.literal_eval(node.value))
    return frozenset()


def _into_policies(imported: str, alias: bool, public: frozenset[str]) -> bool:
    """Whether an import reaches one of the policies' modules rather than the package's public names:
    `from mcp_admission.policies.x import …`, `import mcp_admission.policies.x`, or `from
    mcp_admission.policies import x` of a name the package does not list in `__all__`."""
    if not imported.startswith(POLICIES + "."):
        return False
    if not alias:  # the statement's own module
        return True
    name = imported.removeprefix(POLICIES + ".")
    return "." not in name and name not in public


def violations(modules: Mapping[str, str], packages: frozenset[str] = frozenset()) -> list[Violation]:
    found: list[Violation] = []
    public = public_names(modules.get(POLICIES, ""))
    for module, source in modules.items():
        own = group_of(module)
        if own is None:
            if module != PACKAGE:
                found.append(Violation(module, "-", 0, "in no layer: add it to LAYERS"))
            continue
        seen: set[tuple[str, int]] = set()
        for imported, line, alias in imports(module, source, module in packages):
            if (imported, line) in seen:
                continue
            seen.add((imported, line))
            top = imported.split(".")[0]
            pure = module == PURE or module.startswith(PURE + ".")
            if pure and top != PACKAGE and top not in PURE_MAY_IMPORT:
                found.append(Violation(module, imported, line, "the engine stays pure"))
            if top != PACKAGE or imported == PACKAGE:
                continue
            target = group_of(imported)
            if target is None:
                continue
            if target[0] < own[0]:
                found.append(Violation(module, imported, line, "imports a layer above its own"))
            elif own[0] < CATALOGUE and _into_policies(imported, alias, public):
                found.append(Violation(module, imported, line, "adapters use the policies' public names"))
            elif (
                own[1] in INDEPENDENT
                and target[1] in INDEPENDENT
                and own[1] != target[1]
                and (own[1], target[1]) not in ALLOWED_BETWEEN
            ):
                found.append(Violation(module, imported, line, "adapters stay independent"))
    return found
