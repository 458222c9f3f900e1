//go:build !purego

package softmax

import (
	"fmt"
	"math"
	"testing"
)

// blockTestSets are the asm sets whose block kernels run here: each set
// this CPU has, and the avx512 set under the interpreter where it lacks
// AVX-512 (not in -short runs).
func blockTestSets() []*asmKernels {
	var sets []*asmKernels
	if hasSet("avx2") {
		sets = append(sets, &avx2Asm)
	}
	if hasSet("avx512") {
		sets = append(sets, &avx512Asm)
	} else if !testing.Short() {
		sets = append(sets, emuAsm(&avx512Asm, "AVX512"))
	}
	return sets
}

// TestBlockKernels checks each block kernel against the same set's
// one-row kernel, row by row, bit for bit: the block kernels run the
// one-row kernels' loops, so SoftmaxRows gives the same bits whichever
// path takes a row. Every width from 1 to 70 and wider ones around the
// unrolled loops' steps, blocks of 0 to blockMax rows, misaligned and
// next to guard pages, with −Inf, NaN and rows past the cutoff.
func TestBlockKernels(t *testing.T) {
	sets := blockTestSets()
	if len(sets) == 0 {
		t.Skip("no AVX2 or AVX-512 on this CPU")
	}
	var widths []int
	for c := 1; c <= 70; c++ {
		widths = append(widths, c)
	}
	widths = append(widths, 127, 128, 129, 255, 256, 257, 300, 511, 512, 1000)
	for _, k := range sets {
		t.Run("impl="+k.name, func(t *testing.T) {
			rng := newRand(43)
			for wi, cols := range widths {
				rows := []int{0, 1, 2, 3, 7, blockMax}[wi%6]
				if testing.Short() && cols > 300 {
					continue
				}
				for trial := range 2 {
					x := place(t, kernelRows(rng, rows, cols), (wi+trial)%16, trial == 0)
					what := func(kernel string, r int) string {
						return fmt.Sprintf("%s cols=%d rows=%d row %d", kernel, cols, rows, r)
					}
					m, lo := k.block.maxMin(x, cols, rows)
					var c, th [blockMax]float32
					cutOK := true
					for r := range rows {
						row := x[r*cols : (r+1)*cols]
						wm, wl := k.maxMin(row)
						if !same32(m[r], wm) || !same32(lo[r], wl) {
							t.Fatalf("%s: %v %v, one-row kernel %v %v", what("maxMinRows", r), m[r], lo[r], wm, wl)
						}
						// The table kernels' rows: any other max gets a
						// bias of 0 here, which they must take too.
						if m[r] < tableMaxAbs && m[r] > -tableMaxAbs {
							c[r], _ = tableBias(m[r], k.tableLen)
						}
						th[r] = expThreshold(m[r])
						cutOK = cutOK && lo[r] >= th[r]
					}
					check := func(kernel string, got []float32, s [blockMax]float64, one func(d, row []float32, r int) float64) {
						t.Helper()
						want := make([]float32, len(x))
						for r := range rows {
							d, row := want[r*cols:(r+1)*cols], x[r*cols:(r+1)*cols]
							w := one(d, row, r)
							if math.Float64bits(s[r]) != math.Float64bits(w) && !(w != w && s[r] != s[r]) {
								t.Fatalf("%s: sum %v, one-row kernel %v", what(kernel, r), s[r], w)
							}
							for i := range row {
								if !same32(got[r*cols+i], d[i]) {
									t.Fatalf("%s [%d] (x %v): %v, one-row kernel %v", what(kernel, r), i, row[i], got[r*cols+i], d[i])
								}
							}
						}
					}
					dst := place(t, make([]float32, len(x)), (wi+trial+3)%16, trial == 1)
					for i := range dst {
						dst[i] = 7 // every element must be written
					}
					s := k.block.total(dst, x, cols, rows, c, th, 64)
					check("expSumTotalRows", dst, s, func(d, row []float32, r int) float64 { return k.total(d, row, c[r], th[r], 0) })
					if cutOK {
						s = k.block.totalNoCut(dst, x, cols, rows, c, 0)
						check("expSumTotalNoCutRows", dst, s, func(d, row []float32, r int) float64 { return k.totalNoCut(d, row, c[r], 0) })
					}
					var mm [blockMax]float32
					copy(mm[:], m[:])
					// (The no-store kernel's "output" is x itself.)
					ones := func(kernel string, got []float32, rest [blockMax]float64, ones [blockMax]int32, one func(d, row []float32, r int) (float64, int)) {
						t.Helper()
						var s [blockMax]float64
						copy(s[:], rest[:])
						check(kernel, got, s, func(d, row []float32, r int) float64 {
							w, o := one(d, row, r)
							if int(ones[r]) != o {
								t.Fatalf("%s: ones %d, one-row kernel %d", what(kernel, r), ones[r], o)
							}
							if &got[0] == &x[0] {
								copy(d, row) // nothing stored: x compared with itself
							}
							return w
						})
					}
					rest, cnt := k.block.onesCut(dst, x, cols, rows, c, mm)
					ones("expSumOnesRows", dst, rest, cnt, func(d, row []float32, r int) (float64, int) { return k.ones(d, row, c[r], th[r], mm[r]) })
					rest, cnt = k.block.onesCutNS(x, cols, rows, c, mm)
					ones("expSumOnesNoStoreRows", x, rest, cnt, func(d, row []float32, r int) (float64, int) { return k.onesNS(row, c[r], th[r], mm[r]) })
					if cutOK {
						rest, cnt := k.block.ones(dst, x, cols, rows, c, mm)
						ones("expSumOnesNoCutRows", dst, rest, cnt, func(d, row []float32, r int) (float64, int) { return k.onesNoCut(d, row, c[r], mm[r]) })
						rest, cnt = k.block.onesNS(x, cols, rows, c, mm)
						ones("expSumOnesNoCutNoStoreRows", x, rest, cnt, func(d, row []float32, r int) (float64, int) { return k.onesNCNS(row, c[r], mm[r]) })
						s = k.block.totalNoCut(dst, x, cols, rows, c, 0) // for divRows below
					}
					var l [blockMax]float64
					for r := range rows {
						l[r] = 0.75*float64(r) + 0x1p-30
					}
					sub := place(t, make([]float32, len(x)), (wi+trial+7)%16, trial == 0)
					k.block.sub(sub, x, cols, rows, mm, l)
					check("subRows", sub, s, func(d, row []float32, r int) float64 {
						k.sub(d, row, mm[r], l[r])
						return s[r]
					})
					// The backward passes, with the rows as p (or logp)
					// and dst's e as dy.
					for _, log := range []bool{false, true} {
						dx := place(t, make([]float32, len(x)), (wi+trial+11)%16, trial == 1)
						kernel, bwd := "softmaxBackwardRows", k.block.bwd
						if log {
							kernel, bwd = "logSoftmaxBackwardRows", k.block.lbwd
						}
						bwd(dx, x, dst, cols, rows)
						check(kernel, dx, s, func(d, row []float32, r int) float64 {
							dy := dst[r*cols : (r+1)*cols]
							if log {
								k.expMulSub(d, row, dy, k.sum(dy))
							} else {
								sd, cd := k.dot(row, dy)
								k.mulSub(d, row, dy, sd, cd)
							}
							return s[r]
						})
					}
					var hi, rl [blockMax]float32
					for r := range rows {
						hi[r], rl[r] = 0x1.234568p-7*float32(r+1), -0x1.8p-33*float32(r+1)
					}
					in := append([]float32(nil), dst...)
					k.block.div(dst, cols, rows, hi, rl)
					check("divRows", dst, s, func(d, row []float32, r int) float64 {
						k.div(d, in[r*cols:(r+1)*cols], hi[r], rl[r], 0)
						return s[r]
					})
				}
			}
		})
	}
}

