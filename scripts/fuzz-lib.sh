# shellcheck shell=bash
# scripts/fuzz-lib.sh: shared by scripts/fuzz, scripts/distil, scripts/promote,
# scripts/repro and scripts/minimize (sourced, not run). Expects the
# repository root as cwd.
#
# Invariants: a build dir is configured and built only by its lock holder
# (lock_build) when scripts/fuzz or scripts/distil run; children started with
# start_child run in their own process group, so a SIGINT or SIGTERM to the
# script reaches all of them at once (on_signal) and nothing outlives it.

die() { echo "$PROG: $*" >&2; exit 1; }

# Sanitizer settings for every fuzz run: UBSan findings are crashes, traces
# are symbolised.
export ASAN_SYMBOLIZER_PATH="${ASAN_SYMBOLIZER_PATH:-$(command -v llvm-symbolizer || true)}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-symbolize=1:detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:symbolize=1}"

# setup_build ENGINE [DIR]: configure (once) and build the fuzz executables of
# ENGINE (libfuzzer|afl) in DIR (default build-ENGINE/); prints the build dir.
# A failing meson or ninja has its own output shown.
setup_build() {
  local engine=$1 dir=${2:-build-$1} cc opts log
  # shellcheck disable=SC2054 # the commas belong to one meson option
  case $engine in
    libfuzzer) cc=clang; opts=(-Db_sanitize=address,undefined -Dfuzzer=libfuzzer -Db_lundef=false) ;;
    afl) cc=afl-clang-fast; opts=(-Dfuzzer=afl) ;;
    *) die "unknown engine '$engine' (libfuzzer or afl)" ;;
  esac
  if [ ! -f "$dir/build.ninja" ]; then
    CC=$cc meson setup "$dir" "${opts[@]}" -Dtests=false >&2 ||
      die "$dir: meson setup failed (meson's error above)"
  else
    log=$(mktemp "${TMPDIR:-/tmp}/iouw-reconfigure.XXXXXX")
    if ! meson setup --reconfigure "$dir" >"$log" 2>&1; then
      grep -v '^$' "$log" | sed 's/^/  meson: /' >&2
      rm -f "$log"
      die "$dir: meson reconfigure failed (meson's error above)"
    fi
    rm -f "$log"
  fi
  ninja -C "$dir" fuzzers >&2 || die "$dir: build failed"
  echo "$dir"
}

# list_targets DIR: the fuzz targets built in DIR (fuzz/fuzz_NAME -> NAME).
list_targets() {
  local f
  for f in "$1"/fuzz/fuzz_*; do
    [ -f "$f" ] && [ -x "$f" ] && basename "$f" | sed 's/^fuzz_//'
  done
}

# guess_target FILE: NAME when FILE lives in corpus/NAME/.
guess_target() {
  basename "$(dirname "$(readlink -f "$1")")"
}

# abs_path PATH BASE: PATH made absolute against BASE when relative.
abs_path() {
  case $1 in /*) echo "$1" ;; *) echo "$2/$1" ;; esac
}

# work_corpus_root [DIR]: the working corpus root, absolute: DIR (a
# --corpus-dir, relative to START_DIR, the caller's cwd), else
# $IOUW_WORK_CORPUS (relative to the repository root), else fuzz-corpus/.
# Its TARGET/ subdirectories hold each target's working corpus.
work_corpus_root() {
  if [ -n "${1:-}" ]; then
    abs_path "$1" "${START_DIR:-$PWD}"
  else
    abs_path "${IOUW_WORK_CORPUS:-fuzz-corpus}" "$PWD"
  fi
}

# lock_build DIR: take DIR's campaign lock (DIR/.fuzz.lock, flock) for the
# rest of this process, or die naming the holder.
lock_build() {
  local holder
  mkdir -p "$1" || die "$1: cannot create the build directory"
  exec {IOUW_LOCK_FD}<>"$1/.fuzz.lock" || die "$1/.fuzz.lock: cannot open the lock file"
  if ! flock -n "$IOUW_LOCK_FD"; then
    holder=$(head -c 64 "$1/.fuzz.lock" 2>/dev/null | tr -cd '0-9')
    die "$1 is in use by another run (pid ${holder:-unknown}); wait for it to finish, or give --build-dir another directory"
  fi
  # ftruncate through the locked fd, then our pid.
  : >"$1/.fuzz.lock"
  echo "$$ $PROG" >"$1/.fuzz.lock"
}

# Children and signals. start_child CMD... runs CMD in the background in a
# process group of its own (setsid), remembered in CHILDREN; wait_child PID
# waits for it through signals and returns its status. After trap_signals,
# a SIGINT or SIGTERM sets INTERRUPTED (INT|TERM) and sends SIGINT to every
# child's group (libFuzzer and afl-fuzz stop at once, saving their state);
# wait_child gives an interrupted group 3 s, then SIGKILLs it (libFuzzer's
# merge parent ignores SIGINT while its inner process runs, and would
# start another).
INTERRUPTED=
CHILDREN=()
start_child() {
  [ -z "$INTERRUPTED" ] || return 0
  # A background job of a script starts with SIGINT ignored; give it back.
  setsid env --default-signal=INT,QUIT "$@" &
  CHILDREN+=("$!")
  # A signal that came between fork and here found no child to stop.
  [ -z "$INTERRUPTED" ] || on_signal "$INTERRUPTED"
}
wait_child() {
  local rc i
  if wait "$1"; then rc=0; else rc=$?; fi
  if [ -n "$INTERRUPTED" ]; then
    for ((i = 0; i < 30; i++)); do
      kill -0 "$1" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL -- "-$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    rc=$(signal_status)
  fi
  return "$rc"
}
# run_child CMD...: start_child + wait_child; CMD's exit status.
run_child() {
  local rc=0
  start_child "$@"
  [ ${#CHILDREN[@]} -gt 0 ] || return 130
  wait_child "${CHILDREN[-1]}" || rc=$?
  CHILDREN=()
  return "$rc"
}
on_signal() {
  local pid
  INTERRUPTED=$1
  for pid in "${CHILDREN[@]}"; do
    kill -INT -- "-$pid" 2>/dev/null || kill -INT "$pid" 2>/dev/null || true
  done
}
trap_signals() {
  trap 'on_signal INT' INT
  trap 'on_signal TERM' TERM
}
# signal_status: the exit status for INTERRUPTED (130 SIGINT, 143 SIGTERM).
signal_status() {
  case $INTERRUPTED in INT) echo 130 ;; *) echo 143 ;; esac
}

# count_corpus DIR: "FILES BYTES" of the regular files directly in DIR.
count_corpus() {
  if [ -d "$1" ]; then
    find "$1" -maxdepth 1 -type f ! -name '.*' -printf '%s\n' | awk '{ n++; b += $1 } END { printf "%d %d\n", n, b }'
  else
    echo "0 0"
  fi
}

# human BYTES: 1234567 -> 1.2 MB
human() {
  awk -v b="$1" 'BEGIN { if (b >= 1048576) printf "%.1f MB", b / 1048576; else if (b >= 1024) printf "%.1f KB", b / 1024; else printf "%d B", b }'
}

# drop_curated_copies TARGET DIR: remove from DIR every file whose bytes are
# a file of corpus/TARGET/ (libFuzzer names merged files by their sha1).
drop_curated_copies() {
  local sum _
  [ -d "corpus/$1" ] || return 0
  while read -r sum _; do
    rm -f "$2/$sum"
  done < <(find "corpus/$1" -maxdepth 1 -type f ! -name '.*' -exec sha1sum {} +)
}
