#!/usr/bin/env bash
# Runs every fuzz target for a while and prints what each did.
#   bash fuzz/run.sh            # 180 s per target
#   SECONDS_PER_TARGET=30 bash fuzz/run.sh webhook
# Stable Rust: the sanitizer-coverage flags cargo-fuzz passes are stable codegen
# options, so libFuzzer runs without a nightly toolchain (and without ASan, which
# safe Rust does not need). A crash leaves its input in fuzz/artifacts/<target>/;
# each becomes a regression test in the crate it broke.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${SECONDS_PER_TARGET:-180}"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(webhook phone template)

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module \
 -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
 -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares \
 -Cdebug-assertions -Coverflow-checks"
# With an explicit --target, RUSTFLAGS reach only the fuzzed code, not build scripts
# and proc macros (which would not link without libFuzzer).
host="$(rustc -vV | sed -n 's/^host: //p')"
cargo build --release --bins --target "$host"
bin="$CARGO_TARGET_DIR/$host/release"

# Webhook seeds: ours, plus every fixture the e2e tests post (Meta's shape, selector 0).
mkdir -p corpus/webhook
cp -n seeds/webhook/* corpus/webhook/ 2>/dev/null || true
if [ -d ../tests/fixtures/meta ]; then
  for f in ../tests/fixtures/meta/*.json; do
    [ -e "$f" ] || continue
    { printf '\x00'; cat "$f"; } > "corpus/webhook/fixture_$(basename "$f" .json)"
  done
fi

status=0
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target" "artifacts/$target"
  cp -n seeds/"$target"/* "corpus/$target/" 2>/dev/null || true
  log="$(mktemp)"
  if "$bin/$target" "corpus/$target" \
      -max_total_time="$seconds" -max_len=65536 -timeout=10 \
      -artifact_prefix="artifacts/$target/" -print_final_stats=1 >"$log" 2>&1; then
    outcome="no crash"
  else
    outcome="CRASH: see fuzz/artifacts/$target/"
    status=1
    grep -m5 -E "panicked|ERROR|SUMMARY" "$log" || true
  fi
  runs="$(grep -m1 -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo '?')"
  cover="$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || echo '?')"
  printf '%-9s %8s s  %12s executions  coverage %6s edges  corpus %5s  %s\n' \
    "$target" "$seconds" "$runs" "$cover" "$(ls "corpus/$target" | wc -l)" "$outcome"
  rm -f "$log"
done
exit "$status"
