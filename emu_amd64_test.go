//go:build !purego

package softmax

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"sync"
	"testing"

	"github.com/gosimd/softmax/internal/avxemu"
	"github.com/gosimd/softmax/internal/ref"
	"github.com/gosimd/softmax/internal/ulp"
)

// The AVX-512 table, small-row and div kernels under internal/avxemu, an
// interpreter of the generated assembly, against exact models of what
// they compute (the Go model of tableexp_amd64_test.go, big.Float): on any
// machine, with the kernels' own bits. emuset_amd64_test.go runs the whole
// set under it, and checks the interpreter against the hardware.

var emuProg = sync.OnceValues(func() (*avxemu.Program, error) {
	src, err := os.ReadFile("softmax_amd64.s")
	if err != nil {
		return nil, err
	}
	return avxemu.Parse(string(src))
})

// emuMachine is a fresh interpreter of the generated kernels.
func emuMachine(t *testing.T) *avxemu.Machine {
	t.Helper()
	p, err := emuProg()
	if err != nil {
		t.Fatal(err)
	}
	return avxemu.NewMachine(p)
}

// f32bytes is x's little-endian bytes, or as many copies of *fill.
func f32bytes(x []float32, fill *float32) []byte {
	b := make([]byte, 4*len(x))
	for i, v := range x {
		if fill != nil {
			v = *fill
		}
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

// emuTotal runs expSumTotal<suffix> (or its NoCut variant when nocut)
// under the interpreter on x, with x starting off bytes past a 64-byte
// boundary and dst 4·off2 bytes past one (in place when inplace), every
// slice in a region of its own size so that any access outside faults.
func emuTotal(t *testing.T, suffix string, x []float32, c, th float32, nocut, inplace bool, off int) ([]float32, float64) {
	t.Helper()
	m := emuMachine(t)
	xr := m.MapAt(f32bytes(x, nil), 4*(off%16))
	dr := xr
	if !inplace {
		poison := math.Float32frombits(0x7f7f7f7f) // every element must be written
		dr = m.MapAt(f32bytes(x, &poison), 4*((off+5)%16))
	}
	args := sliceArgs(72, dr, xr, len(x))
	binary.LittleEndian.PutUint32(args[48:], math.Float32bits(c))
	binary.LittleEndian.PutUint64(args[56:], 1<<40) // pf: far outside every region, as prefetches never fault
	name := "expSumTotal" + suffix
	if nocut {
		name = "expSumTotalNoCut" + suffix
	} else {
		binary.LittleEndian.PutUint32(args[52:], math.Float32bits(th))
	}
	out, err := m.Call(name, args)
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float32, len(x))
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(dr.Data[4*i:]))
	}
	return dst, math.Float64frombits(binary.LittleEndian.Uint64(out[64:]))
}

// sliceArgs is an argument frame of size bytes that starts with the
// slices dst and x (n elements each, as ABI0 lays out two slices).
func sliceArgs(size int, dst, x *avxemu.Region, n int) []byte {
	args := make([]byte, size)
	for i, v := range []uint64{dst.Addr, uint64(n), uint64(n), x.Addr, uint64(n), uint64(n)} {
		binary.LittleEndian.PutUint64(args[8*i:], v)
	}
	return args
}

// emuRows are the rows the interpreter runs: every length 0..64 and a few
// longer ones (the interpreter is slow), several spreads and maxima, with
// the special values of the cutoff path.
func emuRows(short bool) [][]float32 {
	rng := rand.New(rand.NewPCG(21, 22))
	var lens []int
	for n := 0; n <= 64; n++ {
		lens = append(lens, n)
	}
	lens = append(lens, 95, 127, 128, 129, 255, 300)
	if !short {
		lens = append(lens, 1000, 4099, 1<<20) // 2^20: the sum's folds
	}
	var rows [][]float32
	for i, n := range lens {
		mean := []float64{0, 3.5, -40, 120, -170}[i%5]
		sigma := []float64{4, 0.1, 30, 1}[i%4]
		x := logits32(rng, n, sigma, mean)
		if n > 3 && i%3 == 0 {
			x[rng.IntN(n)] = float32(math.Inf(-1))
		}
		if n > 5 && i%7 == 0 {
			x[rng.IntN(n)] = float32(math.NaN())
		}
		rows = append(rows, x)
	}
	return rows
}

// emuCase gives the kernel arguments of a row as the Go wrappers do, and
// whether the row takes the table kernels at all.
func emuCase(x []float32, l float64) (c, th float32, mu float64, nocut, ok bool) {
	m, lo := maxMinGo(x)
	if !(m < tableMaxAbs && m > -tableMaxAbs) {
		return 0, 0, 0, false, false
	}
	c, mu = tableBias(m, l)
	th = expThreshold(m)
	return c, th, mu, lo >= th, true
}

