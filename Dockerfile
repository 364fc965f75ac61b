# The gongkai daemon image: `docker compose up` runs `gongkai serve` against the compose PostgreSQL.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

# The runtime dependencies only (no test extras: no pytest, ruff or scipy in the image), at the versions
# requirements.lock pins.
COPY requirements.lock pyproject.toml README.md ./
COPY gongkai ./gongkai
COPY gongkai_replica ./gongkai_replica
RUN pip install --upgrade pip && pip install -c requirements.lock . && useradd --system --create-home gongkai
COPY config /config

USER gongkai
EXPOSE 8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["gongkai"]
CMD ["serve", "--config", "/config/sites.yaml"]
