# syntax=docker/dockerfile:1
# nats-connectivity-exporter: docker build -t nats-connectivity-exporter:0.1.0 .
# The image runs as UID/GID 10001 with a read-only root filesystem: it writes nothing but (at most) /tmp.
# tests/deploy/test_image_contract.py reproduces this file's runtime contract without a Docker engine.

ARG PYTHON_VERSION=3.11

# ---- build: wheels of the exporter and of every dependency, then a virtual environment from those wheels ----
FROM python:${PYTHON_VERSION}-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY exporter ./exporter
# Dependencies come as binary wheels where PyPI has them; a pure-Python sdist (nkeys) is built into a wheel here, and
# one that needed a compiler would fail here: this image has none. The environment is installed from /wheels only.
# Bytecode is compiled once here, hash-checked so it never goes stale (no timestamps to compare), since nothing can
# write __pycache__ at run time; pip and setuptools leave the environment, which only runs the exporter.
RUN pip wheel --prefer-binary --wheel-dir /wheels . \
    && python -m venv /opt/nats-connectivity-exporter \
    && /opt/nats-connectivity-exporter/bin/pip install --no-index --find-links=/wheels --no-compile \
       /wheels/nats_connectivity_exporter-*.whl \
    && /opt/nats-connectivity-exporter/bin/pip uninstall --yes pip setuptools \
    && python -m compileall -q -f --invalidation-mode unchecked-hash /opt/nats-connectivity-exporter

# ---- runtime: the slim base, the environment, a fixed non-root user; no compilers, no pip caches ----
FROM python:${PYTHON_VERSION}-slim
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="nats-connectivity-exporter" \
      org.opencontainers.image.description="Prometheus exporter: can the applications in a Kubernetes cluster reach NATS, and how well?" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/python:${PYTHON_VERSION}-slim"
RUN groupadd --system --gid 10001 exporter \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin exporter
COPY --from=build /opt/nats-connectivity-exporter /opt/nats-connectivity-exporter
ENV PATH="/opt/nats-connectivity-exporter/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /tmp
EXPOSE 10025
ENTRYPOINT ["nats-connectivity-exporter"]
CMD ["serve"]
