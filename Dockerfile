# The image behind docker-compose.yml's web and worker services.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 reviewapp

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
# collectstatic needs settings but no secrets: a throwaway key only for this build step.
RUN DJANGO_SECRET_KEY=build-only-collectstatic-key-not-used-at-runtime-000 \
    DJANGO_ALLOWED_HOSTS=localhost python manage.py collectstatic --no-input \
    && mkdir -p /data/media && chown -R reviewapp /data /app

USER reviewapp
EXPOSE 8000
CMD ["gunicorn", "--config", "python:reviewapp.gunicorn_conf", "reviewapp.wsgi"]
