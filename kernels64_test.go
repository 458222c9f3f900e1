//go:build !purego && (amd64 || arm64)

package softmax

import (
	"fmt"
	"math"
	"testing"

	"github.com/gosimd/softmax/internal/ulp"
)

// TestKernels64 checks the float64 SIMD kernels against generic's, kernel
// by kernel: every length 0..300 and powers of two ±1 beyond, each at a
// guard page's edge (either side) and at misaligned offsets, with −Inf,
// NaN, ties at the max and terms in and below the subnormal range mixed in.
func TestKernels64(t *testing.T) {
	sets := archSets64()
	if len(sets) == 0 {
		t.Skip("no float64 SIMD set on this CPU")
	}
	for _, k := range sets {
		for i, n := range lens64() {
			for p := range 4 {
				kernels64Case(t, k, n, 4*i+p)
			}
		}
	}
}

// lens64 are the lengths the float64 kernels are tested on: every length
// 0..300, powers of two ±1 up to 2^16 (2^12 in short mode), and 2^20+3.
func lens64() []int {
	var lens []int
	for n := 0; n <= 300; n++ {
		lens = append(lens, n)
	}
	top := 16
	if testing.Short() {
		top = 12
	}
	for e := 9; e <= top; e++ {
		lens = append(lens, 1<<e-1, 1<<e, 1<<e+1)
	}
	if !testing.Short() {
		lens = append(lens, 1<<20+3)
	}
	return lens
}

// TestBackwardKernels64 checks the float64 sets' sum, dot, mulSub and
// expMulSub (where a set has its own) against generic's on lens64's
// lengths, at guard pages and misaligned: p a softmax, dy normal with, by
// case, ±Inf, NaN and huge values mixed in, and dy constant (where
// dy − ⟨p, dy⟩ cancels). dot's pair must match generic's to 2^-100 of
// Σ|p·dy| (both carry it to about 2^-104), mulSub bit for bit given the
// same pair, in place on p and on dy too; expMulSub64Case and
// softGrad64Case say what expMulSub and softGrad must do.
func TestBackwardKernels64(t *testing.T) {
	sets := archSets64()
	if len(sets) == 0 {
		t.Skip("no float64 SIMD set on this CPU")
	}
	for _, k := range sets {
		for i, n := range lens64() {
			for c := 4 * i; c < 4*i+4; c++ {
				backward64Case(t, k, n, c)
			}
		}
	}
}

func backward64Case(t *testing.T, k *kernels[float64], n, c int) {
	t.Helper()
	rng := newRand(uint64(c) + 99)
	pv, dyv := make([]float64, n), make([]float64, n)
	if n > 0 {
		x := row64(n, c%4*7) // normal rows of spread by c
		softmaxRow(&generic64, pv, x)
	}
	for i := range dyv {
		dyv[i] = rng.NormFloat64()
		if c%5 == 4 {
			dyv[i] = 0.75 // constant: dy − ⟨p, dy⟩ cancels
		}
	}
	if n > 0 {
		switch c % 5 {
		case 1:
			dyv[rng.IntN(n)] = math.Inf(1)
		case 2:
			dyv[rng.IntN(n)] = math.NaN()
		case 3: // products near the float64 range's end, one overflowing
			dyv[rng.IntN(n)] = 1e308
			pv[rng.IntN(n)] = 1e300
		}
	}
	p, free := vec64(pv, placementFor(c))
	defer free()
	dy, free2 := vec64(dyv, placementFor(c+1))
	defer free2()
	where := fmt.Sprintf("set %s, n=%d, case %d (%v)", k.name, n, c, placementFor(c))

	gs, gc := k.dot(p, dy)
	ws, wc := dotDD(p, dy)
	abs := 0.0
	for i := range p {
		abs += math.Abs(p[i] * dy[i])
	}
	special := math.IsInf(ws, 0) || ws != ws || wc != wc || math.IsInf(abs, 0)
	switch {
	case special:
		if g, w := gs+gc, ws+wc; (g != g) != (w != w) && !(math.IsInf(ws, 0) && math.IsInf(gs, 0)) {
			t.Fatalf("dot, %s: %v + %v, want %v + %v", where, gs, gc, ws, wc)
		}
	case math.Abs((gs-ws)+(gc-wc)) > 0x1p-100*abs:
		t.Fatalf("dot, %s: %v + %v, want %v + %v (Σ|p·dy| %v)", where, gs, gc, ws, wc, abs)
	}

	// sum (Σdy): s + c rounded, so generic's within 2^-52 of itself and
	// 2^-100 of Σ|dy|; NaN and ±Inf where generic's are.
	gsum, wsum := k.sum(dy), sumGeneric(dy)
	absy := 0.0
	for _, v := range dy {
		absy += math.Abs(v)
	}
	if (gsum != gsum) != (wsum != wsum) || (math.IsInf(gsum, 0) || math.IsInf(wsum, 0)) && gsum != wsum ||
		wsum == wsum && !math.IsInf(wsum, 0) && math.Abs(gsum-wsum) > 0x1p-52*math.Abs(wsum)+0x1p-100*absy {
		t.Fatalf("sum, %s: %v, want %v", where, gsum, wsum)
	}

	expMulSub64Case(t, k, n, c, dy, where)
	softGrad64Case(t, k, n, c, where)

	want, got := make([]float64, n), make([]float64, n)
	mulSub64(want, p, dy, ws, wc)
	k.mulSub(got, p, dy, ws, wc)
	inP := append([]float64(nil), p...)
	k.mulSub(inP, inP, dy, ws, wc)
	inY := append([]float64(nil), dy...)
	k.mulSub(inY, p, inY, ws, wc)
	for i := range want {
		w := math.Float64bits(want[i])
		for _, g := range []float64{got[i], inP[i], inY[i]} {
			if math.Float64bits(g) != w && !(g != g && want[i] != want[i]) {
				t.Fatalf("mulSub, %s: p=%v dy=%v: %v (in place: %v, %v), want %v", where, p[i], dy[i], got[i], inP[i], inY[i], want[i])
			}
		}
	}
}

