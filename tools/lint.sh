#!/usr/bin/env bash
# All four static checks, each run even when an earlier one fails; exits non-zero if any failed.
#   tools/lint.sh                                   # with python3 from PATH
#   PYTHON=/work/venvs/py311/bin/python tools/lint.sh
# PYTHON must have the lint extras: pip install -e '.[lint]'.
# mypy runs with each supported version's typeshed (the code has version branches).
set -u
cd "$(dirname "$0")/.." || exit 1
py=${PYTHON:-python3}
failed=()

run() {
    echo "=== $*"
    "$@" || failed+=("$*")
}

run "$py" -m ruff check .
run "$py" -m ruff format --check .
for version in 3.11 3.12 3.13; do
    run "$py" tools/typecheck.py --python-version "$version"
done
run "$py" tools/importcheck.py

if ((${#failed[@]})); then
    printf 'FAILED: %s\n' "${failed[@]}"
    exit 1
fi
echo "all checks passed"
