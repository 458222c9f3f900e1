package softmax

import (
	"math"
	"runtime"
	"sync"
)

// minChunk is the fewest elements worth a goroutine of their own: below
// it, starting and joining the goroutine costs more than it saves.
const minChunk = 1 << 14

// SoftmaxRowsParallel is SoftmaxRows spread over up to workers goroutines
// (workers <= 0: GOMAXPROCS): whole rows when there are enough of them, and
// chunks of one row when there are fewer rows than workers. Split by whole
// rows, the results are SoftmaxRows' bit for bit; a row split into chunks
// adds its sums in another order, which agrees with SoftmaxRows within the
// accuracy bar. Small inputs run on the calling goroutine; split work
// allocates a few small objects per worker. It panics as SoftmaxRows does.
func SoftmaxRowsParallel[F Float](dst, x []F, cols, workers int) {
	checkSame("SoftmaxRowsParallel", "dst", "x", len(dst), len(x))
	checkRows("SoftmaxRowsParallel", "x", len(x), cols)
	if is32[F]() {
		softmaxRowsParallel(active32, as32(dst), as32(x), cols, workers)
	} else {
		softmaxRowsParallel(active64, as64(dst), as64(x), cols, workers)
	}
}

// CrossEntropyGradParallel is CrossEntropyGrad spread over up to workers
// goroutines (workers <= 0: GOMAXPROCS), by rows or, with fewer rows than
// workers, by chunks of a row. The loss and gradient agree with
// CrossEntropyGrad within the accuracy bar. Small inputs run on the calling
// goroutine; split work allocates a few small objects per worker. It panics
// as CrossEntropyGrad does.
func CrossEntropyGradParallel[F Float, L Label](grad, logits []F, labels []L, cols, workers int) F {
	checkSame("CrossEntropyGradParallel", "grad", "logits", len(grad), len(logits))
	rows := checkRows("CrossEntropyGradParallel", "logits", len(logits), cols)
	kept := checkLabels("CrossEntropyGradParallel", labels, rows, cols)
	if is32[F]() {
		return F(crossEntropyParallel(active32, as32(grad), as32(logits), labels, cols, kept, workers))
	}
	return F(crossEntropyParallel(active64, as64(grad), as64(logits), labels, cols, kept, workers))
}

func workersFor(workers, n int) int {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	return max(1, min(workers, n/minChunk))
}

// part returns the bounds of part p of [0, n) split into w near-equal
// parts; unlike p*n/w, it cannot overflow (32-bit ints, rows of 2^28).
func part(p, w, n int) (lo, hi int) {
	q, r := n/w, n%w
	return p*q + min(p, r), (p+1)*q + min(p+1, r)
}

// parallelFor splits [0, n) into up to w contiguous ranges and runs f on
// each in its own goroutine, returning when all are done.
func parallelFor(w, n int, f func(part, lo, hi int)) {
	w = min(w, n)
	var wg sync.WaitGroup
	for p := range w {
		lo, hi := part(p, w, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(p, lo, hi)
		}()
	}
	wg.Wait()
}

func softmaxRowsParallel[F Float](k *kernels[F], dst, x []F, cols, workers int) {
	rows := len(x) / cols
	w := workersFor(workers, len(x))
	// Whole rows go through softmaxRows, which takes the set's batch
	// kernels (4× a loop of softmaxRow on rows of 10).
	switch {
	case w <= 1:
		softmaxRows(k, dst, x, cols)
	case rows >= w:
		parallelFor(w, rows, func(_, lo, hi int) {
			softmaxRows(k, dst[lo*cols:hi*cols], x[lo*cols:hi*cols], cols)
		})
	default:
		for r := range rows {
			d, xr := dst[r*cols:(r+1)*cols], x[r*cols:(r+1)*cols]
			if _, _, ok := chunkedSoftmax(k, d, xr, w, 1, false); !ok {
				softmaxRow(k, d, xr)
			}
		}
	}
}

