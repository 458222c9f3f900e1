#!/usr/bin/env bash
# bundle.sh builds self-contained binaries for measuring on another amd64
# Linux machine that has neither Go nor oneDNN/XNNPACK: the package's test
# binary, the benchmark report with the C peers, plus every shared library
# the report links, and the store probe's test binary (bench/storeprobe),
# in one tarball.
#
#   bench/bundle.sh [out.tgz [VARIANT...]]   # default: /tmp/softmax-bundle.tgz
#
# Each VARIANT adds a report binary bench-peers-NAME, so that one visit to
# the other machine can compare candidates in full report runs (devcheck.sh
# runs every bench-peers* it finds): a commit or branch (NAME: the REV), or
# a patch to HEAD such as bench/variants/*.patch (NAME: its base name),
# applied in a scratch worktree, which regenerates the assembly when the
# patch touches asm/. Such a binary names its commit HEAD+NAME.
#
# On the other machine, from a checkout of the same commit (the tests read
# testdata and softmax_amd64.s from the repository root):
#
#   mkdir -p /tmp/softmax-bundle && tar xzf softmax-bundle.tgz -C /tmp/softmax-bundle
#   /tmp/softmax-bundle/softmax.test -test.v          # every set the CPU has
#   (on AVX-512, TestEmuMatchesHardware also checks the interpreter that
#   tests the avx512 set elsewhere against the real kernels, bit for bit)
#   OMP_NUM_THREADS=1 /tmp/softmax-bundle/bench-peers -out /tmp/results
#   /tmp/softmax-bundle/softmax.test -test.run '^$' -test.bench PrefetchPlan -test.count 8 -test.benchtime 100ms
#
# bench/devcheck.sh BUNDLE OUTDIR runs those three in one go (about three
# minutes), for a machine lent for a short time.
#
# The report binary's loader and libraries are the bundled ones (its ELF
# interpreter is set to /tmp/softmax-bundle/lib/…), so unpack it exactly
# there. Needs patchelf.
set -euo pipefail
out=${1:-/tmp/softmax-bundle.tgz}
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/lib"
go -C "$root" test -c -o "$dir/softmax.test" .
go -C "$root/bench" test -c -o "$dir/storeprobe.test" ./storeprobe
commit=$(git -C "$root" rev-parse --short=12 HEAD)
if [ -n "$(git -C "$root" status --porcelain --untracked-files=no)" ]; then
	commit="$commit+dirty"
fi
go -C "$root/bench" build -tags peers -ldflags "-X main.builtCommit=$commit" -o "$dir/bench-peers" .
for v in "${@:2}"; do
	wt="$dir/src"
	if [ -f "$v" ]; then
		name=$(basename "$v" .patch)
		git -C "$root" worktree add -q --detach "$wt" HEAD
		git -C "$wt" apply "$(cd "$(dirname "$v")" && pwd)/$(basename "$v")"
		if git -C "$wt" diff --quiet -- asm; then :; else go -C "$wt" generate ./...; fi
		built="$(git -C "$root" rev-parse --short=12 HEAD)+$name"
	else
		name=${v//\//-}
		git -C "$root" worktree add -q --detach "$wt" "$v"
		built=$(git -C "$wt" rev-parse --short=12 HEAD)
	fi
	go -C "$wt/bench" build -tags peers -ldflags "-X main.builtCommit=$built" -o "$dir/bench-peers-$name" .
	git -C "$root" worktree remove --force "$wt"
done
for l in $(ldd "$dir/bench-peers" | awk '/=>/ {print $3}') /lib64/ld-linux-x86-64.so.2; do
	cp -L "$l" "$dir/lib/"
done
# DT_RPATH (--force-rpath), not DT_RUNPATH: it also serves the libraries'
# own dependencies (libxnnpack's libcpuinfo), which RUNPATH does not.
for b in "$dir"/bench-peers*; do
	patchelf --set-interpreter /tmp/softmax-bundle/lib/ld-linux-x86-64.so.2 --force-rpath --set-rpath '$ORIGIN/lib' "$b"
done
strip "$dir"/lib/*.so* 2>/dev/null || true
tar czf "$out" -C "$dir" .
echo "$out: $(du -h "$out" | cut -f1)"
