# One image for every Kubeflow / Vertex AI step and every Beam worker (Dataflow, Flink,
# Spark): the project installed from its own lock, plus Beam's SDK harness entry point.
#   docker build -t REGISTRY/tts-pipeline:0.1.0 .
# Pipeline steps set their own command (kubeflow_v2_run_executor), which replaces the
# entry point; Beam runners start the entry point. Locally:
#   docker run --entrypoint tts-pipeline REGISTRY/tts-pipeline:0.1.0 --help

# pyfarmhash (from tensorflow-data-validation) and crcmod (from apache-beam) are on PyPI as
# sources only; build their wheels here so that the final image carries no compiler.
FROM python:3.10.13-slim-bookworm AS wheels
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
COPY constraints/lock.txt /lock.txt
RUN python -m pip install --no-cache-dir "pip==26.3" \
    && python -m pip wheel --no-cache-dir --no-deps -w /wheels -c /lock.txt pyfarmhash crcmod

FROM python:3.10.13-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=wheels /wheels /wheels
# The harness of the locked apache-beam (2.59.0) for Python 3.10.
COPY --from=apache/beam_python3.10_sdk:2.59.0 /opt/apache/beam /opt/apache/beam
WORKDIR /opt/tts-pipeline
COPY pyproject.toml README.md ./
COPY constraints/ constraints/
COPY pipeline/ pipeline/
COPY components/ components/
COPY models/ models/
COPY serving/ serving/
RUN python -m pip install "pip==26.3" \
    && python -m pip install --find-links /wheels -c constraints/lock.txt .
WORKDIR /
ENTRYPOINT ["/opt/apache/beam/boot"]
