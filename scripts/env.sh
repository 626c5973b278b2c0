# Sourced by the other scripts: the virtualenv with the project installed (created on first use).
VENV=${VENV:-$PWD/.venv}
PYTHON=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV" >&2
  "$PYTHON" -m venv "$VENV"
fi
if [ ! -f "$VENV/.installed" ] || [ pyproject.toml -nt "$VENV/.installed" ]; then
  echo "setup: installing the project and its pinned dependencies" >&2
  "$VENV/bin/pip" install -q --upgrade "pip==25.3" >/dev/null
  "$VENV/bin/pip" install -q -e ".[test]"
  touch "$VENV/.installed"
fi
export PATH="$VENV/bin:$PATH"
