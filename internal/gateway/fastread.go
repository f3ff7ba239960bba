package gateway

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
)

// Reads that wait before they read.
//
// A Go read tries the socket first and waits for the poller only when
// nothing is there yet. On the fast path that first try nearly always
// finds nothing: a backend's response is read right after its request
// is written, and a client's next request right after its response is
// written, and neither can have come yet. Those empty reads were a
// quarter of the fast path's system calls under load.
//
// A waitReader writes and then waits: within one RawConn.Read, whose
// start forgets the poller's earlier news of the socket, it calls send
// (the write), and only then waits to hear that the socket is readable
// before it reads. Anything that arrives after that start is heard of.
// What arrived before it is not, so a waitReader serves only where
// nothing can be owed then:
//   - a backend's response on a reused connection, when send writes its
//     whole request (one that fits in the write buffer; exchangeHead
//     says why). Before the write it peeks, as get does before a reuse,
//     so a connection the backend closed, or bytes it sent unasked,
//     are found as before.
//   - a client's next request, when send writes the previous response
//     and nothing unread was left after the last request. A client
//     that pipelines may have sent more since that last read, which is
//     not heard of; the sweeper peeks at a connection that has waited
//     so for two ticks and wakes it when bytes (or an EOF) are waiting
//     (fastclock.go), so such a client waits up to 20 ms, never for good.

// waitReader reads one connection as above. Its callback is made once,
// so a read allocates nothing.
type waitReader struct {
	c    net.Conn
	raw  syscall.RawConn
	fn   func(fd uintptr) bool
	peek bool         // the next read peeks before send
	send func() error // called before the wait; nil once called
	p    []byte
	n    int
	err  error
}

// errStaleConn: a pooled connection's peek found it closed by the
// backend, or holding bytes nobody asked for. Nothing was written on it.
var errStaleConn = errors.New("pooled connection closed or written to while idle")

// newWaitReader returns a waitReader for c, or nil when c is not a
// socket the runtime polls (a wrapped or in-memory connection), whose
// reads then stay plain.
func newWaitReader(c net.Conn) *waitReader {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	w := &waitReader{c: c, raw: raw}
	w.fn = w.step
	return w
}

// step is the RawConn.Read callback: true ends the read, false waits
// for the socket to be readable and calls it again.
func (w *waitReader) step(fd uintptr) bool {
	if w.send != nil {
		if w.peek && !idleOpen(fd) {
			w.err = errStaleConn
			return true
		}
		send := w.send
		w.send = nil
		if err := send(); err != nil {
			w.err = err
			return true
		}
		return false
	}
	for {
		n, err := syscall.Read(int(fd), w.p)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return false
		case err != nil:
			w.err = &net.OpError{Op: "read", Net: "tcp", Source: w.c.LocalAddr(), Addr: w.c.RemoteAddr(), Err: os.NewSyscallError("read", err)}
		case n == 0 && len(w.p) > 0:
			w.err = io.EOF
		default:
			w.n = n
		}
		return true
	}
}

// read calls send, then waits for c to be readable and reads into p.
// peek: first check, as a pooled connection's reuse does, that nothing
// came on c while it was idle (errStaleConn, and send is not called). A
// deadline that had passed, or a closed connection, fails the read
// before send is called.
func (w *waitReader) read(p []byte, send func() error, peek bool) (int, error) {
	w.p, w.send, w.peek, w.n, w.err = p, send, peek, 0, nil
	rerr := w.raw.Read(w.fn)
	n, err := w.n, w.err
	w.p, w.send, w.err = nil, nil, nil
	if err == nil {
		err = rerr
	}
	return n, err
}

// pending reports whether bytes, an EOF or an error wait on the
// connection, without reading them and without blocking.
func (w *waitReader) pending() bool {
	open := true
	w.raw.Control(func(fd uintptr) { open = idleOpen(fd) })
	return !open
}

// idleOpen peeks at an idle connection without blocking: one the peer
// closed reads EOF (or an error), one that is open and quiet would
// block. Bytes waiting on an idle connection are a protocol error, so it
// does not count as open then either.
func idleOpen(fd uintptr) bool {
	var b [1]byte
	_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
}
