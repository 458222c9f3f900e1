package main

// cPeers are the C libraries measured through cgo; peers_cgo.go fills the
// list when the program is built with -tags peers (and cgo).
var cPeers []implementation

func allPeers() []implementation {
	return append(append([]implementation{}, goPeers...), cPeers...)
}
