#!/usr/bin/env bash
# `make galaxy-test`: every tool test in tool_xml/ and the workflow tests in workflows/ run by planemo in a real
# Galaxy, with dependency resolution
# on: the tools' <requirement> must resolve (galaxy_packages resolver) to the galaxy-dl of this checkout.
# Galaxy, planemo and the resolver's folder live in $GALAXY_BASE (outside the checkout; reused when present).
# Gravity refuses to run as root: as root, the run is handed to `nobody`. Subsets: GALAXY_TEST_TOOLS="tool_xml/predict.xml",
# GALAXY_TEST_WORKFLOWS="" (none) or a list of .ga files, GALAXY_TEST_INDEX=N (one test of one tool); and
# GALAXY_TEST_JOB_CONF=FILE, Galaxy's job configuration (default: planemo's, the local runner).
set -euo pipefail
BASE=${GALAXY_BASE:?scratch folder}
HERE=$(cd "$(dirname "$0")" && pwd)
PROJECT=$(cd "$HERE/.." && pwd)
RESULTS=$BASE/results
prepare() {  # Galaxy, planemo, the requirement, and fresh copies of the tools, test data and job configuration
    bash "$HERE/setup.sh"
    DEST="$BASE/deps" bash "$HERE/deps.sh"
    rm -rf "$BASE/run" "$RESULTS" "$BASE/tmp"
    mkdir -p "$BASE/run" "$RESULTS" "$BASE/home" "$BASE/tmp"
    cp -r "$PROJECT/tool_xml" "$PROJECT/test-data" "$PROJECT/workflows" "$BASE/run/"
    if [ -n "${GALAXY_TEST_JOB_CONF:-}" ]; then
        cp "$GALAXY_TEST_JOB_CONF" "$BASE/run/job_conf.yml"
        GALAXY_TEST_JOB_CONF=$BASE/run/job_conf.yml
    fi
}
if [ "$(id -u)" = 0 ] && [ -z "${GALAXY_TEST_AS_USER:-}" ]; then
    prepare  # what the unprivileged run may touch: those copies, results, home, tmp
    rm -f "$BASE/root/main.log" "$BASE/root/main.pid"
    chown -R nobody:nogroup "$BASE/run" "$RESULTS" "$BASE/home" "$BASE/tmp" "$BASE/root"
    subsets=()
    [ -n "${GALAXY_TEST_TOOLS+set}" ] && subsets+=("GALAXY_TEST_TOOLS=$GALAXY_TEST_TOOLS")
    [ -n "${GALAXY_TEST_WORKFLOWS+set}" ] && subsets+=("GALAXY_TEST_WORKFLOWS=$GALAXY_TEST_WORKFLOWS")
    [ -n "${GALAXY_TEST_INDEX:-}" ] && subsets+=("GALAXY_TEST_INDEX=$GALAXY_TEST_INDEX")
    [ -n "${GALAXY_TEST_JOB_CONF:-}" ] && subsets+=("GALAXY_TEST_JOB_CONF=$GALAXY_TEST_JOB_CONF")
    [ -n "${SLURM_CONF:-}" ] && subsets+=("SLURM_CONF=$SLURM_CONF")
    exec setpriv --reuid=nobody --regid=nogroup --clear-groups env GALAXY_TEST_AS_USER=1 GALAXY_BASE="$BASE" \
        "${subsets[@]}" PATH=/usr/bin:/bin bash "$0" "$@"
fi
if [ -z "${GALAXY_TEST_AS_USER:-}" ]; then  # not root: everything as this user
    prepare
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
# planemo 0.75.47 cannot mix tools and workflows in one `planemo test` (it crashes collecting the results:
# "'dict' object has no attribute 'structured_data'"), so they run in turn, each in its own Galaxy.
run_planemo() {  # NAME RUNNABLES... (results in $RESULTS/NAME.*)
    local name=$1; shift
    "$BASE/plvenv/bin/planemo" test \
        --galaxy_root "$BASE/root" \
        --dependency_resolvers_config_file "$BASE/run/dependency_resolvers_conf.xml" \
        --no_conda_auto_init --no_conda_auto_install \
        --galaxy_startup_timeout 900 --test_timeout 900 \
        --extra_tools tool_xml/ \
        ${GALAXY_TEST_JOB_CONF:+--job_config_file "$GALAXY_TEST_JOB_CONF"} \
        ${GALAXY_TEST_INDEX:+--test_index "$GALAXY_TEST_INDEX"} \
        --test_output "$RESULTS/$name.html" \
        --test_output_json "$RESULTS/$name.json" \
        --test_output_markdown "$RESULTS/$name.md" \
        "$@" > "$RESULTS/$name.log" 2>&1
    local rc=$?
    tail -n 25 "$RESULTS/$name.log"
    return $rc
}
start=$(date +%s)
rc=0
run_planemo tools ${GALAXY_TEST_TOOLS-tool_xml/} || rc=1
WORKFLOWS=${GALAXY_TEST_WORKFLOWS-$(echo workflows/*.ga)}
if [ -n "$WORKFLOWS" ]; then
    run_planemo workflows $WORKFLOWS || rc=1
fi
reports=("$RESULTS/tools.json")
[ -n "$WORKFLOWS" ] && reports+=("$RESULTS/workflows.json")
"$BASE/gxvenv/bin/python" "$HERE/summary.py" "$(( $(date +%s) - start ))" "${reports[@]}" || rc=1
exit $rc
