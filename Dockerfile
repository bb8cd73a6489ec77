# syntax=docker/dockerfile:1
# Production image of the API server and `tenantctl` (issue 12, item 8).
# - Dependencies come from requirements.lock only (exact versions, every file
#   checked against its sha256: pip's --require-hashes); the project itself is
#   installed after them with --no-deps, so nothing unlocked slips in.
# - No development or test packages (pytest, the MongoDB mocks) and no embedded
#   SecantusDB server: the image always runs against MongoDB (APP_MONGODB_URL).
# - Runs as an unprivileged user; backups go to the /data/backups volume.
# Refresh the lock with `make lock` after changing dependencies in pyproject.toml.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY requirements.lock /tmp/requirements.lock
RUN /opt/venv/bin/pip install --require-hashes --no-deps -r /tmp/requirements.lock
WORKDIR /src
COPY pyproject.toml README.md ./
COPY accounts ./accounts
COPY billing ./billing
COPY domain ./domain
COPY graphql_api ./graphql_api
COPY migrations ./migrations
COPY notifications ./notifications
COPY scripts ./scripts
COPY tenancy ./tenancy
RUN /opt/venv/bin/pip install --no-deps . \
    && /opt/venv/bin/pip check

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    APP_ENVIRONMENT=production \
    APP_BACKUP_DIR=/data/backups
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --shell /usr/sbin/nologin app \
    && mkdir -p /app /data/backups \
    && chown app:app /app /data/backups
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
USER 10001:10001
VOLUME ["/data/backups"]
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=5 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]
CMD ["tenant-api", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
