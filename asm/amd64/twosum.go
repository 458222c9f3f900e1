package main

import (
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Compensated float64 sums: the general path's sum is addComp's, whose
// error does not grow with cancellation (Σ dy of 2, −3, 1 and 1.5e-19 is
// 1.5e-19, not 0); a plain float64 sum loses such a term, and the output
// that depends on it (LogSoftmaxBackward's dy − exp(logp)·Σ dy) with it.

// twoSumPair returns t = a + b rounded and e, its rounding error (exact
// by Knuth's TwoSum), in float64 lanes; tmp makes registers of a's width.
// Two of its subtractions are FMAs by 1 (the same result: x·1 is exact,
// and the sum rounds once), which AMD's Zen 3 runs on its multiply pipes
// beside the adds on its two add pipes: the compensated sum ran 13%
// faster for it there (with twoSum's c += e an FMA too); Intel runs both
// on the same ports.
func twoSumPair(a, b Register, tmp func() VecVirtual) (t, e VecVirtual) {
	t, bp := tmp(), tmp()
	e = tmp()
	VADDPD(b, a, t)              // t = a + b
	VSUBPD(a, t, bp)             // bp = t − a
	VSUBPD(bp, t, e)             // t − bp
	VFNMADD132PD(one64(), a, e)  // a − (t − bp)
	VFNMADD132PD(one64(), b, bp) // b − bp
	VADDPD(bp, e, e)
	return t, e
}

// one64 is a table of 1s, for any width.
func one64() Mem { return c64("one64", 1) }

// twoSum adds v to the compensated sum s + c in place: s takes the
// rounded sum, c its rounding error (added by an FMA by 1, as above).
func twoSum(s, c, v Register, tmp func() VecVirtual) {
	t, e := twoSumPair(s, v, tmp)
	VFMADD231PD(one64(), e, c)
	VMOVAPD(t, s)
}

// renormEvery is how many twoSum adds an accumulator takes between
// renorms in sum and dot. Renormalizing after every add put renorm's five
// dependent operations on the loop's critical path (2.4 cycles an element
// on a Zen 3). Between renorms c grows to 5·2^-53 of |s| (at the j-th add
// since the last, |c| <= (j+1)·2^-53·|s|), so the bound on its roundings
// grows from 2 to 3.5·2^-106 of |s| per add: still inside the n·2^-104
// of Σ|p·dy| that doc.go states for SoftmaxBackward.
const renormEvery = 4

// renorm makes the pair s + c normalized again (Fast2Sum: s + z is the
// rounded sum and c − z its error), so that c stays within half an ULP of
// s: twoSum's c, never folded in, grows with n, and its own roundings then
// lose up to n²·2^-106 of the terms (softmax_generic.go's addComp). Where
// s is ±Inf or c NaN, z is NaN and is not applied: s keeps its infinity,
// which hsum64Comp returns.
func (a *arch) renorm(s, c Register) {
	t, z := a.vec(), a.vec()
	VADDPD(c, s, t) // t = s + c
	VSUBPD(s, t, z) // z = t − s
	if a.z {
		k := K()
		VCMPPD(U8(0x07), z, z, k) // z ordered
		VADDPD(z, s, k, s)
		VSUBPD(z, c, k, c)
		return
	}
	m := a.vec()
	VCMPPD(U8(0x07), z, z, m)
	VANDPD(m, z, z)
	VADDPD(z, s, s)
	VSUBPD(z, c, c)
}

// twoSumAll returns Σ vs as s + c in float64 lanes: vs added pairwise with
// TwoSum (a tree: short chains), the rounding errors added plainly into c.
func twoSumAll(vs []VecVirtual, tmp func() VecVirtual) (s, c VecVirtual) {
	var errs []VecVirtual
	for len(vs) > 1 {
		var next []VecVirtual
		for i := 0; i+1 < len(vs); i += 2 {
			t, e := twoSumPair(vs[i], vs[i+1], tmp)
			next, errs = append(next, t), append(errs, e)
		}
		if len(vs)%2 == 1 {
			next = append(next, vs[len(vs)-1])
		}
		vs = next
	}
	if len(errs) == 0 {
		panic("twoSumAll: fewer than two vectors")
	}
	addAll(VADDPD, errs)
	return vs[0], errs[0]
}

// hsum64Comp reduces the compensated sums s + c (one per lane) to one
// float64 in an XMM register's low lane: s + c from hsum64Pair; where s
// is ±Inf or NaN, s itself (as addComp stops compensating there,
// and c may be NaN).
func (a *arch) hsum64Comp(s, c VecVirtual) VecVirtual {
	s1, c1 := a.hsum64Pair(s, c)
	r := XMM()
	VADDSD(c1, s1, r)
	bad := XMM()
	VANDPD(c64("abs64", math.Float64frombits(1<<63-1)), s1, bad)
	VCMPSD(U8(0x05), c64("inf64", math.Inf(1)), bad, bad) // !(|s| < +Inf): ±Inf, NaN
	VBLENDVPD(bad, s1, r, r)
	return r
}

// hsum64Pair reduces the compensated sums s + c (one per lane) to one
// pair s1 + c1 in the low lanes of two XMMs: the lanes' s added with
// twoSum, their c plainly. An infinite term leaves a NaN in c1 (twoSum's
// ∞ − ∞).
func (a *arch) hsum64Pair(s, c VecVirtual) (s1, c1 VecVirtual) {
	sy, cy := s, c
	if a.z {
		h, hc := YMM(), YMM()
		VEXTRACTF64X4(U8(1), s, h)
		VEXTRACTF64X4(U8(1), c, hc)
		VADDPD(hc, c.AsY(), hc)
		twoSum(h, hc, s.AsY(), YMM)
		sy, cy = h, hc
	}
	x, xc := XMM(), XMM()
	VEXTRACTF128(U8(1), sy, x)
	VEXTRACTF128(U8(1), cy, xc)
	VADDPD(xc, cy.AsX(), xc)
	twoSum(x, xc, sy.AsX(), XMM)
	h, hc := XMM(), XMM()
	VPERMILPD(U8(1), x, h)
	VPERMILPD(U8(1), xc, hc)
	VADDSD(hc, xc, xc)
	twoSum(x, xc, h, XMM)
	return x, xc
}
