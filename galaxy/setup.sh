#!/usr/bin/env bash
# Sets up a real Galaxy (from PyPI) and planemo in $GALAXY_BASE, for `make galaxy-test`. Idempotent: each
# step leaves a stamp and is skipped when present, so a second run reuses everything.
#
# Why this way (facts in README "For Galaxy admins"): no Galaxy git checkout can be fetched here, but the
# `galaxy` metapackage on PyPI pins every requirement. One pin (certifi==2026.10.19) is not served any more;
# its .post1 is. planemo drives the pip-installed Galaxy through --galaxy_root, which needs only run.sh,
# .venv and lib/galaxy/version/__init__.py. Gravity refuses root, so the venvs use the system Python,
# which the unprivileged user that runs Galaxy can execute.
set -euo pipefail
BASE=${GALAXY_BASE:?scratch folder for Galaxy}
GALAXY_VERSION=${GALAXY_VERSION:-26.1.2}
PLANEMO_VERSION=${PLANEMO_VERSION:-0.75.47}
PY=${GALAXY_PYTHON:-/usr/bin/python3.11}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$BASE"
cd "$BASE"
stamp() { [ -e ".done-$1" ]; }
done_() { touch ".done-$1"; }

for v in gxvenv plvenv; do
    stamp "$v" && continue
    rm -rf "$v"; "$PY" -m venv "$v"; "$v/bin/pip" install -q -U pip wheel; done_ "$v"
done

if ! stamp "planemo-$PLANEMO_VERSION"; then
    plvenv/bin/pip install -q "planemo==$PLANEMO_VERSION"
    done_ "planemo-$PLANEMO_VERSION"
fi

if ! stamp "galaxy-$GALAXY_VERSION"; then
    rm -rf dl; mkdir -p dl
    gxvenv/bin/pip download -q --no-deps -d dl "galaxy==$GALAXY_VERSION"
    (cd dl && "$PY" -m zipfile -e "galaxy-$GALAXY_VERSION-py3-none-any.whl" unpacked)
    grep '^Requires-Dist: ' "dl/unpacked/galaxy-$GALAXY_VERSION.dist-info/METADATA" | sed 's/^Requires-Dist: //' \
        | grep -v 'extra ==' | sed 's/^certifi==2026\.10\.19$/certifi==2026.10.19.post1/' > gx_requirements.txt
    gxvenv/bin/pip install -q -r gx_requirements.txt
    gxvenv/bin/pip install -q --no-deps "dl/galaxy-$GALAXY_VERSION-py3-none-any.whl"
    rm -rf dl
    done_ "galaxy-$GALAXY_VERSION"
fi

# The galaxy_root handed to planemo.
mkdir -p root/lib/galaxy/version
cp gxvenv/lib/python3.11/site-packages/galaxy/version/__init__.py root/lib/galaxy/version/__init__.py
ln -sfn "$BASE/gxvenv" root/.venv
install -m 755 "$HERE/run.sh" root/run.sh
echo "Galaxy $GALAXY_VERSION and planemo $PLANEMO_VERSION ready in $BASE"
