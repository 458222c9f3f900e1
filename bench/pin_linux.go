package main

import "golang.org/x/sys/unix"

// pinThread binds the calling OS thread (the child locks its measuring
// goroutine to one) to CPU cpu.
func pinThread(cpu int) error {
	var set unix.CPUSet
	set.Set(cpu)
	return unix.SchedSetaffinity(0, &set)
}
