#!/bin/bash -eu
# .clusterfuzzlite/build.sh: iouwait's fuzz targets for OSS-Fuzz and
# ClusterFuzzLite.
#
#   (run by the base-builder image's `compile` as `bash -eux $SRC/build.sh`,
#    cwd = the checkout; scripts/oss-fuzz-check runs it the same way locally)
#
# Honours the build contract: CC, CFLAGS (sanitizer, coverage and
# optimisation flags: nothing is added here), LIB_FUZZING_ENGINE (how each
# target links its engine, main() included), SANITIZER, FUZZING_ENGINE,
# WORK (scratch: the meson build dir) and OUT. Leaves in $OUT, for every
# target NAME (fuzz/fuzz_NAME.c): the binary NAME, NAME_seed_corpus.zip
# (the curated corpus/NAME/), NAME.dict (when corpus/NAME.dict exists) and
# NAME.options (fuzz/NAME.options: [libfuzzer] timeout).
#
# Supported (FUZZING_ENGINE, SANITIZER) pairs, each checked by
# scripts/oss-fuzz-check: libfuzzer+address, libfuzzer+undefined,
# libfuzzer+coverage (the coverage build), afl+address. Others fail here:
# memory needs every library MSan-built (liburing and check are not).
#
# The `ring` target needs io_uring, which container seccomp profiles
# usually block: it then says so once on stderr and runs every input as a
# no-op (fuzz/fuzz_ring.c), so the build check still passes.
set -euo pipefail

: "${OUT:?}" "${WORK:?}" "${LIB_FUZZING_ENGINE:?}"
sanitizer=${SANITIZER:-address}
engine=${FUZZING_ENGINE:-libfuzzer}
case "$engine+$sanitizer" in
  libfuzzer+address|libfuzzer+undefined|libfuzzer+coverage|afl+address) ;;
  *)
    echo "build.sh: unsupported pair FUZZING_ENGINE=$engine SANITIZER=$sanitizer" \
      "(supported: libfuzzer+address, libfuzzer+undefined, libfuzzer+coverage, afl+address)" >&2
    exit 1 ;;
esac

# The checkout: the working directory (OSS-Fuzz's WORKDIR), else $SRC/iouwait.
src=$(pwd)
[ -f "$src/meson.build" ] && [ -d "$src/fuzz" ] || src=${SRC:-}/iouwait
[ -f "$src/meson.build" ] || { echo "build.sh: no iouwait checkout in $(pwd) or ${SRC:-}/iouwait" >&2; exit 1; }

build=$WORK/iouwait-build
rm -rf "$build"
# The coverage build's configure-time programs (meson's compiler checks)
# would drop default.profraw into the checkout.
export LLVM_PROFILE_FILE=$WORK/configure-%p.profraw
# plain: no optimisation or debug flags of meson's own (CFLAGS has them);
# no -Werror: the toolchain's clang is newer than the project's.
meson setup "$build" "$src" --buildtype=plain -Dwerror=false -Db_lundef=false \
  -Dfuzzer=oss-fuzz -Dlib_fuzzing_engine="$LIB_FUZZING_ENGINE" -Dtests=false
ninja -C "$build" -j "$(nproc)" fuzzers

mkdir -p "$OUT"
n=0
for entry in "$src"/fuzz/fuzz_*.c; do
  name=$(basename "$entry" .c)
  name=${name#fuzz_}
  exe=$build/fuzz/fuzz_$name
  [ -x "$exe" ] || { echo "build.sh: $exe was not built" >&2; exit 1; }
  cp "$exe" "$OUT/$name"
  rm -f "$OUT/${name}_seed_corpus.zip"
  # Flat zip of the regular files of corpus/NAME/ (python's zipfile: the
  # runner images have python3, not always zip).
  (cd "$src/corpus/$name" && find . -maxdepth 1 -type f -printf '%f\n' | LC_ALL=C sort |
    python3 -c 'import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for f in sys.stdin.read().split("\n"):
        if f:
            z.write(f, f)' "$OUT/${name}_seed_corpus.zip")
  if [ -f "$src/corpus/$name.dict" ]; then
    cp "$src/corpus/$name.dict" "$OUT/$name.dict"
  fi
  # The target's own options (a libFuzzer timeout well above its step
  # budget), the same file scripts/fuzz and the fuzz-bounds test read.
  [ -f "$src/fuzz/$name.options" ] || { echo "build.sh: $src/fuzz/$name.options is missing" >&2; exit 1; }
  cp "$src/fuzz/$name.options" "$OUT/$name.options"
  n=$((n + 1))
done
echo "build.sh: $n fuzz targets in $OUT ($engine, $sanitizer)"
