#!/usr/bin/env bash
# The whole test suite, on a real Kafka broker and a real PostgreSQL (started here when not running).
# Lint, format and types first (configured in pyproject.toml): the first failure stops the run.
#   scripts/test.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

ruff check .
ruff format --check .
mypy

scripts/kafka.sh start
scripts/postgres.sh start
scripts/browser.sh   # Debian's chromium and a CJK font, for the assessment page's browser test and the PDF notices
scripts/openapi-client.sh >/dev/null   # the client generator of the contract test, in its own virtualenv
scripts/deploy-tools.sh >/dev/null   # Helm (built once, then cached), for the chart's test

# The broker and the server started above: KAFKA_PORT and PG_PORT move them (scripts/kafka.sh, postgres.sh).
export TEST_KAFKA_BOOTSTRAP=${TEST_KAFKA_BOOTSTRAP:-127.0.0.1:${KAFKA_PORT:-9092}}
export TEST_PG_HOST=${TEST_PG_HOST:-127.0.0.1} TEST_PG_PORT=${TEST_PG_PORT:-${PG_PORT:-5432}}
exec python -m pytest "$@"
