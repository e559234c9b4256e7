# Qianshou (牵手): one image for the API (`qianshou serve`) and the projection worker
# (`qianshou project`). Configuration comes from QIANSHOU_* variables (see README.md).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Only what the package needs; tests, docs and local data stay out (see .dockerignore).
COPY pyproject.toml ./
COPY domain ./domain
COPY services ./services
COPY projections ./projections
COPY infra ./infra
RUN pip install . \
    && rm -rf build *.egg-info

# A non-root user. /app/data is where a SQLite database and a generated signing key
# (when QIANSHOU_SECRET_KEY is empty) are kept, so it must be writable by that user.
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin qianshou \
    && mkdir -p /app/data \
    && chown qianshou:qianshou /app/data
USER qianshou

EXPOSE 8000
CMD ["qianshou", "serve", "--host", "0.0.0.0", "--port", "8000"]
