#!/usr/bin/env bash
# `make galaxy-test`: every tool test in tool_xml/ and the workflow tests in workflows/ run by planemo in a real
# Galaxy, with dependency resolution
# on: the tools' <requirement> must resolve (galaxy_packages resolver) to the galaxy-dl of this checkout.
# Galaxy, planemo and the resolver's folder live in $GALAXY_BASE (outside the checkout; reused when present).
# Gravity refuses to run as root: as root, the run is handed to `nobody`. GALAXY_TEST_TOOLS="tool_xml/predict.xml"
# runs a subset.
set -euo pipefail
BASE=${GALAXY_BASE:?scratch folder}
HERE=$(cd "$(dirname "$0")" && pwd)
PROJECT=$(cd "$HERE/.." && pwd)
RESULTS=$BASE/results
if [ "$(id -u)" = 0 ] && [ -z "${GALAXY_TEST_AS_USER:-}" ]; then
    bash "$HERE/setup.sh"
    DEST="$BASE/deps" bash "$HERE/deps.sh"
    # What the unprivileged run may touch: a fresh copy of the tools and their test data, results, home, tmp.
    rm -rf "$BASE/run" "$RESULTS" "$BASE/tmp"
    mkdir -p "$BASE/run" "$RESULTS" "$BASE/home" "$BASE/tmp"
    cp -r "$PROJECT/tool_xml" "$PROJECT/test-data" "$PROJECT/workflows" "$BASE/run/"
    rm -f "$BASE/root/main.log" "$BASE/root/main.pid"
    chown -R nobody:nogroup "$BASE/run" "$RESULTS" "$BASE/home" "$BASE/tmp" "$BASE/root"
    exec setpriv --reuid=nobody --regid=nogroup --clear-groups env GALAXY_TEST_AS_USER=1 GALAXY_BASE="$BASE" GALAXY_TEST_TOOLS="${GALAXY_TEST_TOOLS:-}" \
        PATH=/usr/bin:/bin bash "$0" "$@"
fi
if [ -z "${GALAXY_TEST_AS_USER:-}" ]; then  # not root: everything as this user
    bash "$HERE/setup.sh"
    DEST="$BASE/deps" bash "$HERE/deps.sh"
    rm -rf "$BASE/run" "$RESULTS"; mkdir -p "$BASE/run" "$RESULTS" "$BASE/home" "$BASE/tmp"
    cp -r "$PROJECT/tool_xml" "$PROJECT/test-data" "$PROJECT/workflows" "$BASE/run/"
fi
export HOME=$BASE/home TMPDIR=$BASE/tmp
unset GALAXY_TEST_FILE_DIR   # the test data must be found where Galaxy looks by itself: tool_xml/test-data
# planemo serves the workflows from a Galaxy of their own: --extra_tools loads our tools into it too.
cat > "$BASE/run/dependency_resolvers_conf.xml" <<XML
<dependency_resolvers>
    <galaxy_packages base_path="$BASE/deps"/>
</dependency_resolvers>
XML
cd "$BASE/run"
# The Tool Shed's own lint; its checks that need the network (bio.tools, the Tool Shed, conda, biocontainers,
# URLs) are skipped: only the package registries are reachable here.
"$BASE/plvenv/bin/planemo" shed_lint --tools --fail_level warn \
    --skip BioToolsValid,version_bumped,requirements_in_conda,biocontainer_registered,tool_urls tool_xml/ > "$RESULTS/shed_lint.log" 2>&1 \
    || { tail -n 20 "$RESULTS/shed_lint.log"; echo "galaxy-test: planemo shed_lint failed"; exit 1; }
start=$(date +%s)
set +e
"$BASE/plvenv/bin/planemo" test \
    --galaxy_root "$BASE/root" \
    --dependency_resolvers_config_file "$BASE/run/dependency_resolvers_conf.xml" \
    --no_conda_auto_init --no_conda_auto_install \
    --galaxy_startup_timeout 900 --test_timeout 900 \
    --extra_tools tool_xml/ \
    --test_output "$RESULTS/tool_test_output.html" \
    --test_output_json "$RESULTS/tool_test_output.json" \
    --test_output_markdown "$RESULTS/tool_test_output.md" \
    "$@" ${GALAXY_TEST_TOOLS:-tool_xml/ workflows/intro-deep-learning.ga workflows/iris-cross-validation.ga} > "$RESULTS/planemo.log" 2>&1
rc=$?
set -e
tail -n 30 "$RESULTS/planemo.log"
"$BASE/gxvenv/bin/python" "$HERE/summary.py" "$RESULTS/tool_test_output.json" "$(( $(date +%s) - start ))" || rc=1
exit $rc
