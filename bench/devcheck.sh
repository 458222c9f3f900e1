#!/usr/bin/env bash
# devcheck.sh runs, in one go, the checks that need a machine with AVX-512
# (issue 4's speed criterion and the interpreter's check against the real
# kernels), from a bundle that bench/bundle.sh made of the same commit:
#
#   bench/devcheck.sh BUNDLE.tgz OUTDIR          # from the repository root
#
# It writes to OUTDIR (eight files at most, what a borrowed machine gives
# back):
#   cpu.txt      lscpu and the CPU flags, first (which machine it was);
#   tests.txt    the test binary on the avx512 set, TestEmuMatchesHardware
#                included;
#   plans.txt    BenchmarkPrefetchPlan, for benchstat -col /plan;
#   memory.txt   SoftmaxRows on the report's batches and on batches in
#                cache, and BenchmarkStreamRow, on both sets (benchstat
#                -col /plan for streamRow);
#   stores.txt   bench/storeprobe: what each way of storing an output
#                in L3 costs (benchstat -col /mode);
#   reports.tgz  full report runs (the two sets and oneDNN at both ISAs,
#                one thread), one per report binary in the bundle
#                (bench-peers and each bench-peers-NAME) per round, the
#                binaries taking turns;
#   ratios.txt   each report's set ÷ oneDNN on the four shapes issue 4
#                judges;
#   paired.txt   each variant against main, round by round (paired.sh).
# Report rounds go on while the elapsed time is below DEADLINE seconds
# (default 400), at least ROUNDS (default 1) of them. IMPL=avx2 runs the
# same steps on an AVX2 machine (to try the script out); without IMPL, a
# CPU without AVX-512F gets avx2. REPORTS_ONLY=1
# runs the report rounds alone (for a short second visit); SHAPES (a
# -shapes list) limits the reports to those shapes.
set -uo pipefail
bundle=${1:?usage: devcheck.sh BUNDLE.tgz OUTDIR}
out=${2:?usage: devcheck.sh BUNDLE.tgz OUTDIR}
impl=${IMPL:-avx512}
if [ -z "${IMPL:-}" ] && ! grep -qw avx512f /proc/cpuinfo; then impl=avx2; fi
deadline=${DEADLINE:-400}
minRounds=${ROUNDS:-1}
reportsOnly=${REPORTS_ONLY:-0}
shapes=()
[ -n "${SHAPES:-}" ] && shapes=(-shapes "$SHAPES")
rm -rf /tmp/softmax-bundle # a bundle unpacked earlier would leave its binaries
mkdir -p "$out" /tmp/softmax-bundle
tar xzf "$bundle" -C /tmp/softmax-bundle || exit 1
{ lscpu; grep -m1 '^flags' /proc/cpuinfo; } >"$out/cpu.txt" 2>&1
grep -E '^(Model name|Vendor ID|CPU family|Model|Stepping|L2 cache):' "$out/cpu.txt"
echo "set: $impl"
bin=/tmp/softmax-bundle
reports=$(mktemp -d)
status=0
start=$SECONDS

if [ "$reportsOnly" != 1 ]; then
	echo "== tests on $impl"
	SOFTMAX_WANT_IMPL=$impl timeout 200 "$bin/softmax.test" -test.v >"$out/tests.txt" 2>&1 || status=1
	grep -E '^(PASS|FAIL|--- FAIL|panic)' "$out/tests.txt" | head -20
	echo "($((SECONDS - start)) s)"
fi

