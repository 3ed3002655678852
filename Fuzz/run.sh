#!/usr/bin/env bash
# Builds the libFuzzer targets of Fuzz/ and runs each for a bounded time on a copy of its
# committed seed corpus (Fuzz/Corpus/<Target>/), so the committed files never change.
#
#   bash Fuzz/run.sh TARGET SECONDS   # one of FuzzEventStreamParser, FuzzConfiguration, FuzzRequestHead
#   bash Fuzz/run.sh all SECONDS      # the three, one after the other
#
# Prints executions per second, coverage (cov: edges, ft: features) and corpus size per target.
# Exits 1 on a finding, after printing the report, the crashing input's path, and how to replay
# and minimise it. Extra libFuzzer flags can be given in FUZZ_FLAGS; FUZZ_SKIP_BUILD=1 reuses
# the last build (for running targets in parallel shells); FUZZ_PARALLEL=1 runs the selected
# targets at the same time (each still for SECONDS, sharing the cores), and reports them in
# order; FUZZ_KEEP_CORPUS=DIR copies the grown corpora to DIR/<Target> at the end.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

targets=(FuzzEventStreamParser FuzzConfiguration FuzzRequestHead)
usage="usage: $0 all|FuzzEventStreamParser|FuzzConfiguration|FuzzRequestHead SECONDS"
[ $# -eq 2 ] || { echo "$usage" >&2; exit 2; }
case "$2" in '' | *[!0-9]*) echo "$usage" >&2; exit 2 ;; esac
seconds=$2
if [ "$1" = all ]; then
  selected=("${targets[@]}")
elif [[ " ${targets[*]} " == *" $1 "* ]]; then
  selected=("$1")
else
  echo "$usage" >&2
  exit 2
fi

if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
  export PATH="/opt/swift/usr/bin:$PATH"
fi

# Coverage instrumentation and AddressSanitizer for every Swift module (the relay's core, NIO,
# the harnesses) and every C module (-Xcc): NIO's llhttp is C, and its coverage is what leads
# FuzzRequestHead to unusual request shapes (about a quarter more edges and features in the same
# time than with Swift alone). SwiftPM gives each executable its own `main`, so the targets start
# libFuzzer with LLVMFuzzerRunDriver (Sources/FuzzSupport/FuzzDriver.swift) instead of libFuzzer's.
work=$(mktemp -d "${TMPDIR:-/tmp}/sse-relay-fuzz.XXXXXX")
scratch=Fuzz/.build
if [ "${FUZZ_SKIP_BUILD:-0}" != 1 ]; then
  echo "== building the fuzz targets in $scratch"
  build_start=$(date +%s)
  # The linker's warning about __asan_extra_spill_area comes with the toolchain; it is harmless.
  if ! swift build -c release --package-path Fuzz --scratch-path "$scratch" \
    -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=fuzzer-no-link,address >"$work/build.log" 2>&1; then
    grep -v "Cannot export local symbol '__asan_extra_spill_area'" "$work/build.log" | tail -n 60 >&2
    echo "fuzz build failed" >&2
    exit 1
  fi
  echo "built in $(($(date +%s) - build_start))s"
fi
bin=$(swift build -c release --package-path Fuzz --scratch-path "$scratch" --show-bin-path)
# Swift's own crash backtracer would race libFuzzer's handler (and trips ASan); libFuzzer
# prints the stack itself.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:handle_abort=1:symbolize=1}"
symbolizer=$(command -v llvm-symbolizer || true)
[ -n "$symbolizer" ] && export ASAN_SYMBOLIZER_PATH="$symbolizer"

# Runs one target; its report goes to $work/<target>.report, its summary line to
# $work/<target>.summary, and it returns 1 on a finding.
run_target() {
  local target=$1
  local corpus="$work/$target"
  cp -R "Fuzz/Corpus/$target" "$corpus"
  local seeds
  seeds=$(find "$corpus" -type f | wc -l)
  local log="$work/$target.log"
  local report="$work/$target.report"
  echo "== $target: ${seconds}s on a copy of $seeds seeds in $corpus" >"$report"
  local start
  start=$(date +%s)
  set +e
  # shellcheck disable=SC2086 # FUZZ_FLAGS is a list of flags
  "$bin/$target" "$corpus" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -dict="Fuzz/Dictionaries/$target.dict" -artifact_prefix="$work/$target-" \
    ${FUZZ_FLAGS:-} >"$log" 2>&1
  local rc=$?
  set -e
  local elapsed=$(($(date +%s) - start))
  local last runs rate cov ft corp
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$last")
  local line="$target: ${elapsed}s, ${runs:-?} runs, ${rate:-?} exec/s, cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?} (from $seeds seeds)"
  local status=0
  if [ $rc -ne 0 ]; then
    status=1
    line="$line, FINDING (exit $rc)"
    {
      echo "-- $target found a problem; the report (symbols demangled):"
      grep -vE '^(#[0-9]+|INFO:|")' "$log" | swift demangle --simplified | tail -n 80
      local artifact
      artifact=$(sed -n "s/.*Test unit written to \(.*\)$/\1/p" "$log" | tail -n 1)
      if [ -n "$artifact" ]; then
        echo "-- crashing input: $artifact"
        echo "-- replay:   $bin/$target $artifact"
        echo "-- minimise: $bin/$target -minimize_crash=1 -runs=100000 -exact_artifact_path=$artifact.min $artifact"
      fi
      echo "-- full log: $log"
    } >>"$report"
  fi
  if [ -n "${FUZZ_KEEP_CORPUS:-}" ]; then
    mkdir -p "$FUZZ_KEEP_CORPUS"
    rm -rf "${FUZZ_KEEP_CORPUS:?}/$target"
    cp -R "$corpus" "$FUZZ_KEEP_CORPUS/$target"
  fi
  echo "$line" >>"$report"
  echo "$line" >"$work/$target.summary"
  return $status
}

status=0
summary=()
if [ "${FUZZ_PARALLEL:-0}" = 1 ]; then
  pids=()
  for target in "${selected[@]}"; do
    run_target "$target" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do
    wait "$pid" || status=1
  done
  for target in "${selected[@]}"; do
    cat "$work/$target.report"
  done
else
  for target in "${selected[@]}"; do
    run_target "$target" || status=1
    cat "$work/$target.report"
  done
fi
for target in "${selected[@]}"; do
  summary+=("$(cat "$work/$target.summary")")
done

echo "== fuzzing summary"
printf '%s\n' "${summary[@]}"
if [ $status -eq 0 ]; then
  rm -rf "$work"
fi
exit $status
