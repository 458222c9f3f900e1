package softmax

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/gosimd/softmax/internal/ref"
)

// FuzzFloat64: the float64 functions (generic kernels) against the
// double-double reference, on raw float64 bit patterns: subnormals, terms
// below the normal range, ±1.8e308 whose differences overflow, NaN, ±Inf.
// Run it with: go test -run '^$' -fuzz '^FuzzFloat64$' -fuzztime=30s

const maxFuzzLen64 = 256 // the double-double reference is slow

func decode64(data []byte) []float64 {
	x := make([]float64, min(len(data)/8, maxFuzzLen64))
	for i := range x {
		x[i] = math.Float64frombits(binary.LittleEndian.Uint64(data[8*i:]))
	}
	return x
}

func encode64(v ...float64) []byte {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(x))
	}
	return b
}

func FuzzFloat64(f *testing.F) {
	ninf, pinf, nan := math.Inf(-1), math.Inf(1), math.NaN()
	for _, row := range [][]float64{
		{1, 2, 3},
		{0},
		{ninf, ninf},
		{ninf, 1, ninf, 2},
		{nan, ninf},
		{1, pinf, 3},
		{1.7e308, -1.7e308, 0, 5e-324},
		{0, -705, -746, -746, -746, -720, -708.3},
		{-3e-307, -705, -760},
		{-5.5, -6, -7, -8, -9},
	} {
		b := encode64(row...)
		f.Add(b, b, uint8(0))
	}
	f.Fuzz(func(t *testing.T, logits, second []byte, label uint8) {
		x := decode64(logits)
		n := len(x)
		if n == 0 {
			return
		}
		dst := make([]float64, n)
		Softmax(dst, x)
		check64(t, "Softmax", dst, ref.Softmax(x, ref.Precise))
		LogSoftmax(dst, x)
		check64(t, "LogSoftmax", dst, ref.LogSoftmax(x, ref.Precise))
		lse := ref.LogSumExp(x, ref.Precise)
		m := maxGeneric(x)
		// Below 2^-40 of log Σ ≈ lse − m the double-double's own error
		// shows (doc.go's limit).
		if !(math.Abs(lse) < 0x1p-40*math.Abs(lse-m)) {
			check64(t, "LogSumExp", []float64{LogSumExp(x)}, []float64{lse})
		}

		l := int(label) % n
		loss := CrossEntropyGrad(dst, x, []int{l}, n)
		wantLoss, wantGrad := ref.CrossEntropy(x, []int{l}, n, ref.Precise)
		check64(t, "CrossEntropyGrad/loss", []float64{loss}, []float64{wantLoss})
		check64(t, "CrossEntropyGrad", dst, wantGrad)

		y, ok := tame(decode64(second), n, true)
		if !ok {
			return
		}
		p := ref.Softmax(x, ref.Precise)
		loss = SoftCrossEntropyGrad(dst, x, y, n)
		wantLoss, wantGrad = ref.SoftCrossEntropy(x, y, n, ref.Precise)
		check64(t, "SoftCrossEntropyGrad/loss", []float64{loss}, []float64{wantLoss})
		sy := ref.Sum(y)
		terms := make([]float64, n)
		for j := range terms {
			terms[j] = y[j] + p[j]*sy
		}
		checkTerms64(t, "SoftCrossEntropyGrad", dst, wantGrad, terms)

		for _, v := range p {
			if v != v {
				return // NaN probabilities: no backward pass
			}
		}
		dy, _ := tame(decode64(second), n, false)
		SoftmaxBackward(dst, p, dy)
		checkTerms64(t, "SoftmaxBackward", dst, ref.SoftmaxBackward(p, dy), dotTerms64(p, dy, n))
		logp := ref.LogSoftmax(x, ref.Precise)
		LogSoftmaxBackward(dst, logp, dy)
		sdy := ref.Sum(dy)
		for j := range terms {
			terms[j] = math.Abs(math.Exp(logp[j])*sdy) + sumTerm(math.Exp(logp[j]), dy, 0x1p-52)
		}
		checkTerms64(t, "LogSoftmaxBackward", dst, ref.LogSoftmaxBackward(logp, dy, ref.Precise), terms)
	})
}