// row64 builds case c's row: normal logits of a spread that varies with c,
// and, by c, special values at random places.
func row64(n, c int) []float64 {
	rng := newRand(uint64(c))
	spread := []float64{0.01, 1, 30, 300}[c%4]
	x := make([]float64, n)
	for i := range x {
		x[i] = rng.NormFloat64()*spread + 5
	}
	if n == 0 {
		return x
	}
	put := func(v float64) { x[rng.IntN(n)] = v }
	switch c % 7 {
	case 1:
		put(math.Inf(-1))
		put(math.Inf(-1))
	case 2:
		put(math.NaN())
	case 3: // terms whose exp is subnormal, at and below exp's underflow
		m := maxGeneric(x)
		for _, d := range []float64{-708.3, -708.4, -720, -745.1, -745.2, -800} {
			put(m + d)
		}
	case 4: // ties at the max
		m := maxGeneric(x)
		put(m)
		put(m)
	case 5: // every element −Inf but one
		for i := range x {
			x[i] = math.Inf(-1)
		}
		put(-3)
	}
	return x
}

func kernels64Case(t *testing.T, k *kernels[float64], n, c int) {
	t.Helper()
	x, free := vec64(row64(n, c), placementFor(c))
	defer free()
	dst, free2 := alloc[float64](n, placementFor(c+1))
	defer free2()
	where := fmt.Sprintf("set %s, n=%d, case %d (%v)", k.name, n, c, placementFor(c))
	hasNaN := false
	for _, v := range x {
		hasNaN = hasNaN || v != v
	}

	hi, lo := k.maxMin(x)
	ghi, glo := maxMin64(x)
	if !hasNaN && (hi != ghi || lo != glo) {
		t.Fatalf("maxMin, %s: (%v, %v), want (%v, %v)", where, hi, lo, ghi, glo)
	}
	if m := k.max(x); !hasNaN && m != ghi {
		t.Fatalf("max, %s: %v, want %v", where, m, ghi)
	}
	if math.IsInf(ghi, 0) {
		return // no finite max: the composition never calls the exp pass
	}

	want := make([]float64, n)
	ws, _ := expSumTotal64(want, x, ghi, glo)
	s, mu := k.expSumTotal(dst, x, ghi, glo)
	if mu != 0 || (s != s) != (ws != ws) || math.Abs(s-ws) > 0x1p-52*ws {
		t.Fatalf("expSumTotal, %s: total %v (mu %v), want %v", where, s, mu, ws)
	}
	for i := range want {
		if e := ulp.Err64(dst[i], want[i]); e > 1 || (want[i] != want[i]) != (dst[i] != dst[i]) {
			t.Fatalf("expSumTotal, %s: e[%d] = %v, want %v (x − m = %v)", where, i, dst[i], want[i], x[i]-ghi)
		}
	}
	// In place gives the same.
	in := append([]float64(nil), x...)
	if s2, _ := k.expSumTotal(in, in, ghi, glo); s2 != s && s == s {
		t.Fatalf("expSumTotal in place, %s: total %v, want %v", where, s2, s)
	}
	for i := range in {
		if math.Float64bits(in[i]) != math.Float64bits(dst[i]) {
			t.Fatalf("expSumTotal in place, %s: e[%d] = %v, want %v", where, i, in[i], dst[i])
		}
	}
	// expSum: the split sum. ones must match (no lane of these rows is
	// within rounding of the max but the max's ties), rest to 2^-50 of
	// itself or 2^-60 of the total (the terms scaled below 2^-1022 add
	// tails of their own), the stored e within 1 ULP, and the no-store and
	// in-place forms must give the same.
	wr, wo := expSum64(want, x, ghi)
	gr, gotOnes := k.expSum(dst, x, ghi)
	if (gr != gr) != (wr != wr) || gotOnes != wo || math.Abs(gr-wr) > 0x1p-50*wr+0x1p-60*(wr+wo) {
		t.Fatalf("expSum, %s: (rest %v, ones %v), want (%v, %v)", where, gr, gotOnes, wr, wo)
	}
	for i := range want {
		if e := ulp.Err64(dst[i], want[i]); e > 1 || (want[i] != want[i]) != (dst[i] != dst[i]) {
			t.Fatalf("expSum, %s: e[%d] = %v, want %v (x − m = %v)", where, i, dst[i], want[i], x[i]-ghi)
		}
	}
	nr, no := k.expSum(nil, x, ghi)
	in = append(in[:0], x...)
	ir, io := k.expSum(in, in, ghi)
	if (nr != gr || no != gotOnes || ir != gr || io != gotOnes) && gr == gr {
		t.Fatalf("expSum, %s: no store (%v, %v), in place (%v, %v), want (%v, %v)", where, nr, no, ir, io, gr, gotOnes)
	}
	for i := range in {
		if math.Float64bits(in[i]) != math.Float64bits(dst[i]) {
			t.Fatalf("expSum in place, %s: e[%d] = %v, want %v", where, i, in[i], dst[i])
		}
	}
	// sub: bit for bit generic's, −Inf and NaN lanes included.
	l := math.Log(ws)
	k.sub(in, x, ghi, l)
	sub64(want, x, ghi, l)
	for i := range want {
		if math.Float64bits(in[i]) != math.Float64bits(want[i]) && !(in[i] != in[i] && want[i] != want[i]) {
			t.Fatalf("sub, %s: (%v − %v) − %v = %v, want %v", where, x[i], ghi, l, in[i], want[i])
		}
	}
	if s != s {
		return
	}
	// div: generic divides; the kernel's corrected product must round the
	// same (Markstein's correction), subnormal quotients included.
	k.div(in, dst, s)
	div64(want, dst, s)
	for i := range want {
		if math.Float64bits(in[i]) != math.Float64bits(want[i]) {
			t.Fatalf("div, %s: %v/%v = %v, want %v", where, dst[i], s, in[i], want[i])
		}
	}
}

