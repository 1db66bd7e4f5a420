#!/usr/bin/env python3
"""requirements.lock: every distribution the project and its tests run with, pinned.

The README, .ci/run and the Dockerfile install with it as constraints (`pip install -c requirements.lock`),
so a release on PyPI never changes what runs. It is the dependency closure of pyproject.toml's
[project] dependencies with the `test` extra (markers evaluated here: Linux, this Python), read from
the virtualenv it runs in. [build-system] pins the same setuptools, for isolated builds.

  python tools/lock.py > requirements.lock   # after changing pyproject.toml's dependencies
  python tools/lock.py --check               # the lock is exactly what is installed (the suite runs it)
"""

from __future__ import annotations

import importlib.metadata as metadata
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PROJECT = "mcp-admission"
EXTRAS = ("test",)
ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
HEADER = "".join(f"# {line}\n" if line else "#\n" for line in (__doc__ or "").strip().splitlines())


def closure() -> dict[str, str]:
    """Canonical name → installed version of everything the project with EXTRAS needs."""
    found: dict[str, str] = {}
    todo: list[tuple[str, str]] = [
        (r, extra) for r in metadata.requires(PROJECT) or [] for extra in ("", *EXTRAS)
    ]
    while todo:
        text, extra = todo.pop()
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        wanted = [(r, x) for r in metadata.requires(name) or [] for x in requirement.extras]
        if name in found and not wanted:
            continue
        found[name] = metadata.version(name)
        todo += [(r, "") for r in metadata.requires(name) or []] + wanted
    return dict(sorted(found.items()))


def render(pins: dict[str, str]) -> str:
    return HEADER + "".join(f"{name}=={version}\n" for name, version in pins.items())


def read(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version
    return pins


def main(argv: list[str]) -> int:
    pins = closure()
    if argv[1:] != ["--check"]:
        sys.stdout.write(render(pins))
        return 0
    locked = read(LOCK)
    problems = [
        *(
            f"{n}: installed {v}, locked {locked[n]}"
            for n, v in pins.items()
            if n in locked and locked[n] != v
        ),
        *(f"{n}=={v}: needed but not in the lock" for n, v in pins.items() if n not in locked),
        *(f"{n}: locked but nothing needs it" for n in locked if n not in pins),
    ]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for text in project["build-system"]["requires"]:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        if str(requirement.specifier) != f"=={locked.get(name)}":
            problems.append(f"[build-system] requires {text}, the lock has {name}=={locked.get(name)}")
    for problem in problems:
        print(f"requirements.lock: {problem}", file=sys.stderr)
    if problems:
        print(
            "install with `pip install -c requirements.lock ...`, or regenerate: python tools/lock.py",
            file=sys.stderr,
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
