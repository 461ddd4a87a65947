FROM python:3.11-slim
# Fonts with Chinese (and Latin) glyphs for the monthly report's PDF.
RUN apt-get update && apt-get install -y --no-install-recommends fonts-droid-fallback fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY hub ./hub
COPY device_drivers ./device_drivers
COPY firmware_sim ./firmware_sim
COPY dashboards ./dashboards
RUN pip install --no-cache-dir .
EXPOSE 8000
CMD ["carehub", "serve"]
