#!/usr/bin/env bash
# Installs this checkout of galaxy-dl for Galaxy's `galaxy_packages` dependency resolver:
#   $DEST/galaxy-dl/$VERSION/venv      a venv with galaxy-dl and its dependencies
#   $DEST/galaxy-dl/$VERSION/env.sh    what Galaxy sources before a job: puts the venv's programs on PATH
# An admin points a resolver at DEST (<galaxy_packages base_path="DEST"/> in dependency_resolvers_conf.xml);
# the tools' <requirement type="package" version="VERSION">galaxy-dl</requirement> then resolves to it.
set -euo pipefail
DEST=${DEST:?where to install, e.g. make galaxy-deps DEST=/srv/galaxy/deps}
PROJECT=$(cd "$(dirname "$0")/.." && pwd)
PY=${GALAXY_PYTHON:-/usr/bin/python3.11}   # one that Galaxy's (unprivileged) job user can run
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$PROJECT/pyproject.toml")
HOME_DIR="$DEST/galaxy-dl/$VERSION"
mkdir -p "$HOME_DIR"
HOME_DIR=$(cd "$HOME_DIR" && pwd)
# The dependencies are the Bioconda recipe's run requirements alone (what a conda install would hold), galaxy-dl
# itself without its own: every tool test then checks that the recipe carries what the forms need. A venv made
# from another list is made again.
REQUIREMENTS=$("$PY" "$PROJECT/galaxy/recipe_requirements.py" "$PROJECT/recipe/meta.yaml")
if [ "$(cat "$HOME_DIR/requirements.txt" 2>/dev/null)" != "$REQUIREMENTS" ]; then
    rm -rf "$HOME_DIR/venv"
fi
[ -x "$HOME_DIR/venv/bin/python" ] || "$PY" -m venv "$HOME_DIR/venv"
printf '%s\n' "$REQUIREMENTS" > "$HOME_DIR/requirements.txt"
"$HOME_DIR/venv/bin/pip" install -q -r "$HOME_DIR/requirements.txt"
# A build from a copy, so that nothing is written into the checkout (it may be read-only).
BUILD=$(mktemp -d); trap 'rm -rf "$BUILD"' EXIT
(cd "$PROJECT" && git ls-files -z 2>/dev/null | xargs -0 -I{} cp --parents -r {} "$BUILD/") || cp -r "$PROJECT/." "$BUILD/"
"$HOME_DIR/venv/bin/pip" install -q --upgrade --no-deps "$BUILD"
"$HOME_DIR/venv/bin/pip" check -q > /dev/null || { "$HOME_DIR/venv/bin/pip" check; exit 1; }
cat > "$HOME_DIR/env.sh" <<ENV
# galaxy-dl $VERSION for Galaxy's galaxy_packages resolver (written by make galaxy-deps)
PATH="$HOME_DIR/venv/bin:\$PATH"
export PATH
ENV
echo "galaxy-dl $VERSION installed in $HOME_DIR (resolver base_path: $(cd "$DEST" && pwd))"
