"""The webhook's decisions, offline: manifests loaded with their file and line, defaulted and admitted
as the apiserver would, reported in several formats (the `check` subcommand is mcp_admission.cli.check)."""
