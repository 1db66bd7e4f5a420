"""The options of every subcommand, each declared once: flag, environment variable, config key, type,
help, default.

A subcommand lists its `Option`s in a table and adds them with `add`; those that override a section of
the configuration file (`setting`) are resolved by `resolve`: the flag, else the environment variable,
else the file's value, else the section's default. `--config`, `--kubeconfig` and `--log-level` are the
same option in every subcommand that takes them. Environment variables are named in
mcp_admission.environment only (the one list the kubelet's service-link rule is checked against).

Light on purpose: `check` declares its options through this module on every start.
"""

from __future__ import annotations

import argparse
import builtins
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from mcp_admission import environment
from mcp_admission.records import camel

if TYPE_CHECKING:
    from pydantic import BaseModel

M = TypeVar("M", bound="BaseModel")
LOG_LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True)
class Option:
    flag: str
    help: str
    setting: tuple[str, str] | None = None  # (config section, field) the option overrides
    env: str | None = None  # from mcp_admission.environment
    type: Callable[[str], Any] | None = None
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    action: str | builtins.type[argparse.Action] | None = (
        None  # "append", "store_true", BooleanOptionalAction
    )
    default: Any = None  # None for a setting: the file's value (or the section's default) applies
    default_help: str | None = None  # the default as --help states it
    required: bool = False
    short: str | None = None  # e.g. "-n"

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def field(self) -> str | None:
        return self.setting[1] if self.setting else None

    def full_help(self) -> str:
        """The help, then where else the value can come from (the variable, the file's key) and the
        default, in that order of precedence."""
        sources = []
        if self.env:
            sources.append(f"env {self.env}")
        if self.setting:
            section, field = self.setting
            sources.append(f"config {section}.{camel(field)}")
        if self.default_help:
            sources.append(self.default_help if sources else f"default: {self.default_help}")
        return f"{self.help} ({', else '.join(sources)})" if sources else self.help

    def add_to(self, parser: argparse.ArgumentParser, help: str | None = None) -> None:
        """Declare the option on `parser`; `help` replaces the shared text where a command means more."""
        names = (self.short, self.flag) if self.short else (self.flag,)
        declared: dict[str, Any] = {"help": help or self.full_help(), "default": self.default}
        if self.action is not None:
            declared["action"] = self.action
        if self.type is not None:
            declared["type"] = self.type
        if self.metavar is not None:
            declared["metavar"] = self.metavar
        if self.choices is not None:
            declared["choices"] = self.choices
        if self.required:
            declared["required"] = True
        parser.add_argument(*names, **declared)


def add(parser: argparse.ArgumentParser, options: Iterable[Option]) -> None:
    for option in options:
        option.add_to(parser)


def given(option: Option, args: argparse.Namespace, environ: Mapping[str, str]) -> tuple[Any, str] | None:
    """The option's value and where it came from (its flag or its variable); None: neither was given."""
    value = getattr(args, option.dest, None)
    if value is not None:
        return value, option.flag
    if option.env and environ.get(option.env):
        return environ[option.env], option.env
    return None


def resolve(section: M, options: Iterable[Option], args: argparse.Namespace, environ: Mapping[str, str]) -> M:
    """`section` (the file's, or its defaults) with every option given on top.

    A bad value raises ConfigError naming the flag or variable it came from.
    """
    from mcp_admission.configfile import with_overrides

    overrides: dict[str, object] = {}
    names: dict[str, str] = {}
    for option in options:
        found = given(option, args, environ) if option.field else None
        if option.field and found is not None:
            overrides[option.field], names[option.field] = found
    return with_overrides(section, overrides, names)


# -- the options several subcommands share -------------------------------------------------------------

CONFIG = Option(
    "--config",
    "configuration file",
    env=environment.CONFIG,
    default_help="none: the built-in settings",
    metavar="FILE",
)
KUBECONFIG = Option(
    "--kubeconfig",
    "kubeconfig file",
    default_help="in a pod its ServiceAccount, else $KUBECONFIG, else ~/.kube/config",
    metavar="FILE",
)
LOG_LEVEL = Option(
    "--log-level", "what to log", env=environment.LOG_LEVEL, default_help="info", choices=LOG_LEVELS
)


def log_level(args: argparse.Namespace, environ: Mapping[str, str]) -> str:
    """--log-level, else $MCP_ADMISSION_LOG_LEVEL, else info; argparse has checked only the flag's value."""
    found = given(LOG_LEVEL, args, environ)
    if found is None:
        return "info"
    level = str(found[0]).lower()
    if level not in LOG_LEVELS:
        from mcp_admission.configfile import ConfigError

        raise ConfigError(f"{found[1]}: must be one of {', '.join(LOG_LEVELS)}")
    return level


def add_config(parser: argparse.ArgumentParser, uses: str | None = None) -> None:
    """--config; `uses`: what this command takes from the file, when that is not only the policies."""
    help = CONFIG.full_help()
    CONFIG.add_to(parser, f"{help}; {uses}" if uses else help)


Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def command(
    subparsers: Subcommands, name: str, help: str, epilog: str, description: str | None = None
) -> argparse.ArgumentParser:
    """A subcommand's parser: its one-line help, its description, and its exit codes (exitcodes.epilog)
    as the epilog; descriptions and epilogs keep their own line breaks."""
    return subparsers.add_parser(
        name,
        help=help,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
