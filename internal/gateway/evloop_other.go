//go:build !linux

package gateway

import "net"

// Event loops need epoll (evloop_linux.go): elsewhere, connections are
// served by goroutines alone.
type evLoop struct{}

func (f *Frontend) serveLoops(net.Listener) bool { return false }

func (f *Frontend) wakeLoops() {}