// TestBlockThreshold: the block kernels with the cutoff compute each
// row's threshold themselves (asm/amd64/rows.go's threshold); they must
// cut exactly the elements expThreshold(m) cuts. Rows of m, then t, the
// float32 below t and −Inf, for maxima across the table kernels' range,
// near ±87.34 (where t changes sign) and at the float32s next to them:
// the sum (of the e at t, next to 2^-126) and the stored e show any
// difference, against the one-row kernels given expThreshold(m).
func TestBlockThreshold(t *testing.T) {
	sets := blockTestSets()
	if len(sets) == 0 {
		t.Skip("no AVX2 or AVX-512 on this CPU")
	}
	rng := newRand(47)
	var ms []float32
	for _, v := range []float32{0, 1, -1, 87.33654, -87.33654, 87.3366, 87.3365, 100, -100, 175.99, -175.99, 0x1p-20} {
		ms = append(ms, v, math.Nextafter32(v, 200), math.Nextafter32(v, -200))
	}
	for range 200 {
		ms = append(ms, float32(rng.Float64()*350-175))
	}
	const cols = 4
	for _, k := range sets {
		for i := 0; i < len(ms); i += blockMax {
			rows := min(blockMax, len(ms)-i)
			x := make([]float32, rows*cols)
			var c, m [blockMax]float32
			var th [blockMax]float32
			for r := range rows {
				mr := ms[i+r]
				th[r] = expThreshold(mr)
				m[r] = mr
				c[r], _ = tableBias(mr, k.tableLen)
				copy(x[r*cols:], []float32{th[r], mr, math.Nextafter32(th[r], float32(math.Inf(-1))), float32(math.Inf(-1))})
			}
			dst := make([]float32, len(x))
			rest, ones := k.block.onesCut(dst, x, cols, rows, c, m)
			restNS, onesNS := k.block.onesCutNS(x, cols, rows, c, m)
			for r := range rows {
				row := x[r*cols : (r+1)*cols]
				d := make([]float32, cols)
				w, o := k.ones(d, row, c[r], th[r], m[r])
				wNS, oNS := k.onesNS(row, c[r], th[r], m[r])
				if math.Float64bits(rest[r]) != math.Float64bits(w) || int(ones[r]) != o ||
					math.Float64bits(restNS[r]) != math.Float64bits(wNS) || int(onesNS[r]) != oNS {
					t.Fatalf("%s m=%v (t=%v): rows kernels %v, %d and %v, %d; one-row kernels %v, %d and %v, %d",
						k.name, m[r], th[r], rest[r], ones[r], restNS[r], onesNS[r], w, o, wNS, oNS)
				}
				for j := range d {
					if !same32(dst[r*cols+j], d[j]) {
						t.Fatalf("%s m=%v (t=%v): e[%d] = %v, one-row kernel %v", k.name, m[r], th[r], j, dst[r*cols+j], d[j])
					}
				}
				if w == 0 {
					t.Fatalf("%s m=%v: the e at t is 0: the row does not test the threshold", k.name, m[r])
				}
			}
		}
	}
}
