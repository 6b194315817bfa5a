#!/bin/sh
# The run.sh of the galaxy_root that planemo is given: starts the pip-installed Galaxy in the foreground with
# Gravity's `galaxy` command, reading the galaxy.yml that planemo wrote ($GALAXY_CONFIG_FILE).
# Galaxy's data folder must exist before start: otherwise Celery opens its result database first, fails,
# and every upload stays queued forever.
cd "$(dirname "$0")"
if [ -z "$VIRTUAL_ENV" ] && [ -f .venv/bin/activate ]; then
    . "$(pwd)/.venv/bin/activate"
fi
mkdir -p "$(dirname "$GALAXY_CONFIG_FILE")/data"
exec "${VIRTUAL_ENV:-$(pwd)/.venv}/bin/galaxy" --config-file "$GALAXY_CONFIG_FILE"
