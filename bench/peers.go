package main

// cPeers are the C libraries measured through cgo; peers_cgo.go fills the
// list when the program is built with -tags peers (and cgo).
var cPeers []implementation

// allPeers lists every implementation that is not a kernel set: the peers,
// then the bounds.
func allPeers() []implementation {
	return append(append(append([]implementation{}, goPeers...), cPeers...), bounds...)
}
