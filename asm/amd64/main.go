package main

import (
	_ "github.com/mmcloughlin/avo/build"
)

func main() {}
