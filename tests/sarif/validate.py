"""Validates writ's SARIF output against the OASIS SARIF 2.1.0 JSON schema.

Usage: validate.py SCHEMA WRIT

Runs `writ check --format sarif` on every diagnostic case of the compiler (one policy per
error code, plus one with many errors) and on the examples, and `writ test --format sarif` on a
policy with failing tests and on the examples; each log must validate against the schema
(draft-07) and carry at least the results the command reported. Exits 1 on any violation.
"""

import json
import pathlib
import subprocess
import sys

import jsonschema

ROOT = pathlib.Path(__file__).resolve().parents[2]


def main() -> int:
    schema = json.loads(pathlib.Path(sys.argv[1]).read_text())
    writ = sys.argv[2]
    # The published schema's `language` pattern has an unbalanced bracket that some regex
    # engines reject; it does not concern writ's output (writ sets no `language`).
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema, format_checker=jsonschema.FormatChecker())

    runs = []
    for case in sorted((ROOT / "compiler/tests/diagnostics").glob("*.writ")):
        runs.append((["check", str(case), "--format", "sarif"], {0, 1}, True))
    for example in ("examples/coding-agents/policy", "examples/support-agents"):
        runs.append((["check", str(ROOT / example), "--format", "sarif"], {0}, False))
        runs.append((["test", str(ROOT / example), "--format", "sarif"], {0}, False))
    runs.append(
        (["test", str(ROOT / "tests/fixtures/failing_tests.writ"), "--format", "sarif"], {1}, True)
    )

    failures = 0
    for args, codes, expect_results in runs:
        done = subprocess.run([writ, *args], capture_output=True, text=True, cwd=ROOT)
        label = "writ " + " ".join(args)
        if done.returncode not in codes:
            print(f"FAIL {label}: exit {done.returncode}\n{done.stderr}")
            failures += 1
            continue
        try:
            log = json.loads(done.stdout)
        except json.JSONDecodeError as e:
            print(f"FAIL {label}: not JSON: {e}")
            failures += 1
            continue
        errors = sorted(validator.iter_errors(log), key=lambda e: list(e.absolute_path))
        for error in errors[:10]:
            where = "/".join(str(p) for p in error.absolute_path)
            print(f"FAIL {label}: at `{where}`: {error.message}")
        failures += bool(errors)
        results = sum(len(run.get("results", [])) for run in log.get("runs", []))
        if expect_results and results == 0:
            print(f"FAIL {label}: no results")
            failures += 1
    print(f"sarif: {len(runs)} logs checked against the SARIF 2.1.0 schema, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
