package main

import (
	"math"

	"github.com/mmcloughlin/avo/gotypes"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// LogSoftmax and cross-entropy of rows of at most 16 columns, row after row
// in one call as softmaxSmall does (same window, same "regular row" rule:
// a row it leaves is unwritten and ends the call). Each row is held in
// float64 lanes: d = x − m is then exact for every pair of float32s that
// matter (rounded at 2^-53 otherwise), exp64 is accurate to float64's
// precision, and log(Σ e) comes from log64 below, so the only float32
// rounding is the store's. The general path's three kernel calls and
// math.Log1p per row cost several times the row's arithmetic.
//
// The rows go in batches (smallBatches): the first phase of each row (max,
// exp, sums; the gradients, which need no log) row after row, then the
// log of each row and what needs it (LogSoftmax's store, the losses).
// A row at a time would wait on each log's latency (about a third of the
// row's time on Zen 3); a batch's logs are independent work.

// smallRow is one row in registers: its max md (float64, low lane),
// exp(x − m) in float64 lanes when kept (0 in the lanes past the row), and
// the sum split as expSum's contract splits it: ones counts the x − m that
// are 0, rest adds the other e.
type smallRow struct {
	md         VecVirtual // XMM
	mv         VecVirtual // md in every lane
	e          []VecVirtual
	ones, rest VecVirtual // XMM
}

// smallStats loads the row at x and computes its smallRow, calling each
// (when not nil) with every float64 vector's x − m and exp; it keeps the
// exps when keep says so (the vectors of x − m are not kept: with them and
// the exps live, AVX2 runs out of registers). It jumps to bail when the
// row is not regular: a max that is NaN or ±Inf (special rows, which the
// general path fills), or a NaN sum (a NaN past the max), or a sum of
// the e other than the ones below 2^-76 (see withTail). The exp's
// polynomial has degree deg: 8 is within 2^-37 of exp, far below a
// float32 rounding; soft targets' p·Σy − y cancels and needs 11 (float64's
// precision).
func (a *arch) smallStats(x GPVirtual, ln smallLanes, bail string, keep bool, deg int, each func(i int, d, e VecVirtual)) *smallRow {
	xs := a.smallLoad(x, ln)
	hi := xs[0]
	if len(xs) > 1 {
		hi = a.vec()
		VMAXPS(xs[1], xs[0], hi)
	}
	m := a.reduceLanes(VMAXPS, hi)
	r := &smallRow{md: XMM(), mv: a.vec()}
	VCVTSS2SD(m, m, r.md)
	ok, c := XMM(), XMM()
	VCMPSD(U8(0x11), c64("inf64", math.Inf(1)), r.md, ok)    // md < +Inf (ordered)
	VCMPSD(U8(0x1e), c64("neginf64", math.Inf(-1)), r.md, c) // md > −Inf (ordered)
	VANDPD(c, ok, ok)
	okb := GP32()
	VMOVMSKPD(ok, okb)
	TESTL(U32(1), okb)
	JZ(LabelRef(bail))

	VBROADCASTSD(r.md, r.mv)
	zero := c64("zero64", 0)
	one := c64("one64", 1)
	onesv, restv := a.vec(), a.vec()
	a.zero(onesv)
	a.zero(restv)
	for i, v := range xs {
		lo, hi := a.widenReg(v)
		for j, d := range []VecVirtual{lo, hi} {
			VSUBPD(r.mv, d, d)
			// 0 below the cutoff, as generic's exp32.
			e := a.exp64With(d, exp64Opts{lo: c64("cutoff64", cutoff64), degree: deg, negOnly: true, horner: !a.z})
			if a.z {
				kz, kn := K(), K()
				VCMPPD(U8(0x00), zero, d, kz) // d == 0
				VCMPPD(U8(0x04), zero, d, kn) // d != 0 (unordered: NaN too)
				VADDPD(one, onesv, kz, onesv)
				VADDPD(e, restv, kn, restv)
			} else {
				z, t := a.vec(), a.vec()
				VCMPPD(U8(0x00), zero, d, z) // d == 0 (ordered)
				VANDPD(one, z, t)
				VADDPD(t, onesv, onesv)
				VANDNPD(e, z, t) // e where d != 0, NaN included
				VADDPD(t, restv, restv)
			}
			if each != nil {
				each(2*i+j, d, e)
			}
			if keep {
				r.e = append(r.e, e)
			}
		}
	}
	r.ones = a.hsum64(onesv)
	r.rest = a.hsum64(restv)
	// rest >= 2^-76 (ordered: not NaN). Below, terms the cutoff zeroes
	// may add up to an output (LogSoftmax and the loss at the max): the
	// general path, whose withTail adds them back, takes the row.
	VCMPSD(U8(0x1d), c64("tail64", 0x1p-76), r.rest, c)
	VMOVMSKPD(c, okb)
	TESTL(U32(1), okb)
	JZ(LabelRef(bail))
	return r
}

// smallLoad loads the row at x as float32 vectors, −Inf past the row.
func (a *arch) smallLoad(x GPVirtual, ln smallLanes) []VecVirtual {
	neg := f32("neginf32", float32(math.Inf(-1)))
	xs := make([]VecVirtual, smallCols/a.lanes)
	for i := range xs {
		xs[i] = a.vec()
		m := Mem{Base: x, Disp: a.bytes() * i}
		if a.z {
			VMOVUPS(neg, xs[i])
			VMOVUPS(m, ln.k, xs[i]) // merge: −Inf past the row
			continue
		}
		mk := a.vec()
		VMOVDQU(ln.masks[i], mk)
		VMOVUPS(m, xs[i])
		VBLENDVPS(mk, xs[i], a.bcast(neg), xs[i])
	}
	return xs
}

// log64 returns u = fl(ones + rest) and log(ones + rest) in the low lanes
// of XMMs, for a whole number ones >= 1 and 0 <= rest < 2^1000, to far
// better than float32's precision, whatever the size of rest:
//   - TwoSum gives u and the error err of fl(ones + rest) exactly, and
//     log(ones + rest) = log u + err/u to within (err/u)². err/u is taken
//     as err: where err matters next to the result (rest < 2^-20, so
//     u − 1 < 2^-20) the two differ by a part in 2^20 of err, and
//     elsewhere |err| <= 2^-49 against a result >= 2^-20.
//   - u = 2^k·f with f in [√½, √2), split on the bits (u's bits minus √½'s:
//     the exponent field is k, the fraction field plus √½'s bits is f).
//   - log u = k·ln2 + 2·atanh(s), s = (f − 1)/(f + 1), with f − 1 exact
//     (Sterbenz) and |s| < 0.1716: the series to s^11 is within 6e-11 of
//     atanh relatively, and a tiny rest (a confident row) keeps its full
//     relative accuracy through err/u.
func (a *arch) log64(ones, rest VecVirtual) (u, l VecVirtual) {
	u = XMM()
	VADDSD(rest, ones, u)
	bb, t, err := XMM(), XMM(), XMM()
	VSUBSD(ones, u, bb) // u − ones
	VSUBSD(bb, u, t)    // u − bb
	VSUBSD(t, ones, t)  // ones − (u − bb)
	VSUBSD(bb, rest, err)
	VADDSD(t, err, err)

	sqrtHalf := c64("sqrthalf64", math.Sqrt2/2)
	ix, k, f := XMM(), XMM(), XMM()
	VPSUBQ(sqrtHalf, u, ix)
	VPSRLQ(U8(52), ix, k)
	VPAND(c64("mant64", math.Float64frombits(1<<52-1)), ix, f)
	VPADDQ(sqrtHalf, f, f)
	two52 := c64("two52", 0x1p52)
	VPOR(two52, k, k) // 2^52 + k
	VSUBSD(two52, k, k)

	one := c64("one64", 1)
	fm, fp, s := XMM(), XMM(), XMM()
	VSUBSD(one, f, fm)
	VADDSD(one, f, fp)
	VDIVSD(fp, fm, s)
	z, q := XMM(), XMM()
	VMULSD(s, s, z)
	VMOVSD(c64("atanh11", 1.0/11), q)
	for _, c := range []struct {
		name string
		v    float64
	}{{"atanh9", 1.0 / 9}, {"atanh7", 1.0 / 7}, {"atanh5", 1.0 / 5}, {"atanh3", 1.0 / 3}} {
		VFMADD213SD(c64(c.name, c.v), z, q)
	}
	VMULSD(z, q, q)
	s2 := XMM()
	VADDSD(s, s, s2)
	VFMADD213SD(err, s2, q) // 2s·(atanh(s)/s − 1) + err

	VADDSD(s2, q, q)
	VMULSD(c64("ln2_64", math.Ln2), k, k)
	VADDSD(k, q, q)
	return u, q
}

// batchRows is how many rows a batch of smallBatches takes.
const batchRows = 8

// batchPtr is a pointer that advances by step bytes per row through the
// phases that use it.
type batchPtr struct {
	p        GPVirtual
	step     Op
	inA, inB bool
}

// smallBatches emits a small-row kernel's loop over rows rows in batches
// of batchRows: rowA on each row of a batch until one is not regular (it
// jumps to its bail label), keeping what the row needs later in its
// 32-byte slot, then rowB on each row rowA did, with its slot. A pointer
// both phases use is copied for rowA. It returns the number of rows done,
// which stops at the first row that is not regular.
func (a *arch) smallBatches(name string, rows GPVirtual, ptrs []batchPtr, rowA func(p []GPVirtual, bail string, slot Mem), rowB func(p []GPVirtual, slot Mem)) GPVirtual {
	tbl := AllocLocal(batchRows * 32)
	done, end, off := GP64(), GP64(), GP64()
	XORQ(done, done)
	pa := make([]GPVirtual, len(ptrs))
	pb := make([]GPVirtual, len(ptrs))
	for i, p := range ptrs {
		pa[i], pb[i] = p.p, p.p
		if p.inA && p.inB {
			pa[i] = GP64()
		}
	}
	slot := tbl
	slot.Index, slot.Scale = off, 1

	Label(name + "_batch")
	CMPQ(done, rows)
	JAE(LabelRef(name + "_ret"))
	MOVQ(rows, end)
	SUBQ(done, end)
	CMPQ(end, U32(batchRows))
	JBE(LabelRef(name + "_sized"))
	MOVQ(U32(batchRows), end)
	Label(name + "_sized")
	SHLQ(U8(5), end) // bytes of slots
	for i, p := range ptrs {
		if pa[i] != p.p {
			MOVQ(p.p, pa[i])
		}
	}
	XORQ(off, off)

	Label(name + "_a")
	CMPQ(off, end)
	JAE(LabelRef(name + "_b"))
	rowA(pa, name+"_b", slot)
	ADDQ(U32(32), off)
	for i, p := range ptrs {
		if p.inA {
			ADDQ(p.step, pa[i])
		}
	}
	JMP(LabelRef(name + "_a"))

	Label(name + "_b")
	MOVQ(off, end) // the slots rowA filled
	XORQ(off, off)
	Label(name + "_bl")
	CMPQ(off, end)
	JAE(LabelRef(name + "_bend"))
	rowB(pb, slot)
	ADDQ(U32(32), off)
	for i, p := range ptrs {
		if p.inB {
			ADDQ(p.step, pb[i])
		}
	}
	JMP(LabelRef(name + "_bl"))

	Label(name + "_bend")
	SHRQ(U8(5), end)
	ADDQ(end, done)
	CMPQ(end, U32(batchRows))
	JAE(LabelRef(name + "_batch")) // a short batch: the rows ended, or a row was not regular
	Label(name + "_ret")
	return done
}

// smallPrologue loads a small-row kernel's cols and stride (4·cols) and its
// lanes; AVX2's two lane masks are copied to the stack, which frees the
// three registers their table addresses take.
func (a *arch) smallPrologue() (stride GPVirtual, ln smallLanes) {
	cols := Load(Param("cols"), GP64()).(GPVirtual)
	stride = GP64()
	MOVQ(cols, stride)
	SHLQ(U8(2), stride)
	ln = a.smallLanes(cols)
	if !a.z {
		loc := AllocLocal(64)
		for i, m := range ln.masks {
			v := a.vec()
			VMOVDQU(m, v)
			VMOVDQU(v, loc.Offset(32*i))
			ln.masks[i] = loc.Offset(32 * i)
		}
	}
	return stride, ln
}

// logSoftmaxSmall: dst = float32((x − m) − l) per row; rowA keeps m, ones
// and rest, rowB takes the log and stores.
func (a *arch) logSoftmaxSmall() {
	a.fn("logSoftmaxSmall", "func(dst, x []float32, cols, rows int) int",
		"logSoftmaxSmall"+a.suffix+" stores the log-softmax of rows 0, 1, ... of x (cols <= 16 columns each) to dst",
		"until rows rows are done or a row is not regular, and returns how many it stored.")
	d := slicePtr("dst")
	x := slicePtr("x")
	rows := Load(Param("rows"), GP64()).(GPVirtual)
	stride, ln := a.smallPrologue()
	done := a.smallBatches("logsmall", rows, []batchPtr{{x, stride, true, true}, {d, stride, false, true}},
		func(p []GPVirtual, bail string, slot Mem) {
			r := a.smallStats(p[0], ln, bail, false, 8, nil)
			VMOVSD(r.md, slot)
			VMOVSD(r.ones, slot.Offset(8))
			VMOVSD(r.rest, slot.Offset(16))
		},
		func(p []GPVirtual, slot Mem) {
			ones, rest := XMM(), XMM()
			VMOVSD(slot.Offset(8), ones)
			VMOVSD(slot.Offset(16), rest)
			_, l := a.log64(ones, rest)
			mv, lv := a.vec(), a.vec()
			VBROADCASTSD(slot, mv)
			VBROADCASTSD(l, lv)
			t := tail{k: ln.k} // AVX2: the whole window, whose lanes past the row are not stored
			for i := 0; i < smallCols/a.lanes; i++ {
				lo, hi := a.widen(Mem{Base: p[0], Disp: a.bytes() * i}, t)
				VSUBPD(mv, lo, lo)
				VSUBPD(mv, hi, hi)
				VSUBPD(lv, lo, lo)
				VSUBPD(lv, hi, hi)
				a.smallStore(a.narrowReg(lo, hi), Mem{Base: p[1], Disp: a.bytes() * i}, ln, i)
			}
		})
	VZEROUPPER()
	Store(done, ReturnIndex(0))
	RET()
}

// lanes64 holds 0, 1, ..., 15 as float64s: the column of each float64 lane
// of the window, which a row's label (as float64) selects.
func lanes64() Mem {
	if m, ok := consts["lanes64"]; ok {
		return m
	}
	m := GLOBL("lanes64", RODATA|NOPTR)
	for i := 0; i < smallCols; i++ {
		DATA(8*i, U64(math.Float64bits(float64(i))))
	}
	consts["lanes64"] = m
	return m
}

// crossEntropySmall: per row, the loss l − (x[label] − m) (added up in
// float64), and, when g is not empty, the gradient (e/(ones + rest) −
// onehot)/scale as crossEntropyRow computes it. Rows with a negative label
// get a zero gradient and no loss (their slot reads ones 1, rest 0: l = 0).
// Labels are int64 or int32. rowA does the gradient, which needs no log,
// and keeps ones, rest and x[label] − m; rowB adds the loss.
func (a *arch) crossEntropySmall() {
	a.fn("crossEntropySmall", "func(g, x []float32, l64 []int64, l32 []int32, cols int, scale float64) (done int, loss float64)",
		"crossEntropySmall"+a.suffix+" does the cross-entropy rows 0, 1, ... of x (cols <= 16 columns each) against the labels",
		"l64, or l32 when l64 is empty, storing the gradient to g unless g is empty, until every label's row is",
		"done or a row is not regular; it returns how many rows it did and the sum of their losses.")
	g := slicePtr("g")
	x := slicePtr("x")
	lp := slicePtr("l64")
	rows := Load(Param("l64").Len(), GP64()).(GPVirtual)
	lstep := GP64() // bytes per label
	MOVQ(U32(8), lstep)
	TESTQ(rows, rows)
	JNZ(LabelRef("ce_wide"))
	Load(Param("l32").Base(), lp)
	Load(Param("l32").Len(), rows)
	MOVQ(U32(4), lstep)
	Label("ce_wide")
	stride, ln := a.smallPrologue()
	total := XMM()
	VXORPS(total, total, total)
	zero := c64("zero64", 0)
	one := c64("one64", 1)
	w := a.lanes / 2 // float64 lanes per vector
	gLen := addrOf(Param("g").Len())

	done := a.smallBatches("ce", rows, []batchPtr{{g, stride, true, false}, {x, stride, true, false}, {lp, lstep, true, false}},
		func(p []GPVirtual, bail string, slot Mem) {
			g, x, lp := p[0], p[1], p[2]
			lab := XMM()
			VXORPS(lab, lab, lab)
			CMPQ(lstep, U32(8))
			JNZ(LabelRef("ce_label32"))
			VCVTSI2SDQ(Mem{Base: lp}, lab, lab)
			JMP(LabelRef("ce_label"))
			Label("ce_label32")
			VCVTSI2SDL(Mem{Base: lp}, lab, lab)
			Label("ce_label")
			neg, nb := XMM(), GP32()
			VCMPSD(U8(0x11), zero, lab, neg) // label < 0: ignored
			VMOVMSKPD(neg, nb)
			TESTL(U32(1), nb)
			JNZ(LabelRef("ce_ignored"))

			labv := a.vec()
			VBROADCASTSD(lab, labv)
			// sel(i) selects the label's lane in float64 vector i.
			sel := func(i int) (VecVirtual, OpmaskVirtual) {
				m := lanes64().Offset(8 * w * i)
				if a.z {
					k := K()
					VCMPPD(U8(0x00), m, labv, k)
					return nil, k
				}
				v := a.vec()
				VCMPPD(U8(0x00), m, labv, v)
				return v, nil
			}
			dl := a.vec()
			a.zero(dl)
			r := a.smallStats(x, ln, bail, true, 8, func(i int, d, _ VecVirtual) {
				v, k := sel(i)
				if a.z {
					VADDPD(d, dl, k, dl)
					return
				}
				VANDPD(d, v, v)
				VADDPD(v, dl, dl)
			})
			VMOVSD(r.ones, slot)
			VMOVSD(r.rest, slot.Offset(8))
			VMOVSD(a.hsum64(dl), slot.Offset(16))
			CMPQ(gLen, U32(0))
			JZ(LabelRef("ce_done"))

			// p − 1 at the label as ((e − ones) − rest)/(u·scale): e − ones is
			// exact where it matters (e = 1 when x[label] is the max).
			rr := XMM()
			VADDSD(r.rest, r.ones, rr)
			VMULSD(paramAddr("scale"), rr, rr)
			VDIVSD(rr, a.scalar(one), rr)
			rv, onesv, restv := a.vec(), a.vec(), a.vec()
			VBROADCASTSD(rr, rv)
			VBROADCASTSD(r.ones, onesv)
			VBROADCASTSD(r.rest, restv)
			for i := range r.e {
				e := r.e[i]
				gl := a.vec()
				VSUBPD(onesv, e, gl)
				VSUBPD(restv, gl, gl)
				VMULPD(rv, e, e)
				VMULPD(rv, gl, gl)
				v, k := sel(i)
				if a.z {
					VMOVAPD(gl, k, e)
				} else {
					VBLENDVPD(v, gl, e, e)
				}
			}
			for i := 0; i < len(r.e); i += 2 {
				p := a.narrowReg(r.e[i], r.e[i+1])
				a.smallStore(p, Mem{Base: g, Disp: a.bytes() * i / 2}, ln, i/2)
			}
			JMP(LabelRef("ce_done"))

			Label("ce_ignored")
			o := XMM()
			VMOVSD(one, o)
			VMOVSD(o, slot)
			VXORPS(o, o, o)
			VMOVSD(o, slot.Offset(8))
			VMOVSD(o, slot.Offset(16))
			CMPQ(gLen, U32(0))
			JZ(LabelRef("ce_done"))
			zv := a.vec()
			a.zero(zv)
			for i := 0; i < smallCols/a.lanes; i++ {
				a.smallStore(zv, Mem{Base: g, Disp: a.bytes() * i}, ln, i)
			}
			Label("ce_done")
		},
		func(_ []GPVirtual, slot Mem) {
			ones, rest, dl := XMM(), XMM(), XMM()
			VMOVSD(slot, ones)
			VMOVSD(slot.Offset(8), rest)
			VMOVSD(slot.Offset(16), dl)
			_, l := a.log64(ones, rest)
			VSUBSD(dl, l, l) // l − (x[label] − m)
			VADDSD(l, total, total)
		})
	VZEROUPPER()
	Store(done, ReturnIndex(0))
	Store(total, ReturnIndex(1))
	RET()
}

// addrOf is the stack address of an argument's component (a slice's
// length, say).
func addrOf(c gotypes.Component) Mem {
	b, err := c.Resolve()
	if err != nil {
		panic(err)
	}
	return b.Addr
}

// scalar loads a constant table's first float64 into an XMM.
func (a *arch) scalar(m Mem) VecVirtual {
	x := XMM()
	VMOVSD(m, x)
	return x
}

// softCrossEntropySmall: per row, with sy = Σ y compensated (the lanes
// past the row read as 0), the gradient (e·(sy/(ones + rest)) − y)/scale, and the loss
// Σ y·(l − (x − m)) over the y != 0 (a zero target never multiplies a
// −Inf logit) as l·sy + T, T = Σ y·(m − x): for targets >= 0 both terms
// are >= 0. rowA does the gradient and keeps ones, rest, sy and T; rowB
// adds the loss. A row whose sy is not finite is left to the general path
// with the special rows.
func (a *arch) softCrossEntropySmall() {
	a.fn("softCrossEntropySmall", "func(g, x, y []float32, cols, rows int, scale float64) (done int, loss float64)",
		"softCrossEntropySmall"+a.suffix+" does the soft-target cross-entropy rows 0, 1, ... of x (cols <= 16 columns each)",
		"against the targets y, storing the gradient to g, until rows rows are done or a row is not regular;",
		"it returns how many rows it did and the sum of their losses.")
	g := slicePtr("g")
	x := slicePtr("x")
	y := slicePtr("y")
	rows := Load(Param("rows"), GP64()).(GPVirtual)
	stride, ln := a.smallPrologue()
	total := XMM()
	VXORPS(total, total, total)
	zero := c64("zero64", 0)
	nv := smallCols / a.lanes
	var mloc Mem
	if !a.z {
		mloc = AllocLocal(32)
	}

	done := a.smallBatches("soft", rows, []batchPtr{{g, stride, true, false}, {x, stride, true, false}, {y, stride, true, false}},
		func(p []GPVirtual, bail string, slot Mem) {
			g, x, y := p[0], p[1], p[2]
			ys := func(i int) (lo, hi VecVirtual) { return a.smallWiden(y, ln, i) }
			// sy compensated, as the general path's k.sum: targets of both
			// signs that cancel keep what is left (Σ of −2^100, 2^100 and
			// 2^40 is 2^40, which plain adds lose in some lane orders).
			// First, and kept in the slot: AVX2 has no register to spare
			// for it during the exps.
			var yv []VecVirtual
			for i := 0; i < nv; i++ {
				lo, hi := ys(i)
				yv = append(yv, lo, hi)
			}
			acc, comp := twoSumAll(yv, a.vec)
			sy := a.hsum64Comp(acc, comp)
			c, okb := XMM(), GP32()
			VANDPD(c64("abs64", math.Float64frombits(1<<63-1)), sy, c)
			VCMPSD(U8(0x11), c64("inf64", math.Inf(1)), c, c) // |sy| < +Inf (ordered)
			VMOVMSKPD(c, okb)
			TESTL(U32(1), okb)
			JZ(LabelRef(bail))
			VMOVSD(sy, slot.Offset(16))
			r := a.smallStats(x, ln, bail, true, 11, nil)
			tv := a.vec()
			a.zero(tv)

			// a = sy/u, 1/scale; then per vector the loss terms and the
			// gradient, x and y read again (from L1).
			av, rs := XMM(), XMM()
			VADDSD(r.rest, r.ones, av)
			sy = XMM()
			VMOVSD(slot.Offset(16), sy)
			VDIVSD(av, sy, av)
			VMOVSD(c64("one64", 1), rs)
			VDIVSD(paramAddr("scale"), rs, rs)
			avv, rsv := a.vec(), a.vec()
			VBROADCASTSD(av, avv)
			VBROADCASTSD(rs, rsv)
			VMOVSD(r.ones, slot)
			VMOVSD(r.rest, slot.Offset(8))
			var mv Op = r.mv
			if !a.z { // AVX2: m from the stack frees a register for the loop below
				VMOVUPD(r.mv, mloc)
				mv = mloc
			}
			for i := 0; i < nv; i++ {
				t := tail{k: ln.k} // AVX2: the whole window; the lanes past the row have y = 0 and are not stored
				xlo, xhi := a.widen(Mem{Base: x, Disp: a.bytes() * i}, t)
				ylo, yhi := ys(i)
				for j, p := range [][2]VecVirtual{{xlo, ylo}, {xhi, yhi}} {
					d, yv := p[0], p[1]
					VSUBPD(mv, d, d)
					VMULPD(yv, d, d) // y·(x − m), T's terms negated
					if a.z {
						k := K()
						VCMPPD(U8(0x04), zero, yv, k) // y != 0
						VADDPD(d, tv, k, tv)
					} else {
						nz := a.vec()
						VCMPPD(U8(0x04), zero, yv, nz) // y != 0
						VANDPD(nz, d, d)
						VADDPD(d, tv, tv)
					}
					e := r.e[2*i+j]
					VMULPD(avv, e, e)
					VSUBPD(yv, e, e)
					VMULPD(rsv, e, e)
				}
				a.smallStore(a.narrowReg(r.e[2*i], r.e[2*i+1]), Mem{Base: g, Disp: a.bytes() * i}, ln, i)
			}
			VMOVSD(a.hsum64(tv), slot.Offset(24))
		},
		func(_ []GPVirtual, slot Mem) {
			ones, rest, sy, t := XMM(), XMM(), XMM(), XMM()
			VMOVSD(slot, ones)
			VMOVSD(slot.Offset(8), rest)
			VMOVSD(slot.Offset(16), sy)
			VMOVSD(slot.Offset(24), t)
			_, l := a.log64(ones, rest)
			VMULSD(sy, l, l)
			VSUBSD(t, l, l) // l·sy − Σ y·(x − m)
			VADDSD(l, total, total)
		})
	VZEROUPPER()
	Store(done, ReturnIndex(0))
	Store(total, ReturnIndex(1))
	RET()
}

// logSumExpSmall: the max m and l = log Σ exp(x − m) of one row of at most
// 16 elements (LogSumExp = m + l), and ok = 0 when the row is not regular
// (the AVX2 kernel reads 16 elements from x's start: len(x) >= 16 there).
func (a *arch) logSumExpSmall() {
	a.fn("logSumExpSmall", "func(x []float32, n int) (m, l float64, ok int)",
		"logSumExpSmall"+a.suffix+" returns the max m of x[:n] (n <= 16) and l = log Σ exp(x[:n] − m),",
		"and ok = 0 when x[:n] has a NaN or ±Inf max or a NaN.")
	x := slicePtr("x")
	n := Load(Param("n"), GP64()).(GPVirtual)
	ln := a.smallLanes(n)
	r := a.smallStats(x, ln, "lse_bail", false, 8, nil)
	_, l := a.log64(r.ones, r.rest)
	VZEROUPPER()
	Store(r.md, ReturnIndex(0))
	Store(l, ReturnIndex(1))
	ok := GP64()
	MOVQ(U32(1), ok)
	Store(ok, ReturnIndex(2))
	RET()
	Label("lse_bail")
	VZEROUPPER()
	XORQ(ok, ok)
	Store(ok, ReturnIndex(2))
	RET()
}
