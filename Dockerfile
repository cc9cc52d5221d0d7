# Production image: one image for web, worker and beat (docker-compose.yml picks the command).
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    APP_ENV=production \
    VAR_DIR=/app/var

WORKDIR /app
RUN groupadd --system app && useradd --system --gid app --home /app app

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# collectstatic needs settings to load; these throwaway values exist only for this build step.
RUN SECRET_KEY=build-only-not-secret-build-only-not-secret ALLOWED_HOSTS=build \
    VAULT_MASTER_KEYS=v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= \
    PAT_PEPPER=build-only-not-secret-build-only-not-secret \
    AUDIT_CHAIN_KEYS=v1:build-only-not-secret-build-only-not-secret \
    VAULT_FINGERPRINT_PEPPER=build-only-not-secret-build-only-not-secret \
    python manage.py collectstatic --no-input \
    && mkdir -p /app/var && chown -R app:app /app/var

USER app
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"
# WEB_CONCURRENCY workers (default: the cores the container sees); flags in scripts/web.sh.
ENV HOST=0.0.0.0 PORT=8000
CMD ["./scripts/web.sh"]
