# One image for every Baton role; the command picks the role (see docker-compose.yml).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY baton ./baton
COPY broker ./broker
COPY capture ./capture
COPY console ./console
COPY gateway ./gateway
COPY management ./management
COPY recovery ./recovery
COPY runtime ./runtime
COPY store ./store
COPY streams ./streams
RUN pip install --no-cache-dir .
ENTRYPOINT ["baton"]
