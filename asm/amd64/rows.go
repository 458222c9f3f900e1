package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/gotypes"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The block kernels of SoftmaxRows on medium rows (table_amd64.go's
// blockRows): each runs one pass of Softmax over several rows, with each
// row's own scalars (max, bias, threshold, sum, reciprocal) in arrays. One
// row's pass over a few hundred columns is a short dependency chain (the
// loads, the exp, the reduction) that one call per row leaves exposed: the
// out-of-order core holds little more than one such call. Over a block of
// rows the passes of different rows are independent, and the core overlaps
// them. The per-row loops are maxMin's, the table pass's and div's.

// blockMax is the most rows a block kernel takes: the rows' scalars pass
// by value, in arrays of that many, which keeps them off the heap where
// the kernels are called through func values.
const blockMax = 16

// rowPtrs advances each row pointer of a block kernel by the row's stride
// (cols·4 bytes).
func rowPtrs(stride GPVirtual, ptrs ...GPVirtual) {
	for _, p := range ptrs {
		ADDQ(stride, p)
	}
}

// rowCopy returns a copy of p, for a row's pass to advance.
func rowCopy(p GPVirtual) GPVirtual {
	c := GP64()
	MOVQ(p, c)
	return c
}

// arrayPtr returns the address of the first element of an array argument
// or result.
func arrayPtr(c Component) GPVirtual {
	b, err := c.Index(0).Resolve()
	if err != nil {
		panic(err)
	}
	p := GP64()
	LEAQ(b.Addr, p)
	return p
}

// blockStart loads cols and rows and returns cols, the stride cols·4 and
// the row count, branching to "done" when there are no rows.
func blockStart() (cols, stride, n GPVirtual) {
	cols = Load(Param("cols"), GP64()).(GPVirtual)
	stride = GP64()
	MOVQ(cols, stride)
	SHLQ(U8(2), stride)
	n = Load(Param("rows"), GP64()).(GPVirtual)
	TESTQ(n, n)
	JZ(LabelRef("done"))
	return cols, stride, n
}

// rowEnd closes a block kernel's loop over its n rows (counting down) and
// returns.
func rowEnd(n GPVirtual) {
	DECQ(n)
	JNZ(LabelRef("row"))
	Label("done")
	VZEROUPPER()
	RET()
}

func blockDoc(name, what string) []string {
	return []string{name + " " + what, fmt.Sprintf("on each of the rows rows of x (cols columns each; 0 < cols, rows <= %d),", blockMax),
		"with row r's scalars at index r of the arrays."}
}

// maxMinRows: maxMin on each row of a block.
func (a *arch) maxMinRows() {
	sig := fmt.Sprintf("func(x []float32, cols, rows int) (m, lo [%d]float32)", blockMax)
	a.fn("maxMinRows", sig, blockDoc("maxMinRows"+a.suffix, "is maxMin"+a.suffix)...)
	x := slicePtr("x")
	mp, lp := arrayPtr(ReturnIndex(0)), arrayPtr(ReturnIndex(1))
	cols, stride, n := blockStart()
	Label("row")
	mx, mn := a.maxMinLoop(rowCopy(x), rowCopy(cols))
	VMOVSS(mx, Mem{Base: mp})
	VMOVSS(mn, Mem{Base: lp})
	ADDQ(U8(4), mp)
	ADDQ(U8(4), lp)
	rowPtrs(stride, x)
	rowEnd(n)
}

// expTotalRows: Softmax's exp-and-sum pass (expSumTotal) on each row of a
// block, with each row's bias and threshold.
func (a *arch) expTotalRows(nocut bool) {
	name, t := "expSumTotalRows", fmt.Sprintf("t [%d]float32, ", blockMax)
	if nocut {
		name, t = "expSumTotalNoCutRows", ""
	}
	sig := fmt.Sprintf("func(dst, x []float32, cols, rows int, c [%d]float32, %spf uintptr) (s [%d]float64)", blockMax, t, blockMax)
	a.fn(name, sig, blockDoc(name+a.suffix, "is expSumTotal"+map[bool]string{true: "NoCut", false: ""}[nocut]+a.suffix)...)
	d, x := slicePtr("dst"), slicePtr("x")
	cp, sp := arrayPtr(Param("c")), arrayPtr(ReturnIndex(0))
	var tp GPVirtual
	if !nocut {
		tp = arrayPtr(Param("t"))
	}
	pf := Load(Param("pf"), GP64()).(GPVirtual)
	cols, stride, n := blockStart()
	cv := a.vec()
	var tc Op
	var tv VecVirtual
	if !nocut {
		tv = a.vec()
		tc = tv
	}
	k := a.tableConsts(cv, tc, true)
	Label("row")
	VBROADCASTSS(Mem{Base: cp}, cv)
	if !nocut {
		VBROADCASTSS(Mem{Base: tp}, tv)
		ADDQ(U8(4), tp)
	}
	p := tablePass{cut: !nocut, store: true, sum: true, pf: true}
	r, _ := a.tableLoop(p, k, []GPVirtual{rowCopy(d), rowCopy(x)}, rowCopy(cols), pf)
	VMOVSD(r, Mem{Base: sp})
	ADDQ(U8(4), cp)
	ADDQ(U8(8), sp)
	rowPtrs(stride, d, x)
	rowEnd(n)
}

