"""TLS for the webhook without cert-manager.

generate: make a CA, serving certificates, cross-certificates; write them atomically.
pem: read and check PEM material (CertError: one line for the user).
reload: hot-swap the serving pair into a live SSLContext.
manager + inject + kube: the in-cluster Secrets, renewal with CA overlap, caBundle injection.
command: `mcp-admission certs generate|verify|ensure`.
"""
