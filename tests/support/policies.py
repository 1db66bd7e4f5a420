"""Policies the tests make up (a broken one, a loud one…) to show what the engine and webhook do with them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from mcp_admission.policies import Outcome, Phase, Policy, PolicySettings, Request


def a_policy(
    id: str,
    evaluate: Callable[[Request, Any, PolicySettings], Outcome],
    *,
    phase: Phase = Phase.MUTATE,
    kinds: Iterable[str] = ("StatefulSet",),
    operations: Iterable[str] = ("CREATE",),
    summary: str = "a policy of the tests",
) -> Policy[PolicySettings]:
    """A policy on its default settings, declared in one line where a test needs one."""
    return Policy(
        id=id,
        summary=summary,
        phase=phase,
        kinds=frozenset(kinds),
        operations=frozenset(operations),
        evaluate=evaluate,
        settings=PolicySettings,
    )
