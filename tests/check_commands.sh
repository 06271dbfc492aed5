#!/usr/bin/env bash
# tests/check_commands.sh: the places that list the scenario commands follow
# the command table (harness/commands.h).
#
# Usage: tests/check_commands.sh IOUWAIT [SRCDIR]          (check; the docs test)
#        tests/check_commands.sh --update IOUWAIT [SRCDIR] (rewrite the README block)
#
# IOUWAIT is the built `iouwait`; SRCDIR the source root (default: the
# repository holding this script). Fails with one line per problem when
#   - harness/README.md's block between "<!-- BEGIN iouwait commands
#     --markdown -->" and "<!-- END ... -->" is not `iouwait commands
#     --markdown` (--update rewrites it);
#   - corpus/script.dict lacks a word of `iouwait commands --dict`;
#   - fuzz/loop_scenario.c writes a line starting with a word that is not a
#     command of the table (`iouwait commands --names`).
# Exit 0 when in step, 1 otherwise, 2 for bad arguments.
set -euo pipefail
export LC_ALL=C

update=0
if [ "${1:-}" = "--update" ]; then
  update=1
  shift
fi
if [ $# -lt 1 ] || [ ! -x "$1" ]; then
  echo "usage: tests/check_commands.sh [--update] IOUWAIT [SRCDIR]" >&2
  exit 2
fi
iouwait=$1
src=${2:-"$(cd "$(dirname "$0")/.." && pwd)"}
readme=$src/harness/README.md
dict=$src/corpus/script.dict
gen=$src/fuzz/loop_scenario.c
for f in "$readme" "$dict" "$gen"; do
  if [ ! -f "$f" ]; then
    echo "check_commands: $f: expected a file of the source tree" >&2
    exit 2
  fi
done
begin='<!-- BEGIN iouwait commands --markdown -->'
end='<!-- END iouwait commands --markdown -->'
problems=0

table=$("$iouwait" commands --markdown)
block=$(awk -v b="$begin" -v e="$end" '$0 == e { on = 0 } on { print } $0 == b { on = 1 }' "$readme")
if [ "$(grep -cxF -e "$begin" -e "$end" "$readme")" != 2 ]; then
  echo "$readme: expected one '$begin' and one '$end' line"
  problems=$((problems + 1))
elif [ "$block" != "$table" ]; then
  if [ $update = 1 ]; then
    tmp=$(mktemp)
    trap 'rm -f "$tmp"' EXIT
    T=$table awk -v b="$begin" -v e="$end" \
      '$0 == e { print ENVIRON["T"]; on = 0 } !on { print } $0 == b { on = 1 }' "$readme" >"$tmp"
    cat "$tmp" >"$readme"
    echo "$readme: command table rewritten"
  else
    echo "$readme: the command table differs from 'iouwait commands --markdown' (run tests/check_commands.sh --update IOUWAIT):"
    diff <(printf '%s\n' "$block") <(printf '%s\n' "$table") | sed 's/^/  /' || true
    problems=$((problems + 1))
  fi
fi

while IFS= read -r w; do
  if ! grep -qxF -- "$w" "$dict"; then
    echo "$dict: missing $w (from 'iouwait commands --dict')"
    problems=$((problems + 1))
  fi
done < <("$iouwait" commands --dict)

# Lines loop_scenario.c writes: the string literals of its put()/put_main()
# calls, split at \n; a piece that starts a line and begins with a
# lower-case word names a command (two words for expect/peer).
names=$("$iouwait" commands --names)
while IFS= read -r cmd; do
  if ! grep -qxF -- "$cmd" <<<"$names"; then
    echo "$gen: writes '$cmd', not a command of the table"
    problems=$((problems + 1))
  fi
done < <(grep -oE 'put(_main)?\("([^"\\]|\\.)*"' "$gen" |
         sed -E 's/^put(_main)?\("//; s/"$//' |
         awk '{ n = split($0, part, /\\n/)
                for (i = 1; i <= n; i++) {
                  if (i == 1 && part[i] !~ /^[a-z]/) continue
                  if (split(part[i], w, / /) < 1 || w[1] !~ /^[a-z_]+$/) continue
                  print (w[1] == "expect" || w[1] == "peer") ? w[1] " " w[2] : w[1]
                } }' | sort -u)

if [ $problems -ne 0 ]; then
  echo "check_commands: $problems problem(s)"
  exit 1
fi
