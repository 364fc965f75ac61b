# The gongkai daemon image: `docker compose up` runs `gongkai serve` against the compose PostgreSQL.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

# OCR of scanned report files: rapidocr-onnxruntime (pinned) requires opencv-python, whose cv2 loads libGL and
# glib, which python:3.12-slim lacks (without them every scan would give a note instead of text).
RUN apt-get update && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*

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
