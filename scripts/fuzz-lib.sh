# shellcheck shell=bash
# scripts/fuzz-lib.sh: shared by scripts/fuzz, scripts/repro and
# scripts/minimize (sourced, not run). Expects the repository root as cwd.

die() { echo "$PROG: $*" >&2; exit 1; }

# Sanitizer settings for every fuzz run: UBSan findings are crashes, traces
# are symbolised.
export ASAN_SYMBOLIZER_PATH="${ASAN_SYMBOLIZER_PATH:-$(command -v llvm-symbolizer || true)}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-symbolize=1:detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:symbolize=1}"

# setup_build ENGINE: configure (once) and build the fuzz executables of
# ENGINE (libfuzzer|afl) in build-ENGINE/; prints the build dir.
setup_build() {
  local engine=$1 dir="build-$1" cc opts
  # shellcheck disable=SC2054 # the commas belong to one meson option
  case $engine in
    libfuzzer) cc=clang; opts=(-Db_sanitize=address,undefined -Dfuzzer=libfuzzer -Db_lundef=false) ;;
    afl) cc=afl-clang-fast; opts=(-Dfuzzer=afl) ;;
    *) die "unknown engine '$engine' (libfuzzer or afl)" ;;
  esac
  if [ ! -f "$dir/build.ninja" ]; then
    CC=$cc meson setup "$dir" "${opts[@]}" -Dtests=false >&2 ||
      die "$dir: meson setup failed"
  else
    meson setup --reconfigure "$dir" >/dev/null || die "$dir: meson reconfigure failed"
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
