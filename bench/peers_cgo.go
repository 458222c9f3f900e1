//go:build peers && cgo

package main

// The C peers: oneDNN's softmax_v2 primitive (forward inference,
// softmax_accurate, f32, rows×cols over axis 1) and XNNPACK's
// softmax_nc_f32 operator, both single-threaded (OMP_NUM_THREADS=1 from the
// parent for oneDNN, no pthreadpool for XNNPACK). Debian:
//
//	apt-get install libdnnl-dev libxnnpack-dev libpthreadpool-dev
//
// Their buffers live in C memory (the libraries keep the pointers between
// setup and run, which cgo does not allow for Go memory), so prepare
// copies the logits once; only the library's run call is timed.

/*
#cgo LDFLAGS: -ldnnl -lXNNPACK
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <oneapi/dnnl/dnnl.h>
#include <xnnpack.h>

static float *peer_alloc(size_t n) {
	void *p = NULL;
	if (posix_memalign(&p, 64, n * sizeof(float) + 64) != 0) return NULL;
	return (float *)p;
}

typedef struct {
	dnnl_engine_t engine;
	dnnl_stream_t stream;
	dnnl_primitive_desc_t pd;
	dnnl_primitive_t prim;
	dnnl_memory_t src, dst;
	char info[160];
} dnnl_job;

static const char *dnnl_isa_name(dnnl_cpu_isa_t isa) {
	switch (isa) {
	case dnnl_cpu_isa_sse41: return "sse41";
	case dnnl_cpu_isa_avx: return "avx";
	case dnnl_cpu_isa_avx2: return "avx2";
	case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
	case dnnl_cpu_isa_avx512_mic: return "avx512_mic";
	case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops";
	case dnnl_cpu_isa_avx512_core: return "avx512_core";
	case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
	case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
	case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
	default: return "other";
	}
}

#define DNNL_TRY(call) do { if ((call) != dnnl_success) return #call; } while (0)

// dnnl_job_create builds the primitive for a rows×cols f32 softmax over
// axis 1 on src and dst (C memory). It returns NULL or the failing call.
static const char *dnnl_job_create(dnnl_job *j, float *src, float *dst, long long rows, long long cols) {
	dnnl_memory_desc_t md;
	dnnl_softmax_v2_desc_t sd;
	dnnl_dims_t dims = {rows, cols};
	const char *impl = "?";
	const dnnl_version_t *v = dnnl_version();

	DNNL_TRY(dnnl_engine_create(&j->engine, dnnl_cpu, 0));
	DNNL_TRY(dnnl_stream_create(&j->stream, j->engine, dnnl_stream_default_flags));
	DNNL_TRY(dnnl_memory_desc_init_by_tag(&md, 2, dims, dnnl_f32, dnnl_ab));
	DNNL_TRY(dnnl_softmax_v2_forward_desc_init(&sd, dnnl_forward_inference, dnnl_softmax_accurate, &md, &md, 1));
	DNNL_TRY(dnnl_primitive_desc_create(&j->pd, &sd, NULL, j->engine, NULL));
	DNNL_TRY(dnnl_primitive_create(&j->prim, j->pd));
	DNNL_TRY(dnnl_memory_create(&j->src, &md, j->engine, src));
	DNNL_TRY(dnnl_memory_create(&j->dst, &md, j->engine, dst));
	dnnl_primitive_desc_query(j->pd, dnnl_query_impl_info_str, 0, &impl);
	snprintf(j->info, sizeof j->info, "oneDNN %d.%d.%d %s, max ISA %s",
		v->major, v->minor, v->patch, impl, dnnl_isa_name(dnnl_get_effective_cpu_isa()));
	return NULL;
}

static const char *dnnl_job_run(dnnl_job *j) {
	dnnl_exec_arg_t args[2] = {{DNNL_ARG_SRC, j->src}, {DNNL_ARG_DST, j->dst}};
	DNNL_TRY(dnnl_primitive_execute(j->prim, j->stream, 2, args));
	DNNL_TRY(dnnl_stream_wait(j->stream));
	return NULL;
}

static void dnnl_job_free(dnnl_job *j) {
	if (j->src) dnnl_memory_destroy(j->src);
	if (j->dst) dnnl_memory_destroy(j->dst);
	if (j->prim) dnnl_primitive_destroy(j->prim);
	if (j->pd) dnnl_primitive_desc_destroy(j->pd);
	if (j->stream) dnnl_stream_destroy(j->stream);
	if (j->engine) dnnl_engine_destroy(j->engine);
}

// xnn_job_create initialises XNNPACK and sets up softmax_nc_f32 over rows
// rows of cols channels, without a thread pool.
static const char *xnn_job_create(xnn_operator_t *op, const float *src, float *dst, size_t rows, size_t cols) {
	if (xnn_initialize(NULL) != xnn_status_success) return "xnn_initialize";
	if (xnn_create_softmax_nc_f32(cols, cols, cols, 0, op) != xnn_status_success) return "xnn_create_softmax_nc_f32";
	if (xnn_setup_softmax_nc_f32(*op, rows, src, dst, NULL) != xnn_status_success) return "xnn_setup_softmax_nc_f32";
	return NULL;
}

static int xnn_job_run(xnn_operator_t op) {
	return xnn_run_operator(op, NULL) == xnn_status_success;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"
)

const (
	peersTag  = true
	peersNote = ""
)

func init() {
	cPeers = append(cPeers, implementation{name: "onednn", kind: kindPeer, prepare: prepareDNNL, detail: peerDetail})
	if runtime.GOARCH == "amd64" {
		// The same library held to AVX2, so the avx2 kernel set has a
		// peer on the same instructions on AVX-512 machines too. oneDNN
		// reads DNNL_MAX_CPU_ISA once, when it initialises: hence a child
		// process of its own.
		cPeers = append(cPeers, implementation{name: "onednn-avx2", kind: kindPeer,
			env: []string{"DNNL_MAX_CPU_ISA=AVX2"}, prepare: prepareDNNL, detail: peerDetail})
	}
	cPeers = append(cPeers, implementation{name: "xnnpack", kind: kindPeer, prepare: prepareXNN, detail: peerDetail})
}

// lastDetail is what the last prepare learned about the library (a child
// runs one implementation at a time).
var lastDetail string

func peerDetail() string { return lastDetail }

// cBuffers copies x into C memory and allocates an output of the same size.
func cBuffers(x []float32) (src, dst *C.float, out []float32, free func(), err error) {
	n := C.size_t(len(x))
	src, dst = C.peer_alloc(n), C.peer_alloc(n)
	if src == nil || dst == nil {
		C.free(unsafe.Pointer(src))
		C.free(unsafe.Pointer(dst))
		return nil, nil, nil, nil, errors.New("out of C memory")
	}
	copy(unsafe.Slice((*float32)(unsafe.Pointer(src)), len(x)), x)
	out = unsafe.Slice((*float32)(unsafe.Pointer(dst)), len(x))
	return src, dst, out, func() { C.free(unsafe.Pointer(src)); C.free(unsafe.Pointer(dst)) }, nil
}

func prepareDNNL(x []float32, cols int) (func(), []float32, func(), error) {
	src, dst, out, freeBuf, err := cBuffers(x)
	if err != nil {
		return nil, nil, nil, err
	}
	j := (*C.dnnl_job)(C.calloc(1, C.size_t(unsafe.Sizeof(C.dnnl_job{}))))
	release := func() { C.dnnl_job_free(j); C.free(unsafe.Pointer(j)); freeBuf() }
	if e := C.dnnl_job_create(j, src, dst, C.longlong(len(x)/cols), C.longlong(cols)); e != nil {
		release()
		return nil, nil, nil, fmt.Errorf("oneDNN: %s failed", C.GoString(e))
	}
	lastDetail = C.GoString(&j.info[0])
	run := func() {
		if e := C.dnnl_job_run(j); e != nil {
			panic("oneDNN: " + C.GoString(e) + " failed")
		}
	}
	return run, out, release, nil
}

func prepareXNN(x []float32, cols int) (func(), []float32, func(), error) {
	src, dst, out, freeBuf, err := cBuffers(x)
	if err != nil {
		return nil, nil, nil, err
	}
	var op C.xnn_operator_t
	release := func() {
		if op != nil {
			C.xnn_delete_operator(op)
		}
		freeBuf()
	}
	if e := C.xnn_job_create(&op, src, dst, C.size_t(len(x)/cols), C.size_t(cols)); e != nil {
		release()
		return nil, nil, nil, fmt.Errorf("XNNPACK: %s failed", C.GoString(e))
	}
	lastDetail = "XNNPACK (Debian libxnnpack0), no thread pool"
	run := func() {
		if C.xnn_job_run(op) == 0 {
			panic("XNNPACK: xnn_run_operator failed")
		}
	}
	return run, out, release, nil
}
