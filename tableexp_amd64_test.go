//go:build !purego

package softmax

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/gosimd/softmax/internal/avxemu"
)

// A model of the table kernels' exp (asm/amd64/exptotal.go), operation by
// operation in float32 with exactly rounded FMAs. It runs for both table
// sizes on any CPU: the model for L = 8 must match the avx2 kernel bit for
// bit, which ties the model to the generated code; the model for L = 16
// then checks the avx512 set's numerics on machines without AVX-512 (the
// kernel itself runs in the other tests where the CPU has it).

// fma32 is a·b + c rounded once to float32.
var fma32 = avxemu.FMA32

// tableModel holds one table size's constants, as the generator emits them.
type tableModel struct {
	l     int
	table []uint32
	tau   []float32 // 2^(j/l)/fl(2^(j/l)) − 1
	poly  []float32 // c2, c3, ...
}

func newTableModel(l int) *tableModel {
	m := &tableModel{l: l}
	s := 23 - bitsLen(l)
	for j := 0; j < l; j++ {
		x := math.Exp2(float64(j) / float64(l))
		m.table = append(m.table, math.Float32bits(float32(x))-uint32(j)<<s)
		m.tau = append(m.tau, float32(x/float64(float32(x))-1))
	}
	switch l {
	case 16:
		m.poly = []float32{0x1.00014ep-1, 0x1.555662p-3}
	case 8:
		m.poly = []float32{0x1p-1, 0x1.555b9cp-3, 0x1.555984p-5}
	}
	return m
}

func bitsLen(l int) int { return int(math.Log2(float64(l))) }

// exp is the kernel's e for one x, before the cutoff.
func (m *tableModel) exp(x, c float32) float32 {
	const (
		log2e = float32(math.Log2E)
		ln2hi = float32(0x1.63p-1)
		ln2lo = float32(-0x1.bd0106p-13)
	)
	v := fma32(x, log2e, c)
	n := v - c
	r := fma32(-n, ln2hi, x)
	r = fma32(-n, ln2lo, r)
	r2 := r * r
	q := fma32(m.poly[1], r, m.poly[0])
	if len(m.poly) == 3 {
		q = fma32(r2, m.poly[2], q)
	}
	vb := math.Float32bits(v)
	q = fma32(q, r2, r+m.tau[vb&uint32(m.l-1)])
	tb := m.table[vb&uint32(m.l-1)] + vb<<(23-bitsLen(m.l))
	t := math.Float32frombits(tb)
	return fma32(t, q, t)
}

// modelRows are rows that exercise the table exp: every spread up to the
// cutoff, maxima across the table kernels' range, values next to the
// cutoff and to the max.
func modelRows(rng *rand.Rand) [][]float32 {
	var rows [][]float32
	for _, m := range []float32{0, 1, -1, 3.7, -5.25, 50, -50, 127.9, -127.9, 175.99, -175.99, 1e-3, -1e-30} {
		x := []float32{m}
		for range 400 {
			x = append(x, m-float32(rng.Float64()*87.4))
		}
		up, down := expThreshold(m), m
		for range 8 {
			x = append(x, up, down) // at and above t, at and below m
			up = math.Nextafter32(up, float32(math.Inf(1)))
			down = math.Nextafter32(down, float32(math.Inf(-1)))
		}
		rows = append(rows, x)
	}
	return rows
}

func TestTableModelMatchesAVX2(t *testing.T) {
	if !hasSet("avx2") {
		t.Skip("no AVX2 on this CPU")
	}
	model := newTableModel(8)
	rng := rand.New(rand.NewPCG(7, 8))
	for _, x := range modelRows(rng) {
		m := maxGeneric(x)
		c, _ := tableBias(m, 8)
		got := make([]float32, len(x))
		expSumTotalAVX2(got, x, c, expThreshold(m), 64)
		for i, xi := range x {
			if xi < expThreshold(m) {
				continue
			}
			if want := model.exp(xi, c); math.Float32bits(got[i]) != math.Float32bits(want) {
				t.Fatalf("m=%v x=%v: avx2 kernel %v (%#x), model %v (%#x)", m, xi, got[i], math.Float32bits(got[i]), want, math.Float32bits(want))
			}
		}
	}
}

// TestTableModelAccuracy checks the model of both table sizes against
// exp(x − m + mu): within 1.5 ULP wherever the kernels do not cut off.
func TestTableModelAccuracy(t *testing.T) {
	for _, l := range []int{8, 16} {
		model := newTableModel(l)
		rng := rand.New(rand.NewPCG(9, uint64(l)))
		worst := 0.0
		for _, x := range modelRows(rng) {
			m := maxGeneric(x)
			c, mu := tableBias(m, float64(l))
			if !(mu >= 0 && mu <= math.Ln2/float64(l)) {
				t.Fatalf("L=%d m=%v: mu = %v", l, m, mu)
			}
			for _, xi := range x {
				if xi < expThreshold(m) {
					continue
				}
				want := math.Exp(float64(xi) - float64(m) + mu)
				got := model.exp(xi, c)
				if got < 0x1p-126 {
					t.Fatalf("L=%d m=%v x=%v: e = %v below 2^-126", l, m, xi, got)
				}
				e := errULP(got, want)
				worst = math.Max(worst, e)
				if e > 1.5 {
					t.Fatalf("L=%d m=%v x=%v: e = %v, want %v: %.2f ULP", l, m, xi, got, want, e)
				}
			}
		}
		t.Logf("L=%d: worst %.3f ULP", l, worst)
	}
}

// hasSet reports whether this CPU runs the set natively.
func hasSet(name string) bool {
	for _, k := range archSets32() {
		if k.name == name {
			return true
		}
	}
	return false
}

// TestExpMu checks expMu against exp(mu) summed in 200-bit arithmetic, on
// tableBias's range [0, ln2/8) and a little past both ends (mu's own
// rounding), within 2 float64 ULP.
func TestExpMu(t *testing.T) {
	hi := math.Ln2 / 8
	rng := rand.New(rand.NewPCG(1, 2))
	mus := []float64{0, 0x1p-60, -0x1p-40, hi, math.Nextafter(hi, 0), hi + 0x1p-40}
	for range 2000 {
		mus = append(mus, rng.Float64()*hi)
	}
	for _, k := range []float64{8, 16} { // each set's mu from real maxima
		for range 500 {
			_, mu := tableBias(float32(rng.Float64()*350-175), k)
			mus = append(mus, mu)
		}
	}
	worst := 0.0
	for _, mu := range mus {
		want := expBig(mu)
		got := expMu(mu)
		u := math.Abs(got-want) / (math.Nextafter(want, math.Inf(1)) - want)
		worst = max(worst, u)
		if u > 2 {
			t.Errorf("expMu(%v) = %v, want %v (%.2f ULP)", mu, got, want, u)
		}
	}
	t.Logf("worst %.2f ULP over %d points", worst, len(mus))
}

// expBig is exp(x) for small |x|, its Taylor series in 200-bit floats,
// rounded to float64.
func expBig(x float64) float64 {
	const prec = 200
	bx := new(big.Float).SetPrec(prec).SetFloat64(x)
	sum := new(big.Float).SetPrec(prec).SetInt64(1)
	term := new(big.Float).SetPrec(prec).SetInt64(1)
	for k := int64(1); k < 40; k++ {
		term.Mul(term, bx)
		term.Quo(term, new(big.Float).SetPrec(prec).SetInt64(k))
		sum.Add(sum, term)
	}
	v, _ := sum.Float64()
	return v
}
