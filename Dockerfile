# Kindred web image: daphne serving HTTP and WebSockets, static files by WhiteNoise.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, from pyproject.toml alone, so code changes reuse this layer.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Only the code and assets the server needs (no .venv, var/ or .git from the build context).
COPY manage.py ./
COPY config ./config
COPY community ./community
COPY forums ./forums
COPY moderation ./moderation
COPY templates ./templates
COPY static ./static
RUN pip install --no-deps -e .

# Static files are collected into the image; the secret here is a throwaway used only
# so settings load during the build.
RUN mkdir -p var \
    && DJANGO_DEBUG=0 \
       DJANGO_SECRET_KEY=build-only-not-a-real-secret-0123456789abcdefghijklmnopqrstuvwxyz \
       DJANGO_ALLOWED_HOSTS=localhost \
       python manage.py collectstatic --noinput -v0

RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin kindred \
    && chown -R kindred:kindred /app/var
USER kindred

EXPOSE 8000

# /healthz is never redirected to HTTPS; send a Host that ALLOWED_HOSTS accepts.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; h = os.environ.get('DJANGO_ALLOWED_HOSTS', '').split(',')[0].strip().lstrip('.'); h = 'localhost' if h in ('', '*') else h; urllib.request.urlopen(urllib.request.Request('http://127.0.0.1:8000/healthz', headers={'Host': h}), timeout=4)"]

CMD ["daphne", "--proxy-headers", "-e", "tcp:port=8000:interface=0.0.0.0:backlog=1024", "config.asgi:application"]
