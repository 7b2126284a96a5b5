# One image for every Baton role; the command picks the role (see docker-compose.yml).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY baton ./baton
COPY gateway ./gateway
COPY streams ./streams
COPY recovery ./recovery
COPY store ./store
COPY console ./console
RUN pip install --no-cache-dir .
ENTRYPOINT ["baton"]
