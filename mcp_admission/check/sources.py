"""Which inputs a check reads: -f arguments as given, directories walked, --exclude, Helm charts.

- A directory is walked recursively, in sorted order, for `.yaml`, `.yml` and `.json` files
  (symlinked directories are not followed: no loops).
- `--exclude GLOB` leaves out the files and whole directories it matches. A GLOB without `/` matches
  a file or directory name at any depth (`values*.yaml`, `tests`); a GLOB with `/` matches the whole
  path, either as given on the command line (`deploy/charts/*/ci/*.yaml`) or below the -f directory
  (`charts/*/ci`); `*` and `?` stay within one path segment, `**` is any number of segments,
  `[abc]`/`[!abc]` are character classes. stdin is never excluded.
- A Helm chart (a directory with `Chart.yaml`) has Go templates in `templates/`: not manifests until
  rendered. They are skipped, with one notice per chart saying how to check them rendered. The rest of
  the chart is read like any file (values.yaml: no object, skipped; plain CRDs: checked).
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterable, Sequence
from pathlib import Path

from mcp_admission.report.result import InputError, Location

from .loader import CHECK_RENDERED, MANIFEST_SUFFIXES, STDIN, STDIN_NAME, Skipped, Source

Input = Source | InputError | Skipped
TEMPLATES = "templates"
CHART = "Chart.yaml"


class Excludes:
    """--exclude GLOBs (see the module): whether a file or directory is left out."""

    def __init__(self, globs: Iterable[str]) -> None:
        names: list[str] = []
        paths: list[str] = []
        for glob in globs:
            glob = glob.removeprefix("./").rstrip("/")
            (paths if "/" in glob else names).append(_translate(glob))
        self._name = re.compile("|".join(names)) if names else None
        self._path = re.compile("|".join(paths)) if paths else None

    def __call__(self, path: Path, below: str | None = None) -> bool:
        """Whether `path` (as given, or walked to) is excluded; `below`: its path below the -f directory."""
        if self._name is not None and self._name.fullmatch(path.name):
            return True
        if self._path is None:
            return False
        return bool(self._path.fullmatch(path.as_posix()) or (below and self._path.fullmatch(below)))


def _translate(glob: str) -> str:
    """A regular expression that matches what `glob` matches (see the module)."""
    segments = glob.split("/")
    parts = []
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "**":
            parts.append(".*" if last else "(?:[^/]*/)*")
        else:
            parts.append(_segment(segment) + ("" if last else "/"))
    return "(?:" + "".join(parts) + ")"


def _segment(segment: str) -> str:
    out, index = [], 0
    while index < len(segment):
        char = segment[index]
        end = segment.find("]", index + 2) if char == "[" else -1
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif end > 0:
            body = segment[index + 1 : end].replace("\\", "\\\\")
            body = "^" + body[1:] if body.startswith("!") else body.replace("^", "\\^", 1)
            out.append(f"[{body}]")
            index = end
        else:
            out.append(re.escape(char))
        index += 1
    return "".join(out)


def expand(paths: Sequence[str | Path], exclude: Iterable[str] = ()) -> list[Input]:
    """The sources behind -f arguments, in order, with what is missing and what is skipped."""
    excluded = Excludes(exclude)
    found: list[Input] = []
    charts: set[Path] = set()  # noticed already
    for arg in paths:
        if str(arg) == STDIN:  # at most once: the command refuses a second "-"
            found.append(Source(STDIN_NAME, STDIN_NAME + ".yaml", None))
            continue
        path = Path(arg)
        if excluded(path):
            continue
        chart = _chart_of(path)
        if chart is not None:
            if chart not in charts:  # one notice per chart, however many of its templates are given
                charts.add(chart)
                found.append(_chart_notice(chart if path.is_absolute() else Path(os.path.relpath(chart))))
        elif path.is_dir():
            walked = _walk(path, excluded)
            if walked is None:
                walked = [InputError(Location(str(arg)), "no .yaml, .yml or .json files in this directory")]
            found.extend(walked)
        elif path.exists():
            found.append(Source(str(arg), path.name, path))
        else:
            found.append(InputError(Location(str(arg)), "no such file or directory"))
    return found


def _walk(root: Path, excluded: Excludes) -> list[Input] | None:
    """The inputs below `root`, sorted by their path below it; None: no manifest file, nothing left out."""
    found: list[tuple[str, Input]] = []
    left_out = False
    for directory, subdirs, files in os.walk(root):  # does not follow directory symlinks: no loops
        here = Path(directory)
        below = here.relative_to(root)
        kept = []
        for name in sorted(subdirs):
            path, relative = here / name, (below / name).as_posix()
            if excluded(path, relative):
                left_out = True
            elif name == TEMPLATES and CHART in files:
                found.append((relative, _chart_notice(here)))
            else:
                kept.append(name)
        subdirs[:] = kept
        for name in files:
            path, relative = here / name, (below / name).as_posix()
            if not name.endswith(MANIFEST_SUFFIXES):
                continue
            if excluded(path, relative):
                left_out = True
            else:
                found.append((relative, Source(str(path), relative, path)))
    if not found and not left_out:
        return None
    return [item for _, item in sorted(found, key=lambda pair: pair[0])]


def _chart_of(path: Path) -> Path | None:
    """The chart whose templates/ `path` is in (or is), if any."""
    absolute = path.absolute()
    for directory in (absolute, *absolute.parents):
        if directory.name == TEMPLATES and (directory.parent / CHART).is_file():
            return directory.parent
    return None


def _chart_notice(chart: Path) -> Skipped:
    command = f"helm template {shlex.quote(chart.as_posix())} {CHECK_RENDERED}"
    return Skipped(
        (chart / TEMPLATES).as_posix(), f"Helm chart templates; check the chart rendered: {command}"
    )
