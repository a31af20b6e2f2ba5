# rulebot in a container: a slim Python, a non-root user, config and rules mounted from outside.
#
#   docker build -t rulebot .
#   docker run -d --name rulebot -p 8080:8080 \
#     -v /srv/rulebot/etc:/etc/rulebot:ro -v rulebot-data:/var/lib/rulebot \
#     --env-file /srv/rulebot/secrets.env rulebot
#
# /etc/rulebot/config.yaml must listen on 0.0.0.0:8080 and keep the store under
# /var/lib/rulebot (see deploy/config.yaml and docs/operations.md).

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN groupadd --system --gid 10001 rulebot \
 && useradd --system --uid 10001 --gid rulebot --home-dir /var/lib/rulebot --create-home \
      --shell /usr/sbin/nologin rulebot
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
# Defaults that work out of the box; mount your own /etc/rulebot over them.
COPY deploy/config.yaml /etc/rulebot/config.yaml
COPY rules/example.yaml rules/rulebook.schema.json /etc/rulebot/rules/
USER rulebot:rulebot
WORKDIR /var/lib/rulebot
VOLUME ["/var/lib/rulebot"]
EXPOSE 8080
# /healthz answers while the process is up (python: slim images have no curl).
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=3).status != 200)"]
# SIGTERM: stop accepting, finish sends in flight, flush, exit 0 (allow ~20 s: docker stop -t 30).
STOPSIGNAL SIGTERM
ENTRYPOINT ["rulebot"]
CMD ["serve", "--config", "/etc/rulebot/config.yaml"]
