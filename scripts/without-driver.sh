#!/usr/bin/env bash
# Is a cloud type only its own files plus a registry line?  Takes it out of a throwaway
# worktree of HEAD (its driver package minicloud/drivers/TYPE/, its fake, its tests: every
# tests/*/test_TYPE.py and test_TYPE_*.py, its registry and contract-suite lines, its
# dependency), runs the README's suite there, and prints what was taken out.
#
#   scripts/without-driver.sh TYPE [DEPENDENCY]     e.g. scripts/without-driver.sh cloudstack cs
#
# Exit status: the suite's.  The worktree and its branch are removed afterwards.
set -euo pipefail
type=${1:?usage: scripts/without-driver.sh TYPE [DEPENDENCY]}
dependency=${2:-}
top=$(git rev-parse --show-toplevel)
tree=$(mktemp -d)/without-$type
branch=without-$type-$$
git -C "$top" worktree add -q -b "$branch" "$tree" HEAD
cleanup() { git -C "$top" worktree remove --force "$tree"; git -C "$top" branch -q -D "$branch"; }
trap cleanup EXIT
cd "$tree"
# Its tests are named after it wherever they live: tests/*/test_TYPE.py, tests/*/test_TYPE_*.py.
git rm -rq --ignore-unmatch "minicloud/drivers/$type" \
    "tests/drivers/fake_$type.py" "tests/drivers/fake_${type}_"*.py \
    tests/*/"test_$type.py" tests/*/"test_${type}_"*.py
sed -i "/^    \"$type\": /d" minicloud/drivers/__init__.py tests/drivers/test_contract.py
sed -i "/^from tests\.drivers\.fake_$type import /d" tests/drivers/test_contract.py
if [ -n "$dependency" ]; then
    sed -i "/^    \"$dependency[>=<~!]/d" pyproject.toml
fi
git -c user.name=check -c user.email=check@localhost commit -q -am "without $type"
echo "== what $type is (the diff from HEAD without it to HEAD):"
git diff --stat HEAD HEAD~1 | cat
echo "== left in code and tests (comments and docstrings may name it):"
grep -rn -i "$type" minicloud tests --include=*.py || echo "(nothing)"
echo "== the README's suite without $type:"
python -m ruff check . && python -m pytest -q -p no:cacheprovider
