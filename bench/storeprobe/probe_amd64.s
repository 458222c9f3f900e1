#include "textflag.h"

// func passYMM(dst, src *float32, n int)
TEXT ·passYMM(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
ymm:
	VMOVUPS 0(SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	VADDPS  Y0, Y0, Y0
	VADDPS  Y1, Y1, Y1
	VADDPS  Y2, Y2, Y2
	VADDPS  Y3, Y3, Y3
	VMOVUPS Y0, 0(DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ    $128, SI
	ADDQ    $128, DI
	SUBQ    $128, CX
	JNZ     ymm
	VZEROUPPER
	RET

// func passZMM(dst, src *float32, n int)
TEXT ·passZMM(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
zmm:
	VMOVUPS 0(SI), Z0
	VMOVUPS 64(SI), Z1
	VADDPS  Z0, Z0, Z0
	VADDPS  Z1, Z1, Z1
	VMOVUPS Z0, 0(DI)
	VMOVUPS Z1, 64(DI)
	ADDQ    $128, SI
	ADDQ    $128, DI
	SUBQ    $128, CX
	JNZ     zmm
	VZEROUPPER
	RET

// func passNT(dst, src *float32, n int)
TEXT ·passNT(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
nt:
	VMOVUPS  0(SI), Y0
	VMOVUPS  32(SI), Y1
	VMOVUPS  64(SI), Y2
	VMOVUPS  96(SI), Y3
	VADDPS   Y0, Y0, Y0
	VADDPS   Y1, Y1, Y1
	VADDPS   Y2, Y2, Y2
	VADDPS   Y3, Y3, Y3
	VMOVNTPS Y0, 0(DI)
	VMOVNTPS Y1, 32(DI)
	VMOVNTPS Y2, 64(DI)
	VMOVNTPS Y3, 96(DI)
	ADDQ     $128, SI
	ADDQ     $128, DI
	SUBQ     $128, CX
	JNZ      nt
	SFENCE
	VZEROUPPER
	RET

// func passPrefetchW(dst, src *float32, n int, ahead uintptr)
TEXT ·passPrefetchW(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ ahead+24(FP), DX
pw:
	// Go's assembler lacks PREFETCHW (0F 0D /1).
	BYTE $0x0f; BYTE $0x0d; BYTE $0x0c; BYTE $0x17             // PREFETCHW 0(DI)(DX*1)
	BYTE $0x0f; BYTE $0x0d; BYTE $0x4c; BYTE $0x17; BYTE $0x40 // PREFETCHW 64(DI)(DX*1)
	VMOVUPS   0(SI), Y0
	VMOVUPS   32(SI), Y1
	VMOVUPS   64(SI), Y2
	VMOVUPS   96(SI), Y3
	VADDPS    Y0, Y0, Y0
	VADDPS    Y1, Y1, Y1
	VADDPS    Y2, Y2, Y2
	VADDPS    Y3, Y3, Y3
	VMOVUPS   Y0, 0(DI)
	VMOVUPS   Y1, 32(DI)
	VMOVUPS   Y2, 64(DI)
	VMOVUPS   Y3, 96(DI)
	ADDQ      $128, SI
	ADDQ      $128, DI
	SUBQ      $128, CX
	JNZ       pw
	VZEROUPPER
	RET

// func repMovsb(dst, src *float32, n int)
TEXT ·repMovsb(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	CLD
	REP; MOVSB
	RET

// func sumYMM(src *float32, n int) float32
TEXT ·sumYMM(SB), NOSPLIT, $0-20
	MOVQ   src+0(FP), SI
	MOVQ   n+8(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
sum:
	VADDPS 0(SI), Y0, Y0
	VADDPS 32(SI), Y1, Y1
	VADDPS 64(SI), Y0, Y0
	VADDPS 96(SI), Y1, Y1
	ADDQ   $128, SI
	SUBQ   $128, CX
	JNZ    sum
	VADDPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	MOVSS  X0, ret+16(FP)
	VZEROUPPER
	RET

// func copyYMM(dst, src *float32, n int)
TEXT ·copyYMM(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
cp:
	VMOVUPS 0(SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	VMOVUPS Y0, 0(DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ    $128, SI
	ADDQ    $128, DI
	SUBQ    $128, CX
	JNZ     cp
	VZEROUPPER
	RET
