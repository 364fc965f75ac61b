# The gongkai daemon image: `docker compose up` runs `gongkai serve` against the compose PostgreSQL.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

# Pinned dependencies first, so code changes do not reinstall them.
COPY requirements.lock ./
RUN pip install --upgrade pip && pip install -r requirements.lock

COPY pyproject.toml README.md ./
COPY gongkai ./gongkai
COPY gongkai_replica ./gongkai_replica
RUN pip install --no-deps . && useradd --system --create-home gongkai
COPY config /config

USER gongkai
EXPOSE 8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["gongkai"]
CMD ["serve", "--config", "/config/sites.yaml"]
