// Package softmax computes the softmax family — softmax, log-softmax,
// log-sum-exp, cross-entropy with its gradient, their backward passes and
// the Jacobian — for float32 and float64, on single vectors and on
// row-major batches, with SIMD kernels chosen for the CPU at run time.
//
// # The math
//
// softmax(x)_i = exp(x_i) / Σ_k exp(x_k). Computed as written, exp
// overflows for x_i > 88 (float32) and every term underflows to 0 for very
// negative rows, giving Inf/Inf or 0/0. Subtracting the row's max m first
// changes nothing mathematically — the factor exp(−m) cancels between
// numerator and denominator — but makes every exponent <= 0, so every term
// is in [0, 1] and the sum is in [1, n]: no overflow, and the largest term
// is exactly 1, so the sum never underflows. The same shift gives
// log Σ exp(x_k) = m + log Σ exp(x_k − m) and log-softmax
// x_i − m − log Σ exp(x_k − m), computed without forming softmax, so they
// stay accurate where softmax itself underflows.
//
// For a row of logits x with true class y, the cross-entropy loss is
// −log softmax(x)_y = log Σ exp(x_k) − x_y. Its derivative with respect to
// x_j is softmax(x)_j − [j = y]: the familiar p − y (onehot y), which is why
// CrossEntropyGrad fuses the loss and the gradient and never forms the
// Jacobian. Averaged over m rows, the gradient is (p − y)/m.
//
// # Semantics
//
// Every kernel set and both element types agree on these rules:
//   - dst may be the same slice as x (in place); partial overlap is undefined.
//   - Empty input writes nothing; LogSumExp of nothing is −Inf; a batch
//     with no rows has loss 0.
//   - An −Inf logit gets probability exactly 0 (masking). A row of only
//     −Inf gives zeros from Softmax, −Inf from LogSoftmax and LogSumExp:
//     the "safe softmax" attention masks need, never NaN.
//   - A NaN or +Inf anywhere in a row makes every output of that row NaN.
//   - In CrossEntropy and CrossEntropyGrad a negative label marks a row to
//     ignore (padding): its logits cannot change any result, it adds no
//     loss, is not counted in the mean, and gets a zero gradient.
//   - Bad arguments (length mismatches, cols <= 0, a batch length that is
//     not a multiple of cols, a label >= cols, a Jacobian dst not n×n)
//     panic with a message naming the function and the values, before
//     anything is written.
//
// The functions allocate nothing and start no goroutines, except the
// *Parallel ones when they split the work (a few small objects per
// worker); all are safe for concurrent use.
//
// # Accuracy
//
// float32 results are within 4 ULP of a float64 reference computed from
// the same inputs, for every output >= 2^-126 (the smallest normal float32),
// at every length and logit spread; the generic kernels, which compute in
// float64, are within 1 ULP. Two effects would otherwise dominate: the
// rounding of x − m, which the kernels recover with an error-free
// difference (or, in the AVX sets' Softmax, and their LogSoftmax,
// LogSumExp and cross-entropy where |m| < 176, never form: they reduce x
// against a per-row M·ln2 just below m, exactly, and the constant factor
// exp(m − M·ln2) cancels in the division or is divided out of the sum in
// float64; Softmax and the cross-entropy gradient shift a row with a
// larger max first, x − m being exact for every term that counts), and
// the growth of the float32 sum's error with n, which they avoid by
// adding short float32 runs into float64 (in the table kernels, every
// term widened on its own). The table kernels also correct their table's
// float32 rounding, so that in Softmax one term's error and the sum's,
// lined up against each other on purpose, stay within 3.5 ULP.
// The sum is kept as the count of terms equal to 1 plus the rest, so that
// log Σ stays accurate when one class dominates (log1p of the rest).
// exp(x − m) terms below 2^-126 are flushed to 0 on every set alike
// (Softmax gives exactly 0 there, and the soft-target gradient −y/rows,
// p being 0: with targets summing to more than rows, p·Σy/rows of such
// an element may exceed 2^-126 and is lost, as float64's is where p is
// below 2^-1022 and keeps only its subnormal bits), except in log Σ where the other terms
// sum to below 2^-76: there they are added back, since many of them make
// LogSoftmax and the loss at the max an output above 2^-126 (the row
// [0, −88, −88, −88] has LogSumExp 1.8e-38).
// float64 results are within 4 ULP of a double-double reference; float64
// sums keep the terms below its normal range at full precision (scaled),
// as many of them make a normal log Σ. Where LogSumExp's max + log Σ
// cancels (a negative max above −2·log Σ), math.Log's error alone would be
// several ULPs of the result, so the row is summed again (in double-double
// where the result is below 1/16): that holds the 4 ULP down to results of
// 2^-40 of log Σ, however small log Σ is, not below (float64
// log-probabilities, whose LogSumExp is about 1e-16, would take
// triple-double).
//
// Outputs that are differences may cancel far below their terms: dy −
// ⟨p, dy⟩ (SoftmaxBackward), dy − exp(logp)·Σdy (LogSoftmaxBackward) and
// p·Σy − y (the soft-target gradient, where the targets match the
// probabilities). Every set forms them in float64 precision — ⟨p, dy⟩ and
// Σdy compensated, ⟨p, dy⟩ kept as a double-double pair, those exps
// float64-accurate — so the bound there is 4 ULP of the output plus 2^-43
// of the larger term (what the sets reach is float64's rounding of that
// term, 2^-53 to 2^-51 of it, on float32 and float64 alike), and, where
// the compensated sum or dot itself cancels, its error, n·2^-104 of the
// sum of the magnitudes, times its factor: p[i]·n·2^-104·Σ|p·dy| for
// SoftmaxBackward (reached where dy is constant and p sums to 1 within
// 2^-110, which subnormal probabilities can do), exp(logp[i])·n·2^-104·Σ|dy|
// for LogSoftmaxBackward and p[i]·n·2^-104·Σ|y|/rows for the soft-target
// gradient (reached where dy or y span more than 2^100 and cancel, as
// 2^100 + 2^40 + 2^-20 − 2^100 − 2^40 does). LogSumExp = max +
// log Σ cancels for log-probabilities (it is the rounding of their
// normalization, 1e-8 against terms near 10); such a row is summed again
// in double-double, with log Σ as log1p of the terms other than the max's
// (a confident classifier's log Σ is near 1e-22, its LogSumExp 1e-35), so
// the float32 result keeps its 4 ULP there too, at about a hundred times
// the cost. Below 2^-68 of log Σ (log-probabilities are near 2^-25 of it),
// which only rows whose logits are picked so that their exps cancel reach,
// the row is summed once more in triple-double (15–20 µs an element),
// which holds the 4 ULP down to the float32 normal range.
//
// # Kernel sets and dispatch
//
// float32 work runs on one of the kernel sets "avx512", "avx2" (amd64, AVX2
// and FMA), "neon" (arm64) or "generic" (pure Go, every platform), chosen
// once at start-up from the CPU's features; Impl reports which. The
// environment variable SOFTMAX_IMPL=generic|avx2|avx512|neon forces a set;
// the program panics at start-up if the CPU cannot run it, so a benchmark
// never silently measures the wrong code. float64 has SIMD kernels too, on
// amd64 with AVX2 and FMA (AVX-512 CPUs run them) and on arm64 (NEON): the
// max, exp, division and subtraction passes of Softmax, LogSoftmax,
// LogSumExp and the integer-label cross-entropy (and their Rows and
// Parallel forms), within the worst errors of generic's and 6 to 9 times
// as fast (AVX2); SoftmaxBackward's dot and update too, with generic's
// numerics (the dot a renormalized double-double pair of exact products),
// about 8 times as fast (AVX2), LogSoftmaxBackward, about 7 times (its
// exp as the Softmax kernels', to about 2^-56, where logp is a
// log-probability or −Inf), and the soft-target gradient, about 8 times.
// SOFTMAX_IMPL=generic makes float64 generic too. Building with the tag
// purego compiles no assembly at all.
package softmax
