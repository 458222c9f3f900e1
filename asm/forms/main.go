// Command forms writes one tiny function per AVX2/FMA instruction form
// that the amd64 kernels use, for internal/avxemu/forms: its test runs
// each natively and under the interpreter on special-value inputs, the
// check of avxemu's instruction semantics, one form at a time, against
// the hardware.
//
//	go -C asm run ./forms -out ../internal/avxemu/forms/forms_amd64.s -stubs ../internal/avxemu/forms/forms_amd64.go
//
// Each function is func NAME(a, b, c, out *[40]byte): Y0, Y1, Y2 are
// loaded from a, b, c (AX, CX, DX hold their addresses, BX out's), the
// form runs, and Y2 is stored to out[0:32]; forms with a general-register
// result store it to out[32:40].
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
)

// A form is a named instruction sequence and its element size in bytes.
type form struct {
	name  string
	esize int
	insns []string
}

var forms = []form{
	{"VADDPS", 4, []string{"VADDPS Y0, Y1, Y2"}},
	{"VSUBPS", 4, []string{"VSUBPS Y0, Y1, Y2"}},
	{"VMULPS", 4, []string{"VMULPS Y0, Y1, Y2"}},
	{"VMAXPS", 4, []string{"VMAXPS Y0, Y1, Y2"}},
	{"VMINPS", 4, []string{"VMINPS Y0, Y1, Y2"}},
	{"VFMADD213PS", 4, []string{"VFMADD213PS Y0, Y1, Y2"}},
	{"VFMADD132PS", 4, []string{"VFMADD132PS Y0, Y1, Y2"}},
	{"VFMADD231PS", 4, []string{"VFMADD231PS Y0, Y1, Y2"}},
	{"VFNMADD231PS", 4, []string{"VFNMADD231PS Y0, Y1, Y2"}},
	{"VPADDD", 4, []string{"VPADDD Y0, Y1, Y2"}},
	{"VPSUBD", 4, []string{"VPSUBD Y0, Y1, Y2"}},
	{"VANDNPS", 4, []string{"VANDNPS Y0, Y1, Y2"}},
	{"VANDPS", 4, []string{"VANDPS Y0, Y1, Y2"}},
	{"VPERMPS", 4, []string{"VPERMPS Y0, Y1, Y2"}},
	{"VXORPS", 4, []string{"VXORPS Y0, Y1, Y2"}},
	{"VADDPD", 8, []string{"VADDPD Y0, Y1, Y2"}},
	{"VSUBPD", 8, []string{"VSUBPD Y0, Y1, Y2"}},
	{"VMULPD", 8, []string{"VMULPD Y0, Y1, Y2"}},
	{"VMAXPD", 8, []string{"VMAXPD Y0, Y1, Y2"}},
	{"VMINPD", 8, []string{"VMINPD Y0, Y1, Y2"}},
	{"VDIVPD", 8, []string{"VDIVPD Y0, Y1, Y2"}},
	{"VORPD", 8, []string{"VORPD Y0, Y1, Y2"}},
	{"VTESTPD_zf", 8, []string{"MOVQ $0x01, SI", "VTESTPD Y0, Y1", "JNZ vtestpd_zf", "MOVQ $0x02, SI", "vtestpd_zf:", "MOVQ SI, 32(BX)"}},
	{"VTESTPD_cf", 8, []string{"MOVQ $0x01, SI", "VTESTPD Y0, Y1", "JAE vtestpd_cf", "MOVQ $0x02, SI", "vtestpd_cf:", "MOVQ SI, 32(BX)"}},
	{"VFMADD213PD", 8, []string{"VFMADD213PD Y0, Y1, Y2"}},
	{"VFMADD231PD", 8, []string{"VFMADD231PD Y0, Y1, Y2"}},
	{"VFNMADD132PD", 8, []string{"VFNMADD132PD Y0, Y1, Y2"}},
	{"VFNMADD231PD", 8, []string{"VFNMADD231PD Y0, Y1, Y2"}},
	{"VANDNPD", 8, []string{"VANDNPD Y0, Y1, Y2"}},
	{"VANDPD", 8, []string{"VANDPD Y0, Y1, Y2"}},
	{"VMAXPS_m", 4, []string{"VMAXPS (AX), Y1, Y2"}},
	{"VFMADD213PD_m", 8, []string{"VFMADD213PD (AX), Y1, Y2"}},
	{"VPERMPS_m", 4, []string{"VPERMPS (AX), Y1, Y2"}},
	{"VMAXPS_x", 4, []string{"VMAXPS X0, X1, X2"}},
	{"VMINPS_x", 4, []string{"VMINPS X0, X1, X2"}},
	{"VCMPPS_00", 4, []string{"VCMPPS $0x00, Y0, Y1, Y2"}},
	{"VCMPPS_04", 4, []string{"VCMPPS $0x04, Y0, Y1, Y2"}},
	{"VCMPPS_05", 4, []string{"VCMPPS $0x05, Y0, Y1, Y2"}},
	{"VCMPPS_11", 4, []string{"VCMPPS $0x11, Y0, Y1, Y2"}},
	{"VCMPPS_15", 4, []string{"VCMPPS $0x15, Y0, Y1, Y2"}},
	{"VCMPPS_19", 4, []string{"VCMPPS $0x19, Y0, Y1, Y2"}},
	{"VCMPPS_1d", 4, []string{"VCMPPS $0x1d, Y0, Y1, Y2"}},
	{"VCMPPS_1e", 4, []string{"VCMPPS $0x1e, Y0, Y1, Y2"}},
	{"VCMPPD_00", 8, []string{"VCMPPD $0x00, Y0, Y1, Y2"}},
	{"VCMPSD_00", 8, []string{"VCMPSD $0x00, X0, X1, X2"}},
	{"VCMPPD_04", 8, []string{"VCMPPD $0x04, Y0, Y1, Y2"}},
	{"VCMPSD_04", 8, []string{"VCMPSD $0x04, X0, X1, X2"}},
	{"VCMPPD_05", 8, []string{"VCMPPD $0x05, Y0, Y1, Y2"}},
	{"VCMPSD_05", 8, []string{"VCMPSD $0x05, X0, X1, X2"}},
	{"VCMPPD_07", 8, []string{"VCMPPD $0x07, Y0, Y1, Y2"}},
	{"VCMPSD_07", 8, []string{"VCMPSD $0x07, X0, X1, X2"}},
	{"VCMPPD_11", 8, []string{"VCMPPD $0x11, Y0, Y1, Y2"}},
	{"VCMPSD_11", 8, []string{"VCMPSD $0x11, X0, X1, X2"}},
	{"VCMPPD_19", 8, []string{"VCMPPD $0x19, Y0, Y1, Y2"}},
	{"VCMPSD_19", 8, []string{"VCMPSD $0x19, X0, X1, X2"}},
	{"VCMPPD_1d", 8, []string{"VCMPPD $0x1d, Y0, Y1, Y2"}},
	{"VCMPSD_1d", 8, []string{"VCMPSD $0x1d, X0, X1, X2"}},
	{"VCMPPD_1e", 8, []string{"VCMPPD $0x1e, Y0, Y1, Y2"}},
	{"VCMPSD_1e", 8, []string{"VCMPSD $0x1e, X0, X1, X2"}},
	{"VCVTPD2PSY", 8, []string{"VCVTPD2PSY Y0, X2"}},
	{"VCVTPS2PD", 4, []string{"VCVTPS2PD X0, Y2"}},
	{"VCVTPS2PD_m", 4, []string{"VCVTPS2PD (AX), Y2"}},
	{"VPSLLD_13", 4, []string{"VPSLLD $0x13, Y0, Y2"}},
	{"VPSLLD_14", 4, []string{"VPSLLD $0x14, Y0, Y2"}},
	{"VPSLLD_17", 4, []string{"VPSLLD $0x17, Y0, Y2"}},
	{"VPSLLQ", 8, []string{"VPSLLQ $0x34, Y0, Y2"}},
	{"VPSRLQ", 8, []string{"VPSRLQ $0x34, X0, X2"}},
	{"VPADDQ", 8, []string{"VPADDQ (AX), X1, X2"}},
	{"VPSUBQ", 8, []string{"VPSUBQ (AX), X1, X2"}},
	{"VPAND", 8, []string{"VPAND (AX), X1, X2"}},
	{"VPOR", 8, []string{"VPOR (AX), X1, X2"}},
	{"VPSHUFD_1", 4, []string{"VPSHUFD $0x01, Y0, Y2"}},
	{"VPERMILPS_1", 4, []string{"VPERMILPS $0x01, X0, X2"}},
	{"VPSHUFD_e", 4, []string{"VPSHUFD $0x0e, Y0, Y2"}},
	{"VPERMILPS_e", 4, []string{"VPERMILPS $0x0e, X0, X2"}},
	{"VPERMILPD", 8, []string{"VPERMILPD $0x01, X0, X2"}},
	{"VBLENDVPS", 4, []string{"VBLENDVPS Y0, Y1, Y2, Y2"}},
	{"VBLENDVPD", 8, []string{"VBLENDVPD Y0, Y1, Y2, Y2"}},
	{"VBLENDVPDx", 8, []string{"VBLENDVPD X0, X1, X2, X2"}},
	{"VMASKMOVPS", 4, []string{"VMASKMOVPS (CX), Y0, Y2"}},
	{"VMASKMOVPSx", 4, []string{"VMASKMOVPS (CX), X0, X2"}},
	{"VADDSD", 8, []string{"VADDSD X0, X1, X2"}},
	{"VSUBSD", 8, []string{"VSUBSD X0, X1, X2"}},
	{"VMULSD", 8, []string{"VMULSD X0, X1, X2"}},
	{"VDIVSD", 8, []string{"VDIVSD X0, X1, X2"}},
	{"VFMADD213SD", 8, []string{"VFMADD213SD X0, X1, X2"}},
	{"VADDSD_m", 8, []string{"VADDSD (AX), X1, X2"}},
	{"VCVTSS2SD", 4, []string{"VCVTSS2SD X0, X1, X2"}},
	{"VCVTSD2SS", 8, []string{"VCVTSD2SS X0, X1, X2"}},
	{"VCMPSS_11", 4, []string{"VCMPSS $0x11, X0, X1, X2"}},
	{"VCMPSS_11m", 4, []string{"VCMPSS $0x11, (AX), X1, X2"}},
	{"VBROADCASTSS_x", 4, []string{"VBROADCASTSS X0, Y2"}},
	{"VPAND_x", 4, []string{"VPAND X0, X1, X2"}},
	{"VEXTRACTF128", 4, []string{"VEXTRACTF128 $0x01, Y0, X2"}},
	{"VINSERTF128", 4, []string{"VINSERTF128 $0x01, X0, Y1, Y2"}},
	{"VBROADCASTSS", 4, []string{"VBROADCASTSS (AX), Y2"}},
	{"VBROADCASTSD", 8, []string{"VBROADCASTSD X0, Y2"}},
	{"VMOVSD_m", 8, []string{"VMOVSD (AX), X2"}},
	{"VMOVSS_m", 4, []string{"VMOVSS (AX), X2"}},
	{"VMOVMSKPD", 8, []string{"VMOVMSKPD X0, SI", "MOVQ SI, 32(BX)"}},
	{"VMOVD", 4, []string{"VMOVD X0, SI", "MOVQ SI, 32(BX)"}},
	{"VCVTSI2SDL", 4, []string{"VCVTSI2SDL (AX), X1, X2"}},
	{"VCVTSI2SDQ", 8, []string{"VCVTSI2SDQ (AX), X1, X2"}},
	{"VZEROUPPER", 4, []string{"VMOVUPS Y0, Y2", "VZEROUPPER"}},
	{"VPXOR", 4, []string{"VPXOR Y0, Y1, Y2"}},
	{"VMOVAPD", 8, []string{"VMOVAPD Y0, Y2"}},
	{"VMOVUPD_m", 8, []string{"VMOVUPD (AX), Y2"}},
	{"VMOVUPD_store", 8, []string{"VMOVUPD Y0, (CX)", "VMOVUPS (CX), Y2"}},
	{"VMOVDQU_index", 4, []string{"MOVQ $0x01, SI", "VMOVDQU (AX)(SI*4), Y2"}},
	{"VMOVDQU_store", 4, []string{"VMOVDQU Y0, (CX)", "VMOVDQU (CX), Y2"}},
	{"VEXTRACTI128", 4, []string{"VEXTRACTI128 $0x01, Y0, X2"}},
}