// TestDiv64 checks the float64 div kernel on random bit patterns, s from
// 2^-1000 to 2^1000 as its wrapper passes them: quotients that overflow,
// underflow, are subnormal or next to it, and ±Inf, NaN, ±0 dividends,
// each as generic's division rounds it.
func TestDiv64(t *testing.T) {
	sets := archSets64()
	if len(sets) == 0 {
		t.Skip("no float64 SIMD set on this CPU")
	}
	rng := newRand(64)
	x := make([]float64, 1000)
	got, want := make([]float64, len(x)), make([]float64, len(x))
	for _, k := range sets {
		for trial := range 2000 {
			for i := range x {
				x[i] = math.Float64frombits(rng.Uint64())
			}
			x[rng.IntN(len(x))] = math.Inf(1)
			x[rng.IntN(len(x))] = 0
			x[rng.IntN(len(x))] = math.Copysign(0, -1)
			x[rng.IntN(len(x))] = 5e-324
			s := math.Ldexp(1+rng.Float64(), rng.IntN(2001)-1000)
			if trial%2 == 0 {
				s = 1 + rng.Float64()*float64(rng.IntN(1<<20))
			}
			k.div(got, x, s)
			div64(want, x, s)
			for i := range want {
				if math.Float64bits(got[i]) != math.Float64bits(want[i]) && !(got[i] != got[i] && want[i] != want[i]) {
					t.Fatalf("set %s: %v/%v = %v, want %v", k.name, x[i], s, got[i], want[i])
				}
			}
		}
	}
}

