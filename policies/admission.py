"""The apiserver's admission sequence, offline: mutate, apply the patch, then validate the result.

The validating webhook sees the object as mutated, so `check` must too (a stdio MCPServer capped to
one replica no longer needs a session-storage warning).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import jsonpatch

from .catalog import Policy
from .engine import ALL_POLICIES, clean_warnings, decide
from .model import JSON, Decision, Phase, Request
from .settings import PolicyConfig


def admit(
    request: Request, config: PolicyConfig, policies: Sequence[Policy] = ALL_POLICIES
) -> tuple[Decision, JSON]:
    """Both webhooks' decisions as one, and the object as the apiserver would store it."""
    mutation = decide(request, config, Phase.MUTATE, policies)
    if not mutation.allowed:
        return mutation, request.object
    mutated = (
        jsonpatch.apply_patch(request.object, list(mutation.patch)) if mutation.patch else request.object
    )
    validation = decide(replace(request, object=mutated), config, Phase.VALIDATE, policies)
    decision = Decision(
        patch=mutation.patch,
        warnings=clean_warnings(mutation.warnings + validation.warnings),
        denial=validation.denial,
        errors=mutation.errors + validation.errors,
    )
    return decision, mutated