func main() {
	out := flag.String("out", "forms_amd64.s", "assembly output")
	stubs := flag.String("stubs", "forms_amd64.go", "Go declarations output")
	pkg := flag.String("pkg", "forms", "package name of the stubs")
	flag.Parse()
	var s, g strings.Builder
	header := "// Code generated by command: go -C asm run ./forms. DO NOT EDIT.\n\n//go:build !purego\n\n"
	s.WriteString(header + "#include \"textflag.h\"\n")
	fmt.Fprintf(&g, "%spackage %s\n\n// forms lists the functions with their element sizes.\nvar forms = []form{\n", header, *pkg)
	for _, f := range forms {
		fmt.Fprintf(&s, "\n// func %s(a, b, c, out *[40]byte)\nTEXT ·%s(SB), NOSPLIT, $0-32\n", f.name, f.name)
		for _, i := range []string{"MOVQ a+0(FP), AX", "MOVQ b+8(FP), CX", "MOVQ c+16(FP), DX", "MOVQ out+24(FP), BX",
			"VMOVUPS (AX), Y0", "VMOVUPS (CX), Y1", "VMOVUPS (DX), Y2"} {
			fmt.Fprintf(&s, "\t%s\n", i)
		}
		for _, i := range f.insns {
			fmt.Fprintf(&s, "\t%s\n", i)
		}
		s.WriteString("\tVMOVUPS Y2, (BX)\n\tVZEROUPPER\n\tRET\n")
		fmt.Fprintf(&g, "\t{%q, %d, %s},\n", f.name, f.esize, f.name)
	}
	g.WriteString("}\n")
	for _, f := range forms {
		fmt.Fprintf(&g, "\n//go:noescape\nfunc %s(a, b, c, out *[40]byte)\n", f.name)
	}
	for path, text := range map[string]string{*out: s.String(), *stubs: g.String()} {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			log.Fatal(err)
		}
	}
}
