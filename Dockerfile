# syntax=docker/dockerfile:1
# The mcp-admission image, named in deploy/base/kustomization.yaml (images:):
#   docker build -t mcp-admission:0.1.0 .
# One image for every part: the pods run `mcp-admission serve` or `mcp-admission reconcile`.
# Python 3.11, as the tests run; dependencies pinned by requirements.lock.
# BASE: any Debian bookworm with python3 3.11 and pip. CI has no registry, so tools/image makes one from
# Debian's archive (mmdebstrap) and passes it here; users keep the default.
ARG BASE=python:3.11-slim-bookworm

FROM ${BASE} AS builder
# Every wheel is gathered here (the project's and its runtime dependencies', at the locked versions), so
# no build backend (setuptools) and no build step reaches the final image.
# requirements.lock pins the tests' tools too; as constraints it adds nothing, it only fixes versions.
WORKDIR /src
COPY requirements.lock ./
COPY pyproject.toml README.md ./
COPY mcp_admission/ mcp_admission/
COPY policies/ policies/
COPY webhook/ webhook/
COPY certs/ certs/
COPY reconciler/ reconciler/
RUN pip wheel --no-cache-dir --wheel-dir /wheels -c requirements.lock .

FROM ${BASE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# --no-index: only the wheels built above, so the pins hold; the wheels are mounted, not copied,
# so they take no layer.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --no-deps /wheels/*.whl \
    && pip check
# A numeric, non-root user: Kubernetes' runAsNonRoot can only verify a numeric UID.
RUN groupadd --gid 65532 mcp-admission \
    && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin mcp-admission
USER 65532:65532
# webhook HTTPS, webhook metrics, reconciler metrics
EXPOSE 8443 8080 8081
ENTRYPOINT ["mcp-admission"]
CMD ["serve"]
