#!/usr/bin/env bash
# tests/check_docs_selftest.sh CHECK_DOCS: the docs check catches what it
# claims to catch.
#
# Usage: tests/check_docs_selftest.sh tests/check_docs.sh
#
# Builds small throw-away trees (with and without git) and runs CHECK_DOCS on
# each: a clean tree must pass; each planted problem (a citation of the
# outside contract, a missing section, a missing page, the second end of a
# range, a section without its page, a bad reference inside a page) must
# fail with exit 1 and a line naming the file, the line and the problem.
# Exit 0 when every case behaves, 1 otherwise.
set -euo pipefail

check=${1:?usage: $0 CHECK_DOCS}
check=$(cd "$(dirname "$check")" && pwd)/$(basename "$check")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-docs-selftest.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failures=0

# Citations are spelled through these so this script passes the check.
ss='§'; dd='docs/'; pg="${dd}page.md"; sh='shar''ed'; sp='SP''EC'

# A fresh tree with one page (sections 2, 2.1 and 2.2) and a clean file.
new_tree() { # new_tree DIR
  rm -rf "$1"
  mkdir -p "$1/docs" "$1/src"
  printf '# A page\n\n## 2. Things\n\n### 2.1 One thing\n\nSee %s2.2.\n\n### 2.2 Another\n' \
    "$ss" >"$1/$pg"
  printf '/* see %s %s2.1 and %s2.2, %s %s2 */\n' "$pg" "$ss" "$ss" "$pg" "$ss" >"$1/src/ok.c"
}

# expect RESULT DIR PATTERN: run the check on DIR; RESULT pass|fail; when
# failing, its output must match PATTERN.
expect() {
  local want=$1 dir=$2 pat=${3:-} out rc=0
  out=$("$check" "$dir" 2>&1) || rc=$?
  if [ "$want" = pass ] && [ "$rc" -ne 0 ]; then
    echo "FAIL: clean tree $dir rejected (exit $rc):"; printf '%s\n' "$out"
    failures=$((failures + 1))
  elif [ "$want" = fail ] && { [ "$rc" -ne 1 ] || ! grep -qE -- "$pat" <<<"$out"; }; then
    echo "FAIL: $dir: expected exit 1 and /$pat/, got exit $rc:"; printf '%s\n' "$out"
    failures=$((failures + 1))
  else
    echo "ok: $want $(basename "$dir")${pat:+ /$pat/}"
  fi
}

# Each case: a name, a file, its content, and what the check must say.
cases=(
  "outside-dir|src/a.c|/* see ../$sh/$sp.md */|src/a.c:1: cites the contract outside"
  "outside-name|src/b.c|/* $sp 4.3 */|src/b.c:1: cites the contract outside"
  "missing-section|src/c.c|x\n/* $pg ${ss}2.7 */|src/c.c:2: cites a section with no heading '${ss}2.7'"
  "missing-page|src/d.c|/* docs/""none.md ${ss}1 */|src/d.c:1: cites a page that does not exist"
  "range-end|src/e.c|/* $pg ${ss}2.1-${ss}2.9 */|src/e.c:1: cites a section with no heading '${ss}2.9'"
  "no-page|src/f.c|/* as ${ss}2.1 says */|src/f.c:1: cites a section without its page"
  "in-page|${dd}other.md|## 3. Other\n\nsee ${ss}3.4|${dd}other.md:3: refers to ${ss}3.4"
)

for with_git in 0 1; do
  if [ "$with_git" = 1 ] && ! command -v git >/dev/null; then
    echo "ok: git not installed, the git-tracked mode is not exercised"
    continue
  fi
  dir=$tmp/clean$with_git
  new_tree "$dir"
  if [ "$with_git" = 1 ]; then
    git -C "$dir" init -q && git -C "$dir" add -A
  fi
  expect pass "$dir"
  for c in "${cases[@]}"; do
    IFS='|' read -r name file content pat <<<"$c"
    dir=$tmp/$name$with_git
    new_tree "$dir"
    printf "$content\n" >"$dir/$file"
    if [ "$with_git" = 1 ]; then
      git -C "$dir" init -q && git -C "$dir" add -A
    fi
    expect fail "$dir" "$pat"
  done
done

if [ "$with_git" = 1 ] && command -v git >/dev/null; then
  # Untracked files are not the repository's: not checked.
  dir=$tmp/untracked
  new_tree "$dir"
  git -C "$dir" init -q && git -C "$dir" add -A
  printf '/* %s 9 */\n' "$sp" >"$dir/src/untracked.c"
  expect pass "$dir"
fi

if [ "$failures" -gt 0 ]; then
  echo "check_docs_selftest: $failures case(s) failed"
  exit 1
fi
echo "check_docs_selftest: every case behaved"
