# One image for web (default CMD), worker and beat; docker-compose.yml shows all three.
#   docker build -t csat .
#   docker run -e SECRET_KEY=... -e DATABASE_URL=postgres://... -e REDIS_URL=redis://... -p 8000:8000 csat

# ---------------------------------------------------------------- build: a virtualenv with the pinned dependencies
FROM python:3.11-slim AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src

# Dependencies first, in their own layer, so a code change does not reinstall pandas.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt

# pyproject names README.md as the long description; the glob (beside a file that always
# exists) keeps the build working without it.
COPY pyproject.toml README.m[d] ./
COPY csat ./csat
COPY accounts ./accounts
COPY surveys ./surveys
COPY feedback ./feedback
COPY metrics ./metrics
RUN pip install --no-cache-dir --no-deps .

# ---------------------------------------------------------------- runtime
FROM python:3.11-slim

# settings.py finds templates/, static/ and locale/ beside the package (BASE_DIR), so the code
# runs from /app (PYTHONPATH), which comes before the installed copy in site-packages.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    DJANGO_SETTINGS_MODULE=csat.settings \
    STATIC_ROOT=/app/staticfiles \
    CSAT_VAR_DIR=/app/var \
    PORT=8000 \
    WEB_CONCURRENCY=3

RUN groupadd --system --gid 10001 csat \
    && useradd --system --uid 10001 --gid csat --home-dir /app --no-create-home csat

COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
COPY manage.py ./
COPY csat ./csat
COPY accounts ./accounts
COPY surveys ./surveys
COPY feedback ./feedback
COPY metrics ./metrics
COPY templates ./templates
COPY static ./static
COPY locale ./locale

# The build-time SECRET_KEY only lets settings load for collectstatic; it is not kept in the
# image (RUN-scoped, not ENV) and every container must be given its own.
RUN DJANGO_DEBUG=false SECRET_KEY=build-only-not-a-secret \
        python manage.py collectstatic --noinput --verbosity 0 \
    && python -m compileall -q csat accounts surveys feedback metrics \
    && mkdir -p /app/var \
    && chown csat:csat /app/var

# Code and static files stay root-owned: the app can write only to /app/var.
USER 10001:10001
EXPOSE 8000

CMD ["sh", "-c", "exec gunicorn csat.wsgi:application --bind 0.0.0.0:${PORT:-8000} --workers ${WEB_CONCURRENCY:-3} --worker-tmp-dir /dev/shm --access-logfile -"]
