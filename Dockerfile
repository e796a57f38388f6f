# The image behind docker-compose.yml's migrate, web, worker and beat services.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN useradd --create-home --uid 1000 reviewapp

WORKDIR /app
COPY requirements.txt .
# The lock pins every package (pip too) with its hashes: an unlisted or altered file fails the build.
RUN pip install --require-hashes -r requirements.txt
# .dockerignore keeps .env, .venv, the SQLite file, uploads, .git and caches out of the image.
COPY . .
# collectstatic needs settings but no secrets: a throwaway key only for this build step.
RUN DJANGO_SECRET_KEY=build-only-collectstatic-key-not-used-at-runtime-000 \
    DJANGO_ALLOWED_HOSTS=localhost python manage.py collectstatic --no-input \
    && mkdir -p /data/media /data/beat && chown -R reviewapp /data /app

USER reviewapp
EXPOSE 8000
CMD ["gunicorn", "--config", "python:reviewapp.gunicorn_conf", "reviewapp.wsgi"]