// divRows: div in place on each row of a block, with each row's reciprocal.
func (a *arch) divRows() {
	sig := fmt.Sprintf("func(x []float32, cols, rows int, rhi, rlo [%d]float32)", blockMax)
	a.fn("divRows", sig, blockDoc("divRows"+a.suffix, "is div"+a.suffix+" in place")...)
	d := slicePtr("x")
	hp, lp := arrayPtr(Param("rhi")), arrayPtr(Param("rlo"))
	cols, stride, n := blockStart()
	hi, lo := a.vec(), a.vec()
	Label("row")
	VBROADCASTSS(Mem{Base: hp}, hi)
	VBROADCASTSS(Mem{Base: lp}, lo)
	s := streams{ptrs: []GPVirtual{rowCopy(d)}, n: rowCopy(cols)}
	elementwise(a, s, "div", a.lanes, 4, a.lanes, func(off int, t tail) {
		m := s.mem(0, off)
		v := a.load(m, t)
		p := a.vec()
		VMULPS(lo, v, p)
		VFMADD231PS(hi, v, p)
		a.store(p, m, t)
	})
	ADDQ(U8(4), hp)
	ADDQ(U8(4), lp)
	rowPtrs(stride, d)
	rowEnd(n)
}

// expOnesRows: the exp pass of LogSoftmax and the cross-entropy
// (expSumOnes, with or without the store and the cutoff) on each row of a
// block, with each row's bias, max and, with the cutoff, threshold: rows
// with masked (−Inf) or far-below elements go in blocks too.
func (a *arch) expOnesRows(store, cut bool) {
	one := "expSumOnes"
	if !cut {
		one += "NoCut"
	}
	d := "dst, "
	if !store {
		one, d = one+"NoStore", ""
	}
	name := one + "Rows"
	sig := fmt.Sprintf("func(%sx []float32, cols, rows int, c, m [%d]float32) (rest [%d]float64, ones [%d]int32)", d, blockMax, blockMax, blockMax)
	doc := blockDoc(name+a.suffix, "is "+one+a.suffix)
	if cut {
		doc = append(doc, "Each row's threshold t is expThreshold(m), computed here.")
	}
	a.fn(name, sig, doc...)
	var dp GPVirtual
	if store {
		dp = slicePtr("dst")
	}
	x := slicePtr("x")
	cp, mp := arrayPtr(Param("c")), arrayPtr(Param("m"))
	rp, op := arrayPtr(ReturnIndex(0)), arrayPtr(ReturnIndex(1))
	cols, stride, n := blockStart()
	cv := a.vec()
	var tc Op
	var tv VecVirtual
	if cut {
		tv = a.vec()
		tc = tv
	}
	k := a.tableConsts(cv, tc, false)
	k.m, k.cnt = a.vec(), a.vec()
	if a.z {
		k.onei = a.bcast(c32("onei32", 1))
	}
	Label("row")
	VBROADCASTSS(Mem{Base: cp}, cv)
	VBROADCASTSS(Mem{Base: mp}, k.m)
	if cut {
		a.threshold(Mem{Base: mp}, tv)
	}
	a.zero(k.cnt)
	p := tablePass{store: store, sum: true, ones: true, cut: cut}
	ptrs := []GPVirtual{rowCopy(x)}
	if store {
		ptrs = []GPVirtual{rowCopy(dp), ptrs[0]}
	}
	r, ones := a.tableLoop(p, k, ptrs, rowCopy(cols), nil)
	VMOVSD(r, Mem{Base: rp})
	MOVL(ones.As32(), Mem{Base: op})
	ADDQ(U8(4), cp)
	ADDQ(U8(4), mp)
	ADDQ(U8(8), rp)
	ADDQ(U8(4), op)
	if store {
		rowPtrs(stride, dp, x)
	} else {
		rowPtrs(stride, x)
	}
	rowEnd(n)
}

