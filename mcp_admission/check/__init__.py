"""`mcp-admission check`: the webhook's decisions, offline, for manifests in CI.

Exit codes:
  0  nothing fails the run (there may be warnings and patches the webhook would make)
  1  a policy in enforce mode denies an object, or, under --strict, any warning
  2  unusable input: a missing or unreadable file, a directory without manifests, YAML that does
     not parse (reported as file:line), a document that is not a Kubernetes object (no kind or
     apiVersion), a bad configuration file, or mutated manifests that cannot be written.
     Every good document is still checked and reported; 2 outranks 1.
"""
