# One image for every service; docker-compose picks the service with SERVICE.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
# The CJK font the registry's written notices (PDF) embed.
RUN apt-get update && apt-get install -y --no-install-recommends fonts-wqy-zenhei && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
COPY ops ./ops
RUN pip install . && useradd --system --uid 10001 app
USER app
EXPOSE 8000
# SERVICE is set per container (registry, medical, …, office); migrations run in the compose "migrate" step.
CMD ["sh", "-c", "exec uvicorn --factory services.${SERVICE}.main:create_app --host 0.0.0.0 --port 8000 --proxy-headers"]
