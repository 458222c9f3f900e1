package softmax_test

import (
	"fmt"
	"log"
	"math"

	"github.com/gosimd/softmax"
)

func ExampleSoftmax() {
	logits := []float32{1, 2, 3, float32(math.Inf(-1))} // the last one masked
	p := make([]float32, len(logits))
	softmax.Softmax(p, logits)
	fmt.Printf("%.4f\n", p)
	// Output: [0.0900 0.2447 0.6652 0.0000]
}

func ExampleLogSoftmax() {
	x := []float64{1000, 1000, 1000 - math.Ln2}
	softmax.LogSoftmax(x, x) // in place; no overflow for large logits
	fmt.Printf("%.4f\n", x)
	// Output: [-0.9163 -0.9163 -1.6094]
}

func ExampleLogSumExp() {
	fmt.Printf("%.6f\n", softmax.LogSumExp([]float64{0, 0}))
	fmt.Println(softmax.LogSumExp([]float32{}))
	// Output:
	// 0.693147
	// -Inf
}

func ExampleSoftmaxRows() {
	// Two rows of three logits.
	x := []float32{
		0, 0, 0,
		1, 2, 3,
	}
	softmax.SoftmaxRows(x, x, 3)
	fmt.Printf("%.4f\n", x)
	// Output: [0.3333 0.3333 0.3333 0.0900 0.2447 0.6652]
}

func ExampleLogSoftmaxRows() {
	x := []float64{0, 0, 5, 5}
	softmax.LogSoftmaxRows(x, x, 2)
	fmt.Printf("%.4f\n", x)
	// Output: [-0.6931 -0.6931 -0.6931 -0.6931]
}

func ExampleSoftmaxBackward() {
	p := []float64{0.25, 0.75}
	dy := []float64{1, 0} // the loss is p[0]
	dx := make([]float64, 2)
	softmax.SoftmaxBackward(dx, p, dy)
	fmt.Println(dx) // ∂p0/∂x = p0(1−p0), −p0·p1
	// Output: [0.1875 -0.1875]
}

func ExampleSoftmaxBackwardRows() {
	p := []float32{0.5, 0.5, 0.25, 0.75}
	dy := []float32{1, 1, 1, 0}
	dx := make([]float32, 4)
	softmax.SoftmaxBackwardRows(dx, p, dy, 2)
	fmt.Println(dx)
	// Output: [0 0 0.1875 -0.1875]
}

func ExampleLogSoftmaxBackward() {
	logp := []float64{math.Log(0.25), math.Log(0.75)}
	dy := []float64{-1, 0} // the loss is −logp[0]
	dx := make([]float64, 2)
	softmax.LogSoftmaxBackward(dx, logp, dy)
	fmt.Printf("%.4f\n", dx) // p − onehot
	// Output: [-0.7500 0.7500]
}

func ExampleLogSoftmaxBackwardRows() {
	logp := []float32{float32(math.Log(0.5)), float32(math.Log(0.5))}
	dy := []float32{0, -2}
	dx := make([]float32, 2)
	softmax.LogSoftmaxBackwardRows(dx, logp, dy, 2)
	fmt.Println(dx)
	// Output: [1 -1]
}

func ExampleJacobian() {
	p := []float64{0.5, 0.5}
	j := make([]float64, 4)
	softmax.Jacobian(j, p)
	fmt.Println(j)
	// Output: [0.25 -0.25 -0.25 0.25]
}

func ExampleCrossEntropy() {
	logits := []float32{
		2, 1, 0, // label 0
		0, 5, 0, // label 2
		9, 9, 9, // ignored (padding)
	}
	labels := []int{0, 2, -1}
	fmt.Printf("%.4f\n", softmax.CrossEntropy(logits, labels, 3))
	// Output: 2.7105
}

func ExampleCrossEntropyGrad() {
	logits := []float64{0, 0, 0, 0}
	grad := make([]float64, 4)
	loss := softmax.CrossEntropyGrad(grad, logits, []int32{3}, 4)
	fmt.Printf("loss %.4f (= ln 4), grad %.2f\n", loss, grad)
	// Output: loss 1.3863 (= ln 4), grad [0.25 0.25 0.25 -0.75]
}

func ExampleSoftCrossEntropyGrad() {
	// Label smoothing: 0.9 on the true class, 0.1 spread over all three.
	logits := []float64{3, 0, 0}
	targets := []float64{0.9 + 0.1/3, 0.1 / 3, 0.1 / 3}
	grad := make([]float64, 3)
	loss := softmax.SoftCrossEntropyGrad(grad, logits, targets, 3)
	fmt.Printf("loss %.4f, grad %.4f\n", loss, grad)
	// Output: loss 0.2949, grad [-0.0239 0.0119 0.0119]
}

func ExampleSoftmaxRowsParallel() {
	const rows, cols = 4, 100_000
	x := make([]float32, rows*cols)
	softmax.SoftmaxRowsParallel(x, x, cols, 0) // 0: GOMAXPROCS workers
	fmt.Printf("%.0e\n", x[0])
	// Output: 1e-05
}

func ExampleCrossEntropyGradParallel() {
	logits := make([]float32, 2*50_000)
	grad := make([]float32, len(logits))
	loss := softmax.CrossEntropyGradParallel(grad, logits, []int{7, -1}, 50_000, 2)
	fmt.Printf("%.4f\n", loss) // ln 50000
	// Output: 10.8198
}

func ExampleImpl() {
	// Which kernels a deployment runs depends on its CPU, so it is worth a
	// line in the start-up log; SOFTMAX_IMPL=generic (or avx2, …) in the
	// environment forces a set, to compare them. (No Output line: it
	// prints avx512, avx2, neon or generic, depending on the machine.)
	log.Printf("softmax kernels: %s", softmax.Impl())
}
