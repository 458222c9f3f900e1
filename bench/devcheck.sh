#!/usr/bin/env bash
# devcheck.sh runs, in one go, the checks that need a machine with AVX-512
# (issue 4's speed criterion and the interpreter's check against the real
# kernels), from a bundle that bench/bundle.sh made of the same commit:
#
#   bench/devcheck.sh BUNDLE.tgz OUTDIR          # from the repository root
#
# It writes to OUTDIR: tests.txt (the test binary on the avx512 set, with
# TestEmuMatchesHardware), plans.txt (BenchmarkPrefetchPlan, for benchstat
# -col /plan), memory.txt (SoftmaxRows on the report's batches and on
# batches in cache, and BenchmarkStreamRow, on both sets: benchstat -col
# /plan for streamRow), and the report (report.txt, <cpu>.md/.json/.svg)
# with the two sets and oneDNN at both ISAs, five rounds, one thread.
# About four minutes on a 16-core Xeon. IMPL=avx2 runs the same steps on an AVX2
# machine (to try the script out).
set -uo pipefail
bundle=${1:?usage: devcheck.sh BUNDLE.tgz OUTDIR}
out=${2:?usage: devcheck.sh BUNDLE.tgz OUTDIR}
impl=${IMPL:-avx512}
mkdir -p "$out" /tmp/softmax-bundle
tar xzf "$bundle" -C /tmp/softmax-bundle || exit 1
bin=/tmp/softmax-bundle
status=0

echo "== tests on $impl"
SOFTMAX_WANT_IMPL=$impl "$bin/softmax.test" -test.v >"$out/tests.txt" 2>&1 || status=1
grep -E '^(PASS|FAIL|--- FAIL|panic)' "$out/tests.txt" | head -20

echo "== prefetch plans"
"$bin/softmax.test" -test.run '^$' -test.bench "PrefetchPlan/impl=$impl" \
	-test.count 8 -test.benchtime 100ms >"$out/plans.txt" 2>&1 || status=1
tail -2 "$out/plans.txt"

echo "== memory or compute: batches in cache, streamRow"
"$bin/softmax.test" -test.run '^$' -test.bench "BenchmarkSoftmaxRows\$/impl=($impl|avx2)\$" \
	-test.count 5 -test.benchtime 100ms >>"$out/memory.txt" 2>&1 || status=1
for set in "$impl" avx2; do
	SOFTMAX_IMPL=$set "$bin/softmax.test" -test.run '^$' \
		-test.bench 'SoftmaxRowsInCache|StreamRow' \
		-test.count 5 -test.benchtime 100ms >>"$out/memory.txt" 2>&1 || status=1
	[ "$impl" = avx2 ] && break
done
tail -2 "$out/memory.txt"

echo "== report"
if [ -x "$bin/bench-peers" ]; then
	OMP_NUM_THREADS=1 "$bin/bench-peers" -impls "$impl,onednn,avx2,onednn-avx2" -rounds 5 \
		-out "$out" >"$out/report.txt" 2>&1 || status=1
	grep -E '^\|' "$out/report.txt" | head -40
fi
exit $status
