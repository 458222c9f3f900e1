package main

import (
	"fmt"
	"regexp"
	"runtime"
	"strings"

	"github.com/klauspost/cpuid/v2"
)

// CPUInfo is what the report says about the machine. It is saved in the
// JSON so that -compare can name each run's CPU.
type CPUInfo struct {
	Brand          string   `json:"brand"`
	Vendor         string   `json:"vendor"`
	Family         int      `json:"family"`
	Model          int      `json:"model"`
	Stepping       int      `json:"stepping"`
	PhysicalCores  int      `json:"physical_cores"`
	LogicalCores   int      `json:"logical_cores"`
	ThreadsPerCore int      `json:"threads_per_core"`
	L1D            int      `json:"l1d_bytes"`
	L2             int      `json:"l2_bytes"`
	L3             int      `json:"l3_bytes"`
	Features       []string `json:"features"` // the ones that matter, present only
	Missing        []string `json:"missing"`  // the ones that matter, absent
	GOOS           string   `json:"goos"`
	GOARCH         string   `json:"goarch"`
	NumCPU         int      `json:"num_cpu"`
}

// relevantFeatures are the CPU features the kernel sets and the peers care
// about, by architecture.
var relevantFeatures = map[string][]cpuid.FeatureID{
	"amd64": {cpuid.AVX, cpuid.AVX2, cpuid.FMA3, cpuid.AVX512F, cpuid.AVX512BW,
		cpuid.AVX512DQ, cpuid.AVX512VL, cpuid.AVX512CD, cpuid.AVX512VNNI, cpuid.AVX512BF16},
	"arm64": {cpuid.ASIMD, cpuid.FP, cpuid.ASIMDHP, cpuid.ASIMDDP, cpuid.SVE, cpuid.SVE2},
}

func detectCPU() CPUInfo {
	c := cpuid.CPU
	info := CPUInfo{
		Brand:          strings.TrimSpace(c.BrandName),
		Vendor:         c.VendorString,
		Family:         c.Family,
		Model:          c.Model,
		Stepping:       c.Stepping,
		PhysicalCores:  c.PhysicalCores,
		LogicalCores:   c.LogicalCores,
		ThreadsPerCore: c.ThreadsPerCore,
		L1D:            c.Cache.L1D,
		L2:             c.Cache.L2,
		L3:             c.Cache.L3,
		GOOS:           runtime.GOOS,
		GOARCH:         runtime.GOARCH,
		NumCPU:         runtime.NumCPU(),
	}
	if info.Vendor == "" && c.VendorID != cpuid.VendorUnknown {
		info.Vendor = c.VendorID.String()
	}
	for _, f := range relevantFeatures[runtime.GOARCH] {
		if c.Supports(f) {
			info.Features = append(info.Features, f.String())
		} else {
			info.Missing = append(info.Missing, f.String())
		}
	}
	return info
}

// Name is a one-line name for the CPU, for column headers and titles.
func (c CPUInfo) Name() string {
	name := c.Brand
	if name == "" {
		name = strings.TrimSpace(c.Vendor + " " + c.GOARCH)
	}
	return name
}

// Slug names the result files: the brand in lower case with dashes, plus
// family and model when the brand alone is vague (virtual machines often
// report just "AMD EPYC"), so different CPUs get different files.
func (c CPUInfo) Slug() string {
	s := strings.ToLower(c.Brand)
	for _, junk := range []string{"(r)", "(tm)", "cpu @", " processor"} {
		s = strings.ReplaceAll(s, junk, " ")
	}
	s = strings.Trim(regexp.MustCompile(`[^a-z0-9.]+`).ReplaceAllString(s, "-"), "-")
	if s == "" {
		s = strings.Trim(strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(c.Vendor, "-")), "-")
		if s == "" {
			s = "unknown"
		}
		s = c.GOARCH + "-" + s
	}
	if !regexp.MustCompile(`[0-9]`).MatchString(c.Brand) {
		s += fmt.Sprintf("-f%dm%d", c.Family, c.Model)
	}
	return s
}

func sizeString(b int) string {
	switch {
	case b <= 0:
		return "?"
	case b >= 1<<20 && b%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", b>>20)
	case b >= 1<<10:
		return fmt.Sprintf("%d KiB", b>>10)
	}
	return fmt.Sprintf("%d B", b)
}

// Lines describes the CPU for the report header.
func (c CPUInfo) Lines() []string {
	missing := "none"
	if len(c.Missing) > 0 {
		missing = strings.Join(c.Missing, " ")
	}
	return []string{
		fmt.Sprintf("CPU:      %s (vendor %s, family %d model %d stepping %d)", c.Name(), c.Vendor, c.Family, c.Model, c.Stepping),
		fmt.Sprintf("cores:    %d physical, %d logical (%d threads/core); Go sees %d", c.PhysicalCores, c.LogicalCores, c.ThreadsPerCore, c.NumCPU),
		fmt.Sprintf("caches:   L1d %s, L2 %s, L3 %s", sizeString(c.L1D), sizeString(c.L2), sizeString(c.L3)),
		fmt.Sprintf("features: %s (absent: %s)", strings.Join(c.Features, " "), missing),
	}
}
