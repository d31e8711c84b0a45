# Sourced by the other scripts: where tools and build output live, outside the clone, so
# that repeated runs (and CI runs on the same machine) reuse them.
LIFEBOAT_HOME="${LIFEBOAT_HOME:-$HOME/.cache/lifeboat}"
export LIFEBOAT_HOME
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$LIFEBOAT_HOME/target}"
export LIFEBOAT_PYTHON="${LIFEBOAT_PYTHON:-$LIFEBOAT_HOME/venv/bin/python}"
export PATH="$LIFEBOAT_HOME/venv/bin:$PATH"
