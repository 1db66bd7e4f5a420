"""The `reconciler:` section of the configuration file."""

from __future__ import annotations

from policies.settings import Model


class ReconcilerSettings(Model):
    namespaces: tuple[str, ...] = ()  # empty: all namespaces
