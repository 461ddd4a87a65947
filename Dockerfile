FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY hub ./hub
COPY device_drivers ./device_drivers
COPY firmware_sim ./firmware_sim
COPY dashboards ./dashboards
RUN pip install --no-cache-dir .
EXPOSE 8000
CMD ["carehub", "serve"]
