#!/usr/bin/env bash
# `make galaxy-slurm-test`: a real Galaxy whose job configuration (galaxy/job_conf.slurm.yml, Galaxy's CLI runner
# with its Slurm plugin) sends train_eval.xml to a real one-node Slurm with two tasks; its data-parallel tool test
# runs there, and the job must have trained in two processes. Root (cluster/with-slurm.sh starts Slurm's daemons
# and stops them at the end whatever happens).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PROJECT=$(cd "$HERE/.." && pwd)
BASE=${GALAXY_BASE:?scratch folder}
if [ -z "${SLURM_CONF:-}" ]; then  # start one (root), and stop it at the end
    exec bash "$PROJECT/cluster/with-slurm.sh" bash "$0" "$@"
fi
# the train_eval test that checks "Distribute" (1-based, as planemo counts)
INDEX=$(python3 - "$PROJECT/tool_xml/train_eval.xml" <<'PY'
import sys
import xml.etree.ElementTree as ET
tests = ET.parse(sys.argv[1]).getroot().find("tests").findall("test")
print(next(i for i, t in enumerate(tests, 1) if t.find(".//param[@name='distribute'][@value='true']") is not None))
PY
)
GALAXY_TEST_TOOLS=tool_xml/train_eval.xml GALAXY_TEST_WORKFLOWS="" GALAXY_TEST_INDEX=$INDEX \
    GALAXY_TEST_JOB_CONF="$HERE/job_conf.slurm.yml" bash "$HERE/test.sh"
python3 - "$BASE/results/tools.json" <<'PY'
import json
import subprocess
import sys
tests = json.load(open(sys.argv[1]))["tests"]
assert len(tests) == 1, f"{len(tests)} tests ran, not 1"
job = tests[0]["data"]["job"]
stderr = job.get("tool_stderr") or job.get("stderr") or ""
slurm = subprocess.run(["scontrol", "show", "job", str(job.get("external_id"))], capture_output=True, text=True,
                       timeout=30).stdout  # Slurm's own record of the job Galaxy submitted
checks = {
    "Slurm ran it with two tasks": "NumTasks=2" in slurm and "JobState=COMPLETED" in slurm,
    "one process per Slurm task": "SLURM allocation of 2 tasks: one process per task (srun)" in stderr,
    "two processes trained data-parallel": "JAX DataParallel over 2 devices (2 processes x 1)" in stderr,
}
for what, ok in checks.items():
    print(f"{'ok' if ok else 'FAILED':6} {what}")
print(f"         Slurm job {job.get('external_id')}; the tool's stderr ends:")
print("\n".join("         " + line for line in stderr.strip().splitlines()[-4:]))
sys.exit(0 if all(checks.values()) else 1)
PY
