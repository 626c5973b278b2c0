#!/usr/bin/env bash
# openapi-python-client, the generator an agency would use, in a virtualenv of its own (its pins of typer
# and others differ from the project's), for the contract test that generates every service's client.
# Installed when absent; prints the generator's path.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=0.29.1
TOOL=${OPENAPI_CLIENT_VENV:-$PWD/.run/tools/openapi-python-client}
if [ ! -x "$TOOL/bin/openapi-python-client" ] || [ "$(cat "$TOOL/.version" 2>/dev/null)" != "$VERSION" ]; then
  echo "openapi-client: installing openapi-python-client $VERSION into $TOOL" >&2
  rm -rf "$TOOL"
  python3 -m venv "$TOOL"
  "$TOOL/bin/pip" install -q "openapi-python-client==$VERSION" >&2
  echo "$VERSION" > "$TOOL/.version"
fi
echo "$TOOL/bin/openapi-python-client"
