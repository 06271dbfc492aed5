#!/usr/bin/env bash
# tests/check_docs.sh [SRCDIR]: the repository cites only itself.
#
# Usage: tests/check_docs.sh [SRCDIR]   (default: the repository holding
# this script; meson test --suite docs passes the source root)
#
# Over every tracked text file (git ls-files; without git, every file
# outside .git and build*/), fails with one line per problem when
#   - a file cites the contract inputs outside the repository (the
#     "shared" directory next to the checkout, or the outside spec by its
#     bare name) instead of docs/ (docs/README.md, "Citing these pages");
#   - a citation `docs/<page>.md §N.M` names a page that does not exist or
#     a section that has no heading `## N.` / `### N.M` in that page;
#   - outside docs/, a `§N` appears with no docs/<page>.md before it on its
#     line; inside a docs page, a bare `§N.M` has no heading in that page.
# Exit 0 when clean, 1 otherwise, 2 for a bad SRCDIR.
set -euo pipefail
export LC_ALL=C

src=${1:-"$(cd "$(dirname "$0")/.." && pwd)"}
if [ ! -d "$src" ] || [ ! -d "$src/docs" ]; then
  echo "check_docs: $src: expected the iouwait source root (with docs/)" >&2
  exit 2
fi
cd "$src"

files=()
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  while IFS= read -r -d '' f; do
    [ -f "$f" ] && files+=("$f")
  done < <(git ls-files -z)
else
  while IFS= read -r -d '' f; do
    files+=("${f#./}")
  done < <(find . -path ./.git -prune -o -path './build*' -prune -o -type f -print0)
fi
if [ "${#files[@]}" -eq 0 ]; then
  echo "check_docs: $src: no files to check" >&2
  exit 2
fi

# The patterns are spelled in pieces so this script does not match itself.
outside_dir='\.\./''shar''ed|(^|[^A-Za-z0-9_.-])''shar''ed/(SP''EC|seeds)'
outside_name='\bSP''EC\b'
sect='§[0-9]+(\.[0-9]+)*'
# A citation: the page, then its sections (each with its own §).
cite="docs/[A-Za-z0-9_-]+\.md( $sect((-| and | or |, |/| to )$sect)*)?"

problems=0
report() { # report FILE:LINE MESSAGE TEXT
  printf '%s: %s: %s\n' "$1" "$2" "$3"
  problems=$((problems + 1))
}

# 1. Nothing outside the repository.
while IFS= read -r hit; do
  loc=${hit%%:*}; rest=${hit#*:}; line=${rest%%:*}; text=${rest#*:}
  report "$loc:$line" "cites the contract outside the repository (cite docs/<page>.md §N instead)" "$text"
done < <(printf '%s\0' "${files[@]}" |
         xargs -0 grep -nIE -e "$outside_dir" -e "$outside_name" -- 2>/dev/null || true)

# The heading that defines section $2 in page $1 exists.
has_heading() {
  local num=${2//./\\.}
  grep -qE "^#{1,6} ${num}\.?( |\$)" "$1"
}

# 2. Every cited page and section exists.
while IFS= read -r hit; do
  loc=${hit%%:*}; rest=${hit#*:}; line=${rest%%:*}; c=${rest#*:}
  page=${c%%.md*}.md
  if [ ! -f "$page" ]; then
    report "$loc:$line" "cites a page that does not exist" "$c"
    continue
  fi
  for s in $(grep -oE "$sect" <<<"$c" | sed 's/^§//'); do
    has_heading "$page" "$s" ||
      report "$loc:$line" "cites a section with no heading '§$s' in $page" "$c"
  done
done < <(printf '%s\0' "${files[@]}" | xargs -0 grep -nIoE -e "$cite" -- 2>/dev/null || true)

# 3. Sections without a page: outside docs/ an error; inside a page, a
# section of that page.
while IFS= read -r hit; do
  loc=${hit%%:*}; rest=${hit#*:}; line=${rest%%:*}; text=${rest#*:}
  bare=$(sed -E "s#$cite##g" <<<"$text" | grep -oE "$sect" | sed 's/^§//' || true)
  [ -n "$bare" ] || continue
  case $loc in
  docs/*.md)
    for s in $bare; do
      has_heading "$loc" "$s" ||
        report "$loc:$line" "refers to §$s, which has no heading in this page" "$text"
    done ;;
  *)
    report "$loc:$line" "cites a section without its page (write docs/<page>.md §N)" "$text" ;;
  esac
done < <(printf '%s\0' "${files[@]}" | xargs -0 grep -nIE -e '§' -- 2>/dev/null || true)

if [ "$problems" -gt 0 ]; then
  echo "check_docs: $problems problem(s) in ${#files[@]} files" >&2
  exit 1
fi
echo "check_docs: ${#files[@]} files, every citation resolves inside the repository"
