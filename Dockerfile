# syntax=docker/dockerfile:1
#
# awan's one production image. The code location (a Dagster gRPC code server, where runs
# execute), the Dagster webserver and the Dagster daemon all run from it, so the code the UI
# shows is the code that runs. Dependencies come from uv.lock exactly (the same pins as CI).
# Every setting and secret arrives through the environment at run time (docker-compose.yml):
# nothing secret is ever baked into a layer.
ARG PYTHON_VERSION=3.11
FROM python:${PYTHON_VERSION}-slim-bookworm

ARG UV_VERSION=0.13.8
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    DAGSTER_HOME=/opt/dagster/home \
    AWAN_HOME=/var/lib/awan

RUN pip install --no-cache-dir "uv==${UV_VERSION}"

WORKDIR /opt/awan

# Dependencies first, in a layer that changes only with the lock file. ta-lib's wheel bundles
# the TA-Lib C library, psycopg/psycopg2 ship binary wheels: no compiler is needed.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-default-groups --no-install-project

COPY awan_trading ./awan_trading
COPY awan_pipelines ./awan_pipelines
COPY awan.toml workspace.yaml ./
RUN uv sync --frozen --no-default-groups --no-editable
# UV_COMPILE_BYTECODE compiled the venv (the project's installed copy included). The source
# tree here is compiled too: `dagster code-server` puts its working directory first on
# sys.path, and with PYTHONDONTWRITEBYTECODE nothing would ever cache its bytecode otherwise.
RUN python -m compileall -q awan_trading awan_pipelines

# The instance config is dagster.prod.yaml (dagster-postgres, queued runs with per-symbol
# limits); its only input is DAGSTER_PG_URL.
COPY dagster.prod.yaml ${DAGSTER_HOME}/dagster.yaml

# The webserver and the daemon reach the code location over gRPC. A stable location name
# ("awan", as in workspace.yaml) keeps schedule, sensor and run history attached across deploys.
COPY <<EOF /opt/dagster/workspace.grpc.yaml
load_from:
  - grpc_server:
      host:
        env: DAGSTER_CODE_HOST
      port:
        env: DAGSTER_CODE_PORT
      location_name: awan
EOF

RUN useradd --system --uid 10001 --home-dir /opt/awan awan \
    && mkdir -p "${DAGSTER_HOME}/storage" "${AWAN_HOME}" \
    && chown -R awan "${DAGSTER_HOME}" "${AWAN_HOME}"
USER awan

EXPOSE 3000 4000

# Default role: the code location. docker-compose.yml gives the webserver and daemon theirs.
CMD ["dagster", "code-server", "start", "--host", "0.0.0.0", "--port", "4000", \
     "--module-name", "awan_pipelines.definitions", "--location-name", "awan"]
