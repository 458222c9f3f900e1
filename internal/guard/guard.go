//go:build unix

// Package guard allocates slices that sit against an inaccessible page, so
// that a kernel reading or writing one element past either end faults.
package guard

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Supported reports whether this platform has guard pages (else the
// functions return ordinary slices).
const Supported = true

// Slice returns n elements of T whose last element ends exactly where an
// inaccessible page begins (atEnd) or whose first element starts exactly
// where one ends (!atEnd). Free releases the mapping.
func Slice[T any](n int, atEnd bool) (s []T, free func()) {
	var zero T
	size := int(unsafe.Sizeof(zero))
	page := unix.Getpagesize()
	data := (n*size + page - 1) / page * page
	mem, err := unix.Mmap(-1, 0, data+2*page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		panic(err)
	}
	for _, g := range [][]byte{mem[:page], mem[page+data:]} {
		if err := unix.Mprotect(g, unix.PROT_NONE); err != nil {
			panic(err)
		}
	}
	off := page
	if atEnd {
		off = page + data - n*size
	}
	if n == 0 {
		return []T{}, func() { unix.Munmap(mem) }
	}
	s = unsafe.Slice((*T)(unsafe.Pointer(&mem[off])), n)
	return s, func() { unix.Munmap(mem) }
}

// Pages returns n elements of T starting at a page boundary, and a function
// that makes the pages holding s[i:j] inaccessible (i and j must be page
// aligned in bytes). Free releases the mapping.
func Pages[T any](n int) (s []T, protect func(i, j int), free func()) {
	var zero T
	size := int(unsafe.Sizeof(zero))
	page := unix.Getpagesize()
	data := (n*size + page - 1) / page * page
	mem, err := unix.Mmap(-1, 0, data, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		panic(err)
	}
	protect = func(i, j int) {
		if i*size%page != 0 || j*size%page != 0 {
			panic("guard.Pages: protect range not page aligned")
		}
		if err := unix.Mprotect(mem[i*size:j*size], unix.PROT_NONE); err != nil {
			panic(err)
		}
	}
	return unsafe.Slice((*T)(unsafe.Pointer(&mem[0])), n), protect, func() { unix.Munmap(mem) }
}

// PageSize is the size of a memory page in bytes.
func PageSize() int { return unix.Getpagesize() }