// expMulSub64Case: expMulSub on logp = LogSoftmax of a row of case c's
// spread, with, by case, −Inf (masked logits), log-probabilities below
// −708.3 (whose exp is subnormal), a positive value and a NaN (which the
// kernels leave to generic's), and Σdy = s normal, tiny, huge or
// infinite. Each output within 2 ULP of generic's plus 2^-55 of the term
// exp(logp)·s (both forms e·s to about 2^-56 before dy − e·s rounds),
// NaN and ±Inf where generic's are; in place on logp and on dy too.
func expMulSub64Case(t *testing.T, k *kernels[float64], n, c int, dy []float64, where string) {
	t.Helper()
	rng := newRand(uint64(c) + 7)
	lp := make([]float64, n)
	if n > 0 {
		logSoftmaxRow(&generic64, lp, row64(n, c%4*7))
		switch c % 6 {
		case 1:
			lp[rng.IntN(n)] = math.Inf(-1)
			lp[rng.IntN(n)] = math.Inf(-1)
		case 2:
			lp[rng.IntN(n)] = -708.3 - 40*rng.Float64()
			lp[rng.IntN(n)] = -708.3 + rng.Float64()
			lp[rng.IntN(n)] = -800
		case 3:
			lp[rng.IntN(n)] = 0.5
		case 4:
			lp[rng.IntN(n)] = math.NaN()
		}
	}
	logp, free := vec64(lp, placementFor(c+2))
	defer free()
	s := []float64{1, 0.37, 1e-300, 1e300, math.Inf(1)}[c%5]
	want, got := make([]float64, n), make([]float64, n)
	expMulSub64(want, logp, dy, s)
	k.expMulSub(got, logp, dy, s)
	inL := append([]float64(nil), logp...)
	k.expMulSub(inL, inL, dy, s)
	inY := append([]float64(nil), dy...)
	k.expMulSub(inY, logp, inY, s)
	for i := range want {
		w := want[i]
		for _, g := range []float64{got[i], inL[i], inY[i]} {
			bad := (g != g) != (w != w) || (math.IsInf(g, 0) || math.IsInf(w, 0)) && g != w
			if !bad && w == w && !math.IsInf(w, 0) {
				term := math.Abs(math.Exp(logp[i]) * s)
				bad = math.Abs(g-w) > 2*ulp.Of64(w)+0x1p-55*term
			}
			if bad {
				t.Fatalf("expMulSub, %s: logp=%v dy=%v s=%v: %v (in place: %v, %v), want %v", where, logp[i], dy[i], s, got[i], inL[i], inY[i], w)
			}
		}
	}
}