// chunkedSoftmax stores softmax(x)/scale in dst using up to w goroutines on
// chunks of the row, and returns the row's max and split sum, with the
// cutoff's terms added back (withTail) when tail says so. It returns
// ok = false, having written nothing, for the special rows (a NaN, ±Inf max)
// that the serial path handles; a NaN found while summing fills dst with NaN.
func chunkedSoftmax[F Float](k *kernels[F], dst, x []F, w int, scale float64, tail bool) (m F, s [2]float64, ok bool) {
	w = max(1, min(w, len(x)/minChunk))
	maxes := make([]F, w)
	parallelFor(w, w, func(p, _, _ int) {
		lo, hi := part(p, w, len(x))
		maxes[p] = k.max(x[lo:hi])
	})
	m = maxes[0]
	for _, v := range maxes {
		m = max(m, v)
	}
	if math.IsInf(float64(m), 0) || m != m {
		return m, s, false
	}
	sums := make([][2]float64, w)
	fs := make([]float64, w) // the factor of each chunk's stored e (splitSum)
	// In place, withTail needs x after the sums: e is stored afterwards.
	later := tail && aliased(dst, x)
	store := k.expDiv == nil && !later
	unknown := F(math.Inf(-1)) // each chunk's smallest element
	parallelFor(w, w, func(p, _, _ int) {
		lo, hi := part(p, w, len(x))
		var d []F
		if store {
			d = dst[lo:hi]
		}
		sums[p][0], sums[p][1], fs[p] = splitSum(k, d, x[lo:hi], m, unknown)
	})
	s = mergeSums(sums)
	if s[0] != s[0] {
		fill(dst, nan)
		return m, s, true
	}
	if tail {
		s[0] = withTail(x, m, s[0])
	}
	total := (s[0] + s[1]) * scale
	parallelFor(w, w, func(p, _, _ int) {
		lo, hi := part(p, w, len(x))
		switch {
		case store:
			k.div(dst[lo:hi], dst[lo:hi], total*fs[p])
		case k.expDiv != nil:
			k.expDiv(dst[lo:hi], x[lo:hi], m, total)
		default:
			_, _, f := splitSum(k, dst[lo:hi], x[lo:hi], m, unknown)
			k.div(dst[lo:hi], dst[lo:hi], total*f)
		}
	})
	return m, s, true
}

// mergeSums adds the chunks' split sums, the rests compensated (addComp):
// plain adds round once per chunk, 4 ULP of a float64 Softmax at 256.
func mergeSums(sums [][2]float64) (s [2]float64) {
	var c float64
	for _, v := range sums {
		s[0], c = addComp(s[0], c, v[0])
		s[1] += v[1]
	}
	s[0] += c
	return s
}

func crossEntropyParallel[F Float, L Label](k *kernels[F], grad, logits []F, labels []L, cols, kept, workers int) float64 {
	rows := len(labels)
	w := workersFor(workers, len(logits))
	if kept == 0 || w <= 1 {
		return float64(crossEntropy(k, grad, logits, labels, cols, kept))
	}
	scale := float64(kept)
	if rows >= w {
		losses := make([][2]float64, w)
		parallelFor(w, rows, func(p, lo, hi int) {
			i, j := lo*cols, hi*cols
			losses[p][0], losses[p][1] = crossEntropySum(k, grad[i:j], logits[i:j], labels[lo:hi], cols, scale)
		})
		var loss, c float64
		for _, v := range losses {
			loss, c = addComp(loss, c, v[0]+v[1])
		}
		return (loss + c) / scale
	}
	var loss, c float64
	for r, label := range labels {
		g, x := grad[r*cols:(r+1)*cols], logits[r*cols:(r+1)*cols]
		if label < 0 {
			fill(g, 0)
			continue
		}
		xl := x[label]
		m, s, ok := chunkedSoftmax(k, g, x, w, scale, true)
		var l float64
		switch {
		case !ok:
			l = crossEntropyRow(k, g, x, int(label), scale)
		case s[0] != s[0]:
			l = nan
		default:
			l = (float64(m) - float64(xl)) + logOf[F](s[0], s[1])
			e := expAt(xl, m)
			g[label] = F(((e - s[1]) - s[0]) / (s[0] + s[1]) / scale)
		}
		loss, c = addComp(loss, c, l)
	}
	return (loss + c) / scale
}