# ratios prints, for one report's text, the set ÷ oneDNN ratios on the
# judged shapes: avx512 ÷ onednn, then avx2 ÷ onednn-avx2, then avx512 ÷
# copy (the memory bound: near 1, no kernel can gain much there).
ratios() {
	awk -F'|' -v impl="$impl" '
		{ for (i = 2; i <= 4; i++) gsub(/^ +| +$/, "", $i) }
		$2 ~ /^(512×1000|128×4096|16×32000|4×128256)$/ && $4 ~ /^[0-9.]+$/ { g[$2 "/" $3] = $4 }
		END {
			n = split("512×1000 128×4096 16×32000 4×128256", s, " ")
			for (k = 1; k <= n; k++) {
				a = g[s[k] "/" impl]; b = g[s[k] "/onednn (peer)"]
				c = g[s[k] "/avx2"]; d = g[s[k] "/onednn-avx2 (peer)"]; e = g[s[k] "/copy (no softmax)"]
				printf "%s %s÷onednn %.2f  avx2÷onednn-avx2 %.2f  %s÷copy %.2f\n", s[k], impl, (b ? a / b : 0), (d ? c / d : 0), impl, (e ? a / e : 0)
			}
		}' "$1"
}

# round runs one report per binary, unless the deadline has passed and
# ROUNDS rounds are done.
round=0
reportRound() {
	round=$((round + 1))
	if [ $round -gt "$minRounds" ] && [ $((SECONDS - start)) -ge "$deadline" ]; then
		return 1
	fi
	# The order flips every round: a fixed one biases the pairs (a binary
	# that always runs after another meets the machine in another state).
	local bins=("$bin"/bench-peers*) order=() i
	for i in "${!bins[@]}"; do
		if [ $((round % 2)) = 1 ]; then order+=("${bins[i]}"); else order=("${bins[i]}" "${order[@]}"); fi
	done
	for b in "${order[@]}"; do
		name=$(basename "$b")-$round
		mkdir -p "$reports/$name"
		OMP_NUM_THREADS=1 "$b" -impls "$impl,onednn,avx2,onednn-avx2,copy" \
			-out "$reports/$name" "${shapes[@]}" >"$reports/$name/report.txt" 2>&1 || status=1
		{
			echo "$name ($(grep -m1 '^commit:' "$reports/$name/report.txt"))"
			ratios "$reports/$name/report.txt"
		} | tee -a "$out/ratios.txt"
	done
	tar czf "$out/reports.tgz" -C "$reports" . # after each round: a run cut short keeps what it did
	echo "($((SECONDS - start)) s)"
}

# pairs compares each variant with main round by round (paired.sh).
pairs() {
	"$(dirname "$0")/paired.sh" "$reports" "$impl" >"$out/paired.txt" 2>&1 || status=1
	cat "$out/paired.txt"
}

if [ "$reportsOnly" = 1 ]; then
	while reportRound; do :; done
	pairs
	exit $status
fi

echo "== report round"
reportRound

echo "== prefetch plans"
"$bin/softmax.test" -test.run '^$' -test.bench "PrefetchPlan/impl=$impl" \
	-test.count 6 -test.benchtime 100ms >"$out/plans.txt" 2>&1 || status=1
tail -2 "$out/plans.txt"
echo "($((SECONDS - start)) s)"

echo "== report round"
reportRound

echo "== memory or compute: batches in cache, streamRow"
"$bin/softmax.test" -test.run '^$' -test.bench "BenchmarkSoftmaxRows\$/impl=($impl|avx2)\$" \
	-test.count 5 -test.benchtime 100ms >>"$out/memory.txt" 2>&1 || status=1
for set in "$impl" avx2; do
	SOFTMAX_IMPL=$set "$bin/softmax.test" -test.run '^$' \
		-test.bench 'SoftmaxRowsInCache|StreamRow' \
		-test.count 4 -test.benchtime 100ms >>"$out/memory.txt" 2>&1 || status=1
	[ "$impl" = avx2 ] && break
done
tail -2 "$out/memory.txt"
echo "($((SECONDS - start)) s)"

echo "== store probe"
"$bin/storeprobe.test" -test.run '^$' -test.bench Store \
	-test.count 3 -test.benchtime 100ms >"$out/stores.txt" 2>&1 || status=1
tail -2 "$out/stores.txt"
echo "($((SECONDS - start)) s)"

echo "== report rounds until ${deadline} s"
while reportRound; do :; done
pairs
exit $status
