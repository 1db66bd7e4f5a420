"""The webhook's decisions on what already runs in a cluster, read-only: every object of the kinds the
policies cover, listed page by page and decided as an UPDATE of the object to itself, reported in the
formats `check` uses too (mcp_admission.report); the run is pipeline.py, the subcommand
mcp_admission.cli.audit."""
