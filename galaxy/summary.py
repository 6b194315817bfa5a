"""One line per test from planemo's JSON reports (tools, workflows), and a verdict: every test must have passed.

Usage: summary.py SECONDS REPORT.json...; a missing report (planemo crashed) fails the verdict."""

import json
import sys

tests, missing = [], []
for path in sys.argv[2:]:
    try:
        with open(path) as fh:
            tests.extend(json.load(fh).get("tests", []))
    except FileNotFoundError:
        missing.append(path)
failed = len(missing)
for path in missing:
    print(f"missing  {path} (planemo wrote no report)")
for test in tests:
    data = test.get("data", {})
    status = data.get("status", "?")
    failed += status != "success"
    print(f"{status:8} {test.get('id', '?')}")
    if status != "success":
        for problem in (data.get("output_problems") or [])[:3]:
            print(f"         {str(problem).splitlines()[0][:300]}")
passed = sum(test.get("data", {}).get("status") == "success" for test in tests)
print(f"galaxy-test: {passed} of {len(tests)} tests (tools and workflows) passed in a real Galaxy in {sys.argv[1]} s"
      + (f"; {len(missing)} report(s) missing" if missing else ""))
sys.exit(1 if failed or not tests else 0)
