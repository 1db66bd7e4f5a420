"""TLS for the webhook without cert-manager.

generate: make a CA, serving certificates, cross-certificates; write them atomically.
pem: read and check PEM material (CertError: one line for the user).
reload: hot-swap the serving pair into a live SSLContext.
manager + inject (+ secret_data): the in-cluster Secrets, renewal with CA overlap, caBundle injection,
through the shared mcp_admission.kube client.
command: `mcp-admission certs generate|verify|ensure`.
"""
