FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY graphql_api ./graphql_api
COPY tenancy ./tenancy
COPY migrations ./migrations
COPY scripts ./scripts
RUN pip install --no-cache-dir .
EXPOSE 8000
CMD ["python", "-m", "graphql_api", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