// maxMinGo is maxMin without NaNs, as the kernels' callers see it.
func maxMinGo(x []float32) (float32, float32) {
	mx, mn := float32(math.Inf(-1)), float32(math.Inf(1))
	for _, v := range x {
		mx, mn = max(mx, v), min(mn, v)
	}
	return mx, mn
}

// TestEmuAVX512 checks the avx512 table kernels: every e against the
// model, bit for bit (0 below the cutoff, NaN for NaN), the sum against
// the exact sum of the e, and the Softmax they make (e/Σe, rounded once)
// against the reference within the 4 ULP bar.
func TestEmuAVX512(t *testing.T) {
	model := newTableModel(16)
	worst := 0.0
	for i, x := range emuRows(testing.Short()) {
		c, th, mu, nocut, ok := emuCase(x, 16)
		if !ok {
			continue
		}
		hasNaN := false
		for _, v := range x {
			hasNaN = hasNaN || v != v
		}
		for _, cut := range []bool{true, false} {
			if !cut && !nocut {
				continue
			}
			what := fmt.Sprintf("n=%d cut=%v row %d", len(x), cut, i)
			got, s := emuTotal(t, "AVX512", x, c, th, !cut, i%4 == 1, i)
			exact := 0.0
			for j, v := range x {
				var want float32
				switch {
				case v != v:
					want = v
				case v < th:
					want = 0
				default:
					want = model.exp(v, c)
				}
				if math.Float32bits(got[j]) != math.Float32bits(want) && !(got[j] != got[j] && want != want) {
					t.Fatalf("%s: e[%d] = %v, model %v (x=%v)", what, j, got[j], want, v)
				}
				exact += float64(got[j])
			}
			if hasNaN {
				if s == s {
					t.Fatalf("%s: sum %v with a NaN in x", what, s)
				}
				continue
			}
			if exact == 0 {
				if s != 0 {
					t.Fatalf("%s: sum %v, want 0", what, s)
				}
				continue
			}
			if r := math.Abs(s-exact) / exact; r > 0x1p-23 {
				t.Fatalf("%s: sum %v, exact sum of the e %v (rel %.3g)", what, s, exact, r)
			}
			// Softmax from these e, against the reference.
			xs := make([]float64, len(x))
			for j, v := range x {
				xs[j] = float64(v)
			}
			wantP := ref.Softmax(xs, ref.Fast)
			for j := range x {
				p := float32(float64(got[j]) / s)
				e := ulp.Err32(p, wantP[j])
				worst = math.Max(worst, e)
				if e > 4 {
					t.Fatalf("%s: softmax[%d] = %v, want %v: %.2f ULP (mu %v)", what, j, p, wantP[j], e, mu)
				}
			}
		}
	}
	t.Logf("avx512 table kernels under the interpreter: Softmax worst %.3f ULP", worst)
}

// emuSmall runs softmaxSmall<suffix> under the interpreter on rows rows of
// x (cols columns each, x possibly longer) and returns what it stored
// (elements it did not write keep 12345) and the rows it reports done.
func emuSmall(t *testing.T, suffix string, x []float32, cols, rows int) ([]float32, int) {
	t.Helper()
	m := emuMachine(t)
	fill := float32(12345)
	xr, dr := m.MapAt(f32bytes(x, nil), 4*(cols%16)), m.MapAt(f32bytes(x, &fill), 4*(rows%16))
	args := sliceArgs(72, dr, xr, len(x))
	binary.LittleEndian.PutUint64(args[48:], uint64(cols))
	binary.LittleEndian.PutUint64(args[56:], uint64(rows))
	out, err := m.Call("softmaxSmall"+suffix, args)
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float32, len(x))
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(dr.Data[4*i:]))
	}
	return dst, int(binary.LittleEndian.Uint64(out[64:]))
}

// smallBatch is rows rows of cols columns, mostly regular, with the kinds
// of row softmaxSmall must stop at, plus 16 elements of padding (the AVX2
// kernel's window).
func smallBatch(rng *rand.Rand, cols, rows int) []float32 {
	x := make([]float32, rows*cols+16)
	for r := range rows {
		row := x[r*cols : (r+1)*cols]
		copy(row, logits32(rng, cols, []float64{0.1, 1, 4, 30}[rng.IntN(4)], rng.Float64()*100-50))
		switch j := rng.IntN(cols); rng.IntN(30) {
		case 0:
			row[j] = float32(math.NaN())
		case 1:
			row[j] = float32(math.Inf(-1))
		case 2:
			row[j] = 130
		case 3:
			row[j] = maxGeneric(row) - 87.34
		case 4:
			row[0] = maxGeneric(row) - 87.24 // the first element far below the max (the bias's source)
		case 5:
			m := maxGeneric(row)
			row[0], row[j] = m, m-87.24
		}
	}
	return x
}

