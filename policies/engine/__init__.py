"""The engine: recognise an MCP workload, run the policies that apply in their modes, decide.

Pure: no I/O, no globals that change, no clock. `decide` is the one entry point (policies/__init__.py
re-exports it); the other modules are its vocabulary, which the policy files speak.
"""
