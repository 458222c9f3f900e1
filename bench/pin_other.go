//go:build !linux

package main

import "errors"

func pinThread(cpu int) error { return errors.New("-cpu is supported on Linux only") }
