// Package storeprobe measures what it costs to write a batch's output
// that lives in the shared cache (L3), by the ways a kernel could store
// it: plain vector stores (which read each line first, for ownership),
// full-line AVX-512 stores, non-temporal stores, and a copy by REP MOVSB
// from a buffer in L1 (whose fast-string protocol may skip that read).
// SoftmaxRows on the report's batches runs at about this copy's speed on
// the Xeon, so the answer says whether any store could still pay there:
//
//	go -C bench test -run '^$' -bench . ./storeprobe
//
// It is a measurement, not part of the library: nothing imports it.
package storeprobe