// threshold sets every lane of tv to expThreshold(m) (softmax_generic.go)
// for the float32 m at mem: s = float64(m) + cutoff, t = float32(s), and
// where t < s, t's bits moved one towards +Inf. (expThreshold's t = 0
// case cannot arise: the float32 nearest −cutoff is 3.1e-6 from it, so s
// is never within 2^-19 of 0.) The arrays of a kernel that took t as one too
// would make its arguments too many bytes for a NOSPLIT call chain.
func (a *arch) threshold(mem Mem, tv VecVirtual) {
	sd, tx, tb, lt, neg := XMM(), XMM(), XMM(), XMM(), XMM()
	VMOVSS(mem, tx)
	VCVTSS2SD(tx, tx, sd)
	VADDSD(c64("cutoff64", cutoff64), sd, sd)
	VCVTSD2SS(sd, sd, tx)
	VCVTSS2SD(tx, tx, tb)
	VCMPSD(U8(0x11), sd, tb, lt)                // float64(t) < s: all ones
	VCMPSS(U8(0x11), c64("zero64", 0), tx, neg) // t < 0: all ones (−1)
	VPADDD(neg, neg, neg)                       // −2 or 0
	VPADDD(c32("onei32", 1), neg, neg)          // −1 or +1: towards +Inf
	VPAND(lt, neg, neg)                         // where t < s
	VPADDD(neg, tx, tx)
	VBROADCASTSS(tx, tv)
}

// subRows: LogSoftmax's last pass (sub) on each row of a block, with each
// row's max and log Σ.
func (a *arch) subRows() {
	sig := fmt.Sprintf("func(dst, x []float32, cols, rows int, m [%d]float32, l [%d]float64)", blockMax, blockMax)
	a.fn("subRows", sig, blockDoc("subRows"+a.suffix, "is sub"+a.suffix)...)
	d, x := slicePtr("dst"), slicePtr("x")
	mp, lp := arrayPtr(Param("m")), arrayPtr(Param("l"))
	cols, stride, n := blockStart()
	m, l := a.vec(), a.vec()
	mx := XMM()
	Label("row")
	VMOVSS(Mem{Base: mp}, mx)
	VCVTSS2SD(mx, mx, mx)
	VBROADCASTSD(mx, m)
	VBROADCASTSD(Mem{Base: lp}, l)
	a.subLoop(rowCopy(d), rowCopy(x), rowCopy(cols), m, l)
	ADDQ(U8(4), mp)
	ADDQ(U8(8), lp)
	rowPtrs(stride, d, x)
	rowEnd(n)
}

// backwardRows: SoftmaxBackward (dot, then mulSub) or LogSoftmaxBackward
// (sum of dy, then expMulSub) on each row of a block, in one kernel: no
// scalar passes between a row's two loops, so no arrays either, and any
// number of rows.
func (a *arch) backwardRows(log bool) {
	name, in, doc, fn := "softmaxBackwardRows", "p", "dot"+a.suffix+" then mulSub"+a.suffix, "SoftmaxBackward"
	if log {
		name, in, doc, fn = "logSoftmaxBackwardRows", "logp", "sum"+a.suffix+" of dy then expMulSub"+a.suffix, "LogSoftmaxBackward"
	}
	a.fn(name, "func(dx, "+in+", dy []float32, cols, rows int)",
		name+a.suffix+" is "+doc+" on each of the rows rows of "+in+" and dy (cols columns each, cols > 0),",
		"to the same row of dx: the passes of "+fn+" one row at a time.")
	d, p, y := slicePtr("dx"), slicePtr(in), slicePtr("dy")
	cols, stride, n := blockStart()
	Label("row")
	var sv, cv VecVirtual
	if log {
		acc, comp := a.sumDotLoop(streams{ptrs: []GPVirtual{rowCopy(y)}, n: rowCopy(cols)}, false)
		acc, comp = a.sumDotFold(acc, comp)
		sv = a.vec()
		VBROADCASTSD(a.hsum64Comp(acc[0], comp[0]), sv)
	} else {
		acc, comp := a.sumDotLoop(streams{ptrs: []GPVirtual{rowCopy(p), rowCopy(y)}, n: rowCopy(cols)}, true)
		acc, comp = a.sumDotFold(acc, comp)
		s1, c1 := a.hsum64Pair(acc[0], comp[0])
		sv, cv = a.vec(), a.vec()
		VBROADCASTSD(s1, sv)
		VBROADCASTSD(c1, cv)
	}
	if log {
		a.expMulSubLoop(rowCopy(d), rowCopy(p), rowCopy(y), rowCopy(cols), sv)
	} else {
		a.mulSubLoop(rowCopy(d), rowCopy(p), rowCopy(y), rowCopy(cols), sv, cv)
	}
	rowPtrs(stride, d, p, y)
	rowEnd(n)
}