// softGrad64Case checks a set's softGrad (where it has its own) on case
// c's row (row64, without NaN: a NaN row never reaches it) against a
// double-double reference from expPair's e + el: (e·sa − y)/scale within
// 2 ULP plus 2^-55 of e·sa/scale, which an e rounded to float64 (2^-53
// of the term) fails where the targets are the probabilities and the
// gradient cancels. Elements with an x − m in [−790, −708.3), and whole
// rows whose sa is not finite, must be generic's bit for bit (the kernels
// leave them to generic, with the rest of their vector, which may be
// either). ±Inf and NaN outputs must be generic's everywhere (a 0 where
// generic's e·sa − y cancels to 0 need not be: e + el says what it
// missed). The loss must be generic's to 2^-52 of itself plus 2^-100 of
// Σ|terms| (the same terms, summed in another order). In place on x gives
// the same bits.
func softGrad64Case(t *testing.T, k *kernels[float64], n, c int, where string) {
	t.Helper()
	if k.softGrad == nil || n == 0 {
		return
	}
	rng := newRand(uint64(c) + 11)
	xv := row64(n, c)
	for i, v := range xv {
		if v != v {
			xv[i] = -1
		}
	}
	m := maxGeneric(xv)
	rest, ones := expSum64(nil, xv, m)
	l := logOf[float64](rest, ones)
	yv := make([]float64, n)
	for i := range yv {
		switch c % 5 {
		case 0, 3: // a distribution
			yv[i] = rng.Float64() * 2 / float64(n)
		case 1: // the probabilities: the gradient cancels
			yv[i] = exp64(xv[i], m) / (ones + rest)
		case 2: // zeros and negative targets
			if rng.IntN(2) == 0 {
				yv[i] = -rng.Float64()
			}
		case 4: // a large Σy
			yv[i] = rng.Float64() * 1e300
		}
	}
	if c%5 == 3 {
		yv[rng.IntN(n)] = math.Inf(1) // sa = +Inf: generic's throughout
	}
	x, free := vec64(xv, placementFor(c))
	defer free()
	y, free2 := vec64(yv, placementFor(c+1))
	defer free2()
	g, free3 := alloc[float64](n, placementFor(c+2))
	defer free3()
	sa := sumGeneric(y) / (ones + rest)
	scale := []float64{1, 3, 1000}[c%3]
	want := make([]float64, n)
	wl := softGradRow(want, x, y, m, l, sa, scale)
	gl := k.softGrad(g, x, y, m, l, sa, scale)
	in := append([]float64(nil), x...)
	il := k.softGrad(in, in, y, m, l, sa, scale)
	where = fmt.Sprintf("softGrad, %s, sa %v, scale %v", where, sa, scale)

	terms := 0.0
	for i := range y {
		if y[i] != 0 {
			terms += math.Abs(y[i] * (l - (x[i] - m)))
		}
	}
	finite := func(v float64) bool { return v == v && !math.IsInf(v, 0) }
	if math.Float64bits(il) != math.Float64bits(gl) && !(il != il && gl != gl) ||
		finite(wl) != finite(gl) || !finite(wl) && (wl == wl) != (gl == gl) ||
		finite(wl) && math.Abs(gl-wl) > 0x1p-52*math.Abs(wl)+0x1p-100*terms {
		t.Fatalf("%s: loss %v (in place %v), want %v", where, gl, il, wl)
	}
	generic := !finite(sa)
	for i := range want {
		gi, wi := g[i], want[i]
		if math.Float64bits(in[i]) != math.Float64bits(gi) && !(gi != gi && in[i] != in[i]) {
			t.Fatalf("%s: in place g[%d] = %v, want %v", where, i, in[i], gi)
		}
		if (gi != gi) != (wi != wi) || (math.IsInf(gi, 0) || math.IsInf(wi, 0)) && gi != wi {
			t.Fatalf("%s: g[%d] = %v, want %v (x − m = %v, y = %v)", where, i, gi, wi, x[i]-m, y[i])
		}
		same := math.Float64bits(gi) == math.Float64bits(wi) || wi != wi
		if d := x[i] - m; generic || d >= tinyLo && d < tinyHi {
			if !same {
				t.Fatalf("%s: g[%d] = %v, want generic's %v (x − m = %v)", where, i, gi, wi, x[i]-m)
			}
			continue
		}
		near := false // a lane of that range in the same 4 (the kernel's vector, or two of NEON's)
		for j := i &^ 3; j < min(i&^3+4, n); j++ {
			d := x[j] - m
			near = near || d >= tinyLo && d < tinyHi
		}
		if near && same {
			continue
		}
		if !finite(wi) {
			continue
		}
		var e dd
		if hi, lo := twoDiff(x[i], m); hi >= tinyHi {
			e.hi, e.lo = expPair(hi, lo)
		}
		ref := ddDivF(ddAdd(ddMul(e, dd{sa, 0}), dd{-y[i], 0}), scale).hi
		if math.Abs(gi-ref) > 2*ulp.Of64(ref)+0x1p-55*math.Abs(e.hi*sa/scale) {
			t.Fatalf("%s: g[%d] = %v, want %v (generic's %v; x − m = %v, y = %v)", where, i, gi, ref, wi, x[i]-m, y[i])
		}
	}
}
