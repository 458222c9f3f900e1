#!/usr/bin/env bash
# paired.sh compares the report binaries of a devcheck.sh visit round by
# round, from the reports it saved (reports.tgz, unpacked):
#
#   bench/paired.sh REPORTS_DIR [SET]     # SET: avx512 (default) or avx2
#
# For each variant's binary (bench-peers-NAME) and judged shape it prints
# two medians over the rounds, each taken within a round against main's
# binary (bench-peers) of the same round: the set's Gelem/s ÷ main's, and
# its ÷ oneDNN ratio ÷ main's (oneDNN capped at AVX2 for avx2). On a VM whose speed drifts by ±20% between
# runs, the ratios between separate report runs mostly measure that drift;
# these pairs cancel the part that lasts a round.
set -euo pipefail
dir=${1:?usage: paired.sh REPORTS_DIR [SET]}
impl=${2:-avx512}
peer="onednn (peer)"
[ "$impl" = avx2 ] && peer="onednn-avx2 (peer)"
for f in "$dir"/*/report.txt; do
	awk -F'|' -v run="$(basename "$(dirname "$f")")" -v impl="$impl" -v peer="$peer" '
		{ for (i = 2; i <= 4; i++) gsub(/^ +| +$/, "", $i) }
		$2 ~ /^(512×1000|128×4096|16×32000|4×128256)$/ && $4 ~ /^[0-9.]+$/ && !((run, $2, $3) in seen) {
			seen[run, $2, $3]
			n = split(run, p, "-")
			if ($3 == impl) g[$2] = $4
			if ($3 == peer) o[$2] = $4
		}
		END {
			bin = substr(run, 1, length(run) - length(p[n]) - 1)
			for (s in g) print bin, p[n], s, g[s], (o[s] ? g[s] / o[s] : 0)
		}' "$f"
done | awk '
	function median(v, n,    i, j, x) {
		for (i = 2; i <= n; i++) { x = v[i]; for (j = i - 1; j >= 1 && v[j] > x; j--) v[j + 1] = v[j]; v[j + 1] = x }
		return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
	}
	{ g[$1, $2, $3] = $4; q[$1, $2, $3] = $5; bins[$1]; rounds[$2] }
	END {
		split("512×1000 128×4096 16×32000 4×128256", shapes, " ")
		for (b in bins) {
			if (b == "bench-peers") continue
			print b " against main, medians over the rounds of Gelem/s ÷ main and (÷ oneDNN) ÷ main (÷ oneDNN):"
			for (k = 1; k <= 4; k++) {
				s = shapes[k]; n = 0
				for (r in rounds) {
					if (!((b, r, s) in g) || !(("bench-peers", r, s) in g)) continue
					n++; a[n] = g[b, r, s] / g["bench-peers", r, s]; c[n] = q[b, r, s] / q["bench-peers", r, s]
				}
				if (n) printf "  %-9s %.3f  %.3f  (%d rounds)\n", s, median(a, n), median(c, n), n
			}
		}
	}'