// TestEmuSmall runs the small-row kernels under the interpreter: AVX2
// against the hardware bit for bit, AVX-512 against the same rows' exact
// softmax (4 ULP), stopping where AVX2 stops, writing nothing past.
func TestEmuSmall(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	worst := 0.0
	for cols := 1; cols <= 16; cols++ {
		for _, rows := range []int{1, 2, 7, 30} {
			x := smallBatch(rng, cols, rows)
			d2, n2 := emuSmall(t, "AVX2", x, cols, rows)
			if hasSet("avx2") {
				hw := make([]float32, len(x))
				for i := range hw {
					hw[i] = 12345
				}
				if n := softmaxSmallAVX2(hw, x, cols, rows); n != n2 {
					t.Fatalf("cols=%d rows=%d: avx2 did %d rows, interpreted %d", cols, rows, n, n2)
				}
				for i := range hw {
					if math.Float32bits(hw[i]) != math.Float32bits(d2[i]) {
						t.Fatalf("cols=%d rows=%d: [%d] avx2 %v, interpreted %v", cols, rows, i, hw[i], d2[i])
					}
				}
			}
			d5, n5 := emuSmall(t, "AVX512", x, cols, rows)
			if n5 != n2 {
				t.Fatalf("cols=%d rows=%d: avx512 did %d rows, avx2 %d", cols, rows, n5, n2)
			}
			for i := n5 * cols; i < len(x); i++ {
				if d5[i] != 12345 {
					t.Fatalf("cols=%d rows=%d: did %d rows but wrote element %d", cols, rows, n5, i)
				}
			}
			for r := range n5 {
				xs := make([]float64, cols)
				for j := range xs {
					xs[j] = float64(x[r*cols+j])
				}
				want := ref.Softmax(xs, ref.Fast)
				for j, w := range want {
					e := errULP(d5[r*cols+j], w)
					worst = math.Max(worst, e)
					if e > 4 {
						t.Fatalf("cols=%d rows=%d row %d: [%d] = %v, want %v (%.2f ULP)", cols, rows, r, j, d5[r*cols+j], w, e)
					}
				}
			}
		}
	}
	t.Logf("avx512 small-row kernel under the interpreter: worst %.3f ULP", worst)
}

// TestEmuDiv runs divAVX512 under the interpreter (every length 0..64 and a
// few longer, in place and not, with and without prefetches, next to the
// ends of its regions) against its contract, x·rhi + fl(x·rlo) rounded
// once, computed exactly here.
func TestEmuDiv(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	var lens []int
	for n := 0; n <= 64; n++ {
		lens = append(lens, n)
	}
	lens = append(lens, 127, 128, 129, 300, 1000)
	for i, n := range lens {
		x := logits32(rng, n, 1, 0)
		for j := range x {
			x[j] = float32(math.Abs(float64(x[j])))
		}
		hi, lo, _ := recip(1 + 37*rng.Float64())
		m := emuMachine(t)
		xr := m.MapAt(f32bytes(x, nil), 4*(i%16))
		dr, inplace := xr, i%3 == 0
		if !inplace {
			poison := math.Float32frombits(0x7f7f7f7f) // every element must be written
			dr = m.MapAt(f32bytes(x, &poison), 4*((i+7)%16))
		}
		args := sliceArgs(64, dr, xr, n)
		binary.LittleEndian.PutUint32(args[48:], math.Float32bits(hi))
		binary.LittleEndian.PutUint32(args[52:], math.Float32bits(lo))
		if i%2 == 1 {
			binary.LittleEndian.PutUint64(args[56:], 1<<40) // pf: outside every region
		} // else pf = 0: the loop without prefetches
		if _, err := m.Call("divAVX512", args); err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		for j, v := range x {
			p := big.NewFloat(float64(v * lo)).SetPrec(128) // fl(x·rlo)
			p.Add(p, new(big.Float).SetPrec(128).Mul(big.NewFloat(float64(v)), big.NewFloat(float64(hi))))
			want, _ := p.Float32()
			got := math.Float32frombits(binary.LittleEndian.Uint32(dr.Data[4*j:]))
			if math.Float32bits(got) != math.Float32bits(want) {
				t.Fatalf("n=%d in place=%v: [%d] = %v, want %v", n, inplace, j, got, want)
			}
		}
	}
}
