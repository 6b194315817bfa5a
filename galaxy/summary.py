"""One line per tool test from planemo's JSON report, and a verdict: every test must have passed."""

import json
import sys

report = json.load(open(sys.argv[1]))
tests = report.get("tests", [])
failed = 0
for test in tests:
    data = test.get("data", {})
    status = data.get("status", "?")
    failed += status != "success"
    print(f"{status:8} {test.get('id', '?')}")
    if status != "success":
        for problem in (data.get("output_problems") or [])[:3]:
            print(f"         {str(problem).splitlines()[0][:300]}")
print(f"galaxy-test: {len(tests) - failed} of {len(tests)} tests (tools and workflows) passed in a real Galaxy in {sys.argv[2]} s")
sys.exit(1 if failed or not tests else 0)
