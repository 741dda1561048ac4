# syntax=docker/dockerfile:1
# Sliceboard: build the page with Node, a wheel in one stage, install it into a slim runtime as a non-root user.
#   docker build -t sliceboard .
#   docker run -p 8000:8000 -v sliceboard-data:/data sliceboard      # SQLite at /data/sliceboard.db (the working directory)
#   docker run -e SLICEBOARD_DATABASE_URL=postgresql://user:pass@db/sliceboard sliceboard
# The image requires API keys (SLICEBOARD_AUTH=required): give the first admin key with
#   docker run -e SLICEBOARD_BOOTSTRAP_ADMIN_KEY=$(docker run --rm sliceboard sliceboard keys generate) ...
# or create one in the running container: docker exec CONTAINER sliceboard keys create --name admin --scope admin

# The Insights page (web/), built with Node into server/web_dist; the wheel ships it.
FROM node:20-slim AS page
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web ./
COPY schema/schema.graphql /src/schema/schema.graphql
RUN npm run build

FROM python:3.11-slim AS builder
WORKDIR /src
# a C compiler for the optional mask kernels (server/evaluation/geometry/_native.c); the
# runtime stage installs the built wheel and needs none
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir --upgrade pip build
COPY pyproject.toml setup.py README.md ./
COPY server ./server
COPY schema ./schema
COPY --from=page /src/server/web_dist ./server/web_dist
RUN python -m build --wheel --outdir /wheels \
 && pip wheel --no-cache-dir --wheel-dir /wheels /wheels/sliceboard-*.whl

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SLICEBOARD_AUTH=required
RUN groupadd --system --gid 10001 sliceboard \
 && useradd --system --uid 10001 --gid sliceboard --home-dir /data --shell /usr/sbin/nologin sliceboard \
 && mkdir -p /data && chown sliceboard:sliceboard /data
COPY --from=builder /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels sliceboard && rm -rf /wheels
USER sliceboard
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]
# uvicorn drains in-flight requests on SIGTERM (graceful timeout 10 s) and the lifespan stops the job runner.
STOPSIGNAL SIGTERM
CMD ["sliceboard", "serve", "--host", "0.0.0.0", "--port", "8000"]
