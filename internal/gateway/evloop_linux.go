package gateway

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// Event loops.
//
// A goroutine per connection, blocked in reads and writes through Go's
// network poller, costs every request two hand-offs through the
// scheduler: the poller finds the connection readable, readies its
// goroutine, and wakes a thread to run it. On a small machine where a
// thread's wake-up is slow (38-51 µs for a round trip on the reference
// machine; perf-baselines.md), that is most of what the fast path costs
// beyond nginx's. nginx has one thread per core, each waiting in
// epoll_wait and serving whatever is ready.
//
// So on Linux, a Frontend whose listener is a TCP listener serves its
// connections with event loops like nginx's workers: one per P, each an
// OS thread of its own (locked) with its own epoll instance, accepting
// from the listener and serving its connections' requests with
// non-blocking reads and writes and no goroutine. The loops share the
// connections (accept). A loop takes only the
// exchanges that make up nearly all traffic: a GET or HEAD without a
// body, on a route the fast path serves (admission included), whose
// response is framed by a Content-Length (or has no body). Everything
// else goes to a goroutine: at a request the loop does not take, the
// connection, with the bytes it read, becomes a fastConn served as if
// it had been from the start (which may hand it on to net/http); at a
// response it does not relay (chunked or unframed, 1xx, a head larger
// than its buffer or one it cannot parse), the exchange itself goes to
// the goroutine, which reads the response as the fast path does,
// replaying the bytes the loop read. A connection handed over stays with
// its goroutine.
//
// The loop keeps the fast path's other rules: the same parsing
// (parseHead, responseHead), the same request and response heads
// (writeRequest, writeResponseHead), the balancer through Upstreams, the
// access-log hook, and the timeouts: the idle timeout, ReadHeaderTimeout,
// the response-header timeout and the route's timeout, and a client that
// takes nothing of a response for 1.5 idle timeouts is dropped
// (writestall.go); a timeout or a head cut short gets the fast path's 504
// or 502 from the loop. A request that fails on a connection the loop
// reused, before any byte of a response, is sent again on a new one; a
// failure on a new one gives the exchange to a goroutine, which goes on
// as forward does after a failed attempt (nextAttempt: the instance
// marked failed, the retry rules, another instance).

// eventLoops is how many loops a Frontend runs: SLIPWAY_EVENT_LOOPS when
// set (0 turns them off), else GOMAXPROCS (before loopProcs raised it).
func eventLoops() int {
	if v := os.Getenv("SLIPWAY_EVENT_LOOPS"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			return min(n, 64)
		}
	}
	loopProcs.Lock()
	defer loopProcs.Unlock()
	if loopProcs.loops > 0 {
		return loopProcs.base
	}
	return runtime.GOMAXPROCS(0)
}

// loopProcs gives each running event loop a P of its own on top of the
// runtime's GOMAXPROCS. A loop's thread holds its P while it serves and
// while it waits in epoll_wait; with as many loops as Ps, the server's
// goroutines (the access log, metrics, the control plane, hand-overs)
// would get one only when the runtime's monitor takes it back from a
// waiting loop, and the loop must then wait for a P when it wakes: the
// thread hand-offs the loops exist to avoid. (In make bench on a 2-core
// machine, the balancer's throughput against nginx's was 0.83 and 0.89
// with 2 loops on 2 Ps, 0.91-1.01 on 4.) Not when GOMAXPROCS is set in
// the environment: the operator chose.
var loopProcs struct {
	sync.Mutex
	base, loops int
}

func addLoopProcs(n int) {
	if os.Getenv("GOMAXPROCS") != "" {
		return
	}
	loopProcs.Lock()
	defer loopProcs.Unlock()
	if loopProcs.loops == 0 {
		loopProcs.base = runtime.GOMAXPROCS(0)
	}
	loopProcs.loops += n
	runtime.GOMAXPROCS(loopProcs.base + loopProcs.loops)
}

// serveLoops serves ln with event loops, when it is a TCP listener and
// loops are on. ok false: ln is left to the accept loop.
func (f *Frontend) serveLoops(ln net.Listener) (ok bool) {
	n := eventLoops()
	tl, isTCP := ln.(*net.TCPListener)
	if n == 0 || !isTCP {
		return false
	}
	rc, err := tl.SyscallConn()
	if err != nil {
		return false
	}
	var loops []*evLoop
	defer func() {
		if !ok {
			for _, l := range loops {
				l.release()
			}
		}
	}()
	for range n {
		var lfd int
		derr := errors.New("no descriptor")
		rc.Control(func(fd uintptr) { lfd, derr = dupCloexec(int(fd)) })
		if derr != nil {
			return false
		}
		l, err := newEvLoop(f, lfd)
		if err != nil {
			syscall.Close(lfd)
			return false
		}
		loops = append(loops, l)
	}
	f.mu.Lock()
	if f.closing.Load() {
		f.mu.Unlock()
		return false
	}
	f.loops = loops
	f.wg.Add(len(loops))
	f.mu.Unlock()
	addLoopProcs(len(loops))
	for _, l := range loops {
		l.peers = loops
		go l.run()
	}
	return true
}

func dupCloexec(fd int) (int, error) {
	nfd, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, 0)
	if e != 0 {
		return -1, e
	}
	return int(nfd), nil
}

// wakeLoops makes every loop look at the Frontend's state (closing).
func (f *Frontend) wakeLoops() {
	f.mu.Lock()
	loops := f.loops
	f.mu.Unlock()
	for _, l := range loops {
		l.wakeUp()
	}
}

// States of a loop's client connection.
const (
	evIdle    = iota // waiting for a request's first byte
	evHead           // for the rest of its head
	evBackend        // for the response's head
	evRelay          // relaying the response's body
)

// evLoop is one event loop: its epoll instance, listener, connections
// and idle backend connections.
type evLoop struct {
	f      *Frontend
	peers  []*evLoop    // the Frontend's loops, this one included
	load   atomic.Int32 // len(conns); math.MaxInt32 once stopped
	paused atomic.Bool  // not accepting for now (pauseAc)
	ep     int
	lfd    int // its own descriptor of the listener; -1 once closed
	wake   int // an eventfd: Shutdown and Close write it
	events []syscall.EpollEvent
	fds    []evItem // by descriptor
	gen    uint32
	conns  map[*evClient]struct{}
	idle   map[string][]*evUp
	addrs  map[string]syscall.Sockaddr // backend addresses, parsed
	now    time.Time                   // of the last wake-up
	swept  time.Time
	// req composes requests; rr and rb read response heads.
	req     bufio.Writer
	reqBuf  sliceWriter
	rr      bytes.Reader
	rb      *bufio.Reader
	pauseAc time.Time // accepting paused (out of descriptors) until
	stopped bool

	mu sync.Mutex // guards wakeFd's use against release
}

// evItem is what a descriptor of the loop's is: a client's connection
// or a backend's. gen tells events for a descriptor closed, and its
// number reused, within one batch from those for its new use.
type evItem struct {
	c   *evClient
	u   *evUp
	gen uint32
}

// evClient is a client connection a loop serves. Its fastConn holds the
// parsing state, the exchange and the response head, as for a
// goroutine; its c stays nil until the connection is handed over.
type evClient struct {
	fd         int
	fc         *fastConn
	state      int
	until      time.Time // when the state's wait ends; zero: never
	pend       []byte    // written and not yet taken by the socket
	stallSince time.Time // since when pend has been waiting
	ready      bool      // bytes may wait unread (an edge came while not reading)
	rdhup      bool      // the client closed its side
	head       int       // where the head of the exchange in flight began in fc.buf
	up         *evUp
	left       int64 // body bytes still to relay
	closeAfter bool
	drain      bool // close once pend is written
	dead       bool // a write failed
}

// evUp is a connection to a backend.
type evUp struct {
	fd         int
	addr       string
	buf        []byte
	n          int
	c          *evClient // the exchange it serves; nil when idle
	connecting bool
	req        []byte // request bytes not yet written
	reused     bool
	ready      bool
	eof        bool  // the backend closed its side (or failed): read to the end
	err        error // how a read failed
	idleAt     time.Time
	dialAt     time.Time
}

// sliceWriter collects what a bufio.Writer flushes.
type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// evOut is a loop client's fc.out's writer: it writes to the socket
// without blocking and keeps what the socket does not take.
type evOut evClient

func (o *evOut) Write(p []byte) (int, error) {
	c := (*evClient)(o)
	if c.dead {
		return 0, net.ErrClosed
	}
	n := len(p)
	if len(c.pend) == 0 {
		w, err := rawWrite(c.fd, p)
		if err != nil {
			c.dead = true
			return 0, err
		}
		p = p[w:]
	}
	if len(p) > 0 {
		if len(c.pend) == 0 {
			c.stallSince = time.Now()
		}
		c.pend = append(c.pend, p...)
	}
	return n, nil
}

// rawRead and rawWrite are read and write on a non-blocking socket,
// which never block: without the runtime's system-call bookkeeping.
// EAGAIN reads as 0 bytes and no error for rawWrite, as -1 for rawRead.
func rawRead(fd int, p []byte) (int, error) {
	for {
		var r uintptr
		var e syscall.Errno
		if raceEnabled {
			r, e = raceIO(syscall.Read, fd, p)
		} else {
			r, _, e = syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		}
		switch e {
		case 0:
			return int(r), nil
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return -1, nil
		}
		return 0, e
	}
}

func rawWrite(fd int, p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		var r uintptr
		var e syscall.Errno
		if raceEnabled {
			r, e = raceIO(syscall.Write, fd, p)
		} else {
			r, _, e = syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		}
		switch e {
		case 0:
			written += int(r)
			p = p[r:]
			continue
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return written, nil
		}
		return written, e
	}
	return written, nil
}

// raceIO reads or writes through package syscall, for the race
// detector (see raceEnabled).
func raceIO(io func(int, []byte) (int, error), fd int, p []byte) (uintptr, syscall.Errno) {
	n, err := io(fd, p)
	if err != nil {
		return 0, err.(syscall.Errno)
	}
	return uintptr(n), 0
}

const (
	epollET        = 1 << 31
	epollExclusive = 1 << 28
	evConnEvents   = syscall.EPOLLIN | syscall.EPOLLOUT | syscall.EPOLLRDHUP | epollET
	evUpBuf        = 16 << 10
)

func newEvLoop(f *Frontend, lfd int) (*evLoop, error) {
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	wfd, _, e := syscall.Syscall(syscall.SYS_EVENTFD2, 0, syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if e != 0 {
		syscall.Close(ep)
		return nil, e
	}
	l := &evLoop{f: f, ep: ep, lfd: lfd, wake: int(wfd), events: make([]syscall.EpollEvent, 256),
		conns: map[*evClient]struct{}{}, idle: map[string][]*evUp{}, addrs: map[string]syscall.Sockaddr{}}
	l.req = *bufio.NewWriterSize(&l.reqBuf, 4<<10)
	l.rb = bufio.NewReaderSize(&l.rr, 4<<10)
	if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, lfd, &syscall.EpollEvent{Events: syscall.EPOLLIN | epollExclusive | epollET, Fd: int32(lfd)}); err != nil {
		l.release()
		return nil, err
	}
	if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, l.wake, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(l.wake)}); err != nil {
		l.release()
		return nil, err
	}
	return l, nil
}

// release closes what the loop holds of its own.
func (l *evLoop) release() {
	if l.lfd >= 0 {
		syscall.Close(l.lfd)
		l.lfd = -1
	}
	syscall.Close(l.ep)
	l.mu.Lock()
	syscall.Close(l.wake)
	l.wake = -1
	l.mu.Unlock()
}

func (l *evLoop) wakeUp() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.wake >= 0 {
		one := uint64(1)
		syscall.Write(l.wake, (*[8]byte)(unsafe.Pointer(&one))[:])
	}
}

func (l *evLoop) run() {
	runtime.LockOSThread()
	defer l.f.wg.Done()
	defer addLoopProcs(-1)
	defer l.release()
	defer l.load.Store(math.MaxInt32) // given no more connections
	for !l.stopped {
		wait := -1
		if len(l.conns) > 0 || len(l.idle) > 0 || !l.pauseAc.IsZero() {
			wait = 100
		}
		n, err := syscall.EpollWait(l.ep, l.events, wait)
		if err != nil && err != syscall.EINTR {
			l.f.g.log.Error("gateway event loop failed", "err", err)
			l.closeAll()
			return
		}
		l.now = time.Now()
		for i := range max(n, 0) {
			ev := &l.events[i]
			fd, mask := int(ev.Fd), ev.Events
			switch {
			case fd == l.lfd:
				l.accept()
			case fd == l.wake:
				var b [8]byte
				syscall.Read(l.wake, b[:])
				if l.lfd >= 0 && l.pauseAc.IsZero() {
					l.accept() // another loop may have passed connections on
				}
			case fd < len(l.fds) && l.fds[fd].gen == uint32(ev.Pad):
				if it := l.fds[fd]; it.c != nil {
					l.clientEvent(it.c, mask)
				} else if it.u != nil {
					l.upEvent(it.u, mask)
				}
			}
		}
		if l.f.closing.Load() {
			l.shut()
		}
		if l.now.Sub(l.swept) >= 100*time.Millisecond {
			l.swept = l.now
			l.sweep()
		}
	}
}

// register adds fd, which is it, to the loop's epoll instance.
func (l *evLoop) register(fd int, it evItem) error {
	for fd >= len(l.fds) {
		l.fds = append(l.fds, make([]evItem, max(64, len(l.fds)))...)
	}
	l.gen++
	it.gen = l.gen
	l.fds[fd] = it
	ev := syscall.EpollEvent{Events: evConnEvents, Fd: int32(fd), Pad: int32(it.gen)}
	return syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_ADD, fd, &ev)
}

// accept takes the listener's pending connections while the loop
// serves no more than its share of the loops' connections. Past that it
// wakes the loop that serves fewest, which goes on accepting: the
// listener is edge-triggered, so a loop that left connections pending
// would not hear of them again before the next one arrived. Without the
// shares, the loop that woke first took a burst of new connections
// whole (in make bench, 63 of wrk's 64), and served them on one core.
func (l *evLoop) accept() {
	for !l.f.closing.Load() {
		if to := l.fewer(); to != nil {
			to.wakeUp()
			return
		}
		nfd, sa, err := syscall.Accept4(l.lfd, syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
		switch err {
		case nil:
		case syscall.EAGAIN:
			return // none left
		case syscall.EINTR, syscall.ECONNABORTED:
			continue
		default:
			// Out of descriptors (EMFILE, ENFILE, ENOBUFS, ENOMEM) or
			// another failure: stop listening a while, as net/http backs
			// off. Listening again tells the loop of what is pending.
			syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_DEL, l.lfd, nil)
			l.pauseAc = l.now.Add(100 * time.Millisecond)
			l.paused.Store(true)
			return
		}
		syscall.SetsockoptInt(nfd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
		// As net.Listen's connections: keep-alive probes after 15 s.
		syscall.SetsockoptInt(nfd, syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1)
		syscall.SetsockoptInt(nfd, syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE, 15)
		syscall.SetsockoptInt(nfd, syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL, 15)
		l.adopt(nfd, sockaddrString(sa))
	}
}

func sockaddrString(sa syscall.Sockaddr) string {
	switch a := sa.(type) {
	case *syscall.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)).String()
	case *syscall.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port)).String()
	}
	return ""
}

// fewer returns the loop that serves fewest connections, when this one
// serves more than that and its share of slack, or nil.
func (l *evLoop) fewer() *evLoop {
	least, m := l, l.load.Load()
	for _, p := range l.peers {
		if n := p.load.Load(); n < m && !p.paused.Load() {
			least, m = p, n
		}
	}
	if l.load.Load() <= m+acceptSlack+m/16 {
		return nil
	}
	return least
}

// acceptSlack is how many connections a loop may serve beyond the least
// busy loop's before it passes new ones on (plus one in 16 of those).
const acceptSlack = 1

// adopt starts serving an accepted connection.
func (l *evLoop) adopt(fd int, remote string) {
	f := l.f
	fc := &fastConn{f: f, buf: make([]byte, 4<<10)}
	fc.resp.h = make(http.Header, 8)
	fc.peer, fc.hasPeer, fc.trustedPeer = peerOfAddr(remote, f.g)
	c := &evClient{fd: fd, fc: fc, state: evIdle, until: l.now.Add(IdleTimeout), ready: true}
	fc.out = bufio.NewWriterSize((*evOut)(c), 4<<10)
	l.conns[c] = struct{}{}
	l.load.Store(int32(len(l.conns)))
	if err := l.register(fd, evItem{c: c}); err != nil {
		l.closeClient(c)
		return
	}
	if fc.trustedPeer {
		// Their X-Forwarded-* are for net/http's path (see serve).
		l.handOver(c, nil)
		return
	}
	l.readClient(c)
}

func (l *evLoop) clientEvent(c *evClient, mask uint32) {
	if mask&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
		c.rdhup = true
	}
	if mask&(syscall.EPOLLOUT|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 && len(c.pend) > 0 {
		if !l.flush(c) {
			return
		}
	}
	if mask&(syscall.EPOLLIN|syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
		c.ready = true
	}
	if c.ready {
		l.readClient(c)
	}
}

// flush writes what waits for the client; false: the connection ended.
func (l *evLoop) flush(c *evClient) bool {
	w, err := rawWrite(c.fd, c.pend)
	if err != nil {
		l.abort(c)
		return false
	}
	c.pend = c.pend[:copy(c.pend, c.pend[w:])]
	if w > 0 {
		c.stallSince = l.now
	}
	if len(c.pend) > 0 {
		return true
	}
	if cap(c.pend) > 64<<10 {
		c.pend = nil
	}
	switch {
	case c.drain:
		l.closeClient(c)
		return false
	case c.state == evRelay && (c.up.ready || c.up.eof):
		l.relay(c) // which may end the connection, or hand it over
		_, serving := l.conns[c]
		return serving
	}
	return true
}

// readClient reads what the client sent, then serves the next request
// when none is in flight.
func (l *evLoop) readClient(c *evClient) {
	fc := c.fc
	for c.ready {
		if fc.w == len(fc.buf) {
			if c.state >= evBackend || c.drain {
				return // read the rest once this request is answered
			}
			if fc.r == 0 {
				break // a head larger than the buffer: nextRequest decides
			}
			fc.w = copy(fc.buf, fc.buf[fc.r:fc.w])
			fc.scanned = max(fc.scanned-fc.r, 0)
			fc.r = 0
		}
		n, err := rawRead(c.fd, fc.buf[fc.w:])
		switch {
		case n < 0:
			c.ready = false
		case err != nil:
			l.clientGone(c)
			return
		case n == 0:
			// The client closed its side: what it sent is served
			// (a response awaited for less than watchAfter is still
			// given, as on the fast path), then the connection ends.
			c.rdhup, c.ready = true, false
		default:
			fc.w += n
			if fc.w < len(fc.buf) {
				c.ready = false // the socket is drained: the next bytes bring an edge
			}
		}
	}
	if c.state <= evHead && !c.drain {
		l.nextRequest(c)
	}
}

// clientGone ends a connection whose client closed it or failed.
func (l *evLoop) clientGone(c *evClient) {
	if c.state >= evBackend {
		l.abort(c)
		return
	}
	l.closeClient(c)
}

// nextRequest serves the next request in the client's buffer, when its
// head is all there.
func (l *evLoop) nextRequest(c *evClient) {
	fc := c.fc
	data := fc.buf[fc.r:fc.w]
	if len(data) == 0 {
		fc.r, fc.w, fc.scanned = 0, 0, 0
		if c.rdhup || l.f.closing.Load() {
			l.closeClient(c)
			return
		}
		if c.state != evIdle {
			c.state, c.until = evIdle, l.now.Add(fc.idleTimeout())
		}
		return
	}
	from := max(fc.scanned-3, 0)
	i := bytes.Index(data[from:], crlfcrlf)
	if i < 0 {
		if bareLF(data) || fc.w == len(fc.buf) {
			l.handOver(c, nil) // net/http's ending, or a large head
			return
		}
		fc.scanned = len(data)
		if c.state != evHead {
			c.state, c.until = evHead, l.now.Add(l.f.headerTimeout)
		}
		if c.rdhup {
			l.closeClient(c)
		}
		return
	}
	fc.scanned = 0
	n := from + i + 4
	if !parseHead(data[:n], &fc.req) || !l.start(c, n) {
		l.handOver(c, nil)
	}
}

// start begins the exchange of the request whose head is the first
// headLen bytes of buf[r:], when the loop takes it.
func (l *evLoop) start(c *evClient, headLen int) bool {
	fc, g := c.fc, l.f.g
	req := &fc.req
	if (req.method != http.MethodGet && req.method != http.MethodHead) || req.contentLength > 0 {
		return false
	}
	host := fc.hostString(req.host)
	path, ok := fc.pathString(req)
	if !ok || (l.f.bypass != nil && l.f.bypass(host, path)) {
		return false
	}
	route, found := g.wrapped.Load().table.Lookup(host)
	if !found || !fastRoute(route, path) {
		return false
	}
	// As serveRequest and forward.
	x := &fc.x
	*x = exchange{w: &fc.resp, start: l.now, path: path, route: route}
	fc.setRequestID()
	fc.idle = route.IdleTimeout
	c.head = fc.r
	fc.r += headLen
	c.closeAfter = req.close
	c.state = evBackend
	ctx := context.Background()
	if route.Admit != nil && !fc.admit(route) {
		l.answered(c, fc.writeResp(c.closeAfter))
		return true
	}
	backend, release, ok := fc.acquire(ctx)
	if !ok {
		l.answered(c, fc.writeResp(c.closeAfter))
		return true
	}
	sa := l.sockaddr(backend.Addr)
	if sa == nil {
		// A name to resolve: the goroutine's dialer does.
		release()
		closeAfter := c.closeAfter
		l.handOver(c, func() int {
			defer fc.report()
			return fc.forward(nil, closeAfter)
		})
		return true
	}
	x.backend, x.release = backend, release
	x.fwd = [3]string{fc.peer, fc.host, "http"}
	x.attempts = 1
	c.state = evBackend
	c.until = time.Time{}
	if d := fc.backendLimit(); d > 0 {
		c.until = l.now.Add(d)
	}
	u, err := l.upstream(backend.Addr, sa)
	l.send(c, u, err)
	return true
}

// sockaddr parses a backend's address, an IP and a port.
func (l *evLoop) sockaddr(addr string) syscall.Sockaddr {
	if sa, ok := l.addrs[addr]; ok {
		return sa
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil
	}
	var sa syscall.Sockaddr
	if a := ap.Addr().Unmap(); a.Is4() {
		sa = &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: a.As4()}
	} else {
		sa = &syscall.SockaddrInet6{Port: int(ap.Port()), Addr: a.As16()}
	}
	if len(l.addrs) > 4096 {
		clear(l.addrs)
	}
	l.addrs[addr] = sa
	return sa
}

// upstream returns an idle connection to addr, or a new one (nil when
// the connect failed at once).
func (l *evLoop) upstream(addr string, sa syscall.Sockaddr) (*evUp, error) {
	if list := l.idle[addr]; len(list) > 0 {
		u := list[len(list)-1]
		list[len(list)-1] = nil
		// An empty list stays for pool to append to without allocating;
		// the sweep deletes it.
		l.idle[addr] = list[:len(list)-1]
		u.reused = true
		return u, nil
	}
	return l.dial(addr, sa)
}

func (l *evLoop) dial(addr string, sa syscall.Sockaddr) (*evUp, error) {
	family := syscall.AF_INET
	if _, ok := sa.(*syscall.SockaddrInet6); ok {
		family = syscall.AF_INET6
	}
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("socket", err)}
	}
	syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
	u := &evUp{fd: fd, addr: addr, buf: make([]byte, evUpBuf), dialAt: l.now}
	switch err := syscall.Connect(fd, sa); err {
	case nil:
	case syscall.EINPROGRESS:
		u.connecting = true
	default:
		syscall.Close(fd)
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", err)}
	}
	if err := l.register(fd, evItem{u: u}); err != nil {
		l.closeUp(u)
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("epoll_ctl", err)}
	}
	return u, nil
}

// send writes the exchange's request on u (err: no connection could be
// made).
func (l *evLoop) send(c *evClient, u *evUp, err error) {
	if err != nil {
		l.upFailed(c, nil, err)
		return
	}
	c.up, u.c = u, c
	u.n, u.ready, u.eof, u.err = 0, false, false, nil
	l.reqBuf.b = l.reqBuf.b[:0]
	c.fc.writeRequest(&l.req, nil)
	l.req.Flush()
	u.req = append(u.req[:0], l.reqBuf.b...)
	if !u.connecting {
		l.writeUp(u)
	}
}

func (l *evLoop) writeUp(u *evUp) {
	w, err := rawWrite(u.fd, u.req)
	if err != nil {
		l.upFailed(u.c, u, &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", err)})
		return
	}
	u.req = u.req[:copy(u.req, u.req[w:])]
}

func (l *evLoop) upEvent(u *evUp, mask uint32) {
	c := u.c
	if c == nil {
		// Idle: the backend closed it, or sent what nobody asked for.
		l.dropIdle(u)
		return
	}
	if u.connecting {
		if mask&(syscall.EPOLLOUT|syscall.EPOLLERR|syscall.EPOLLHUP) == 0 {
			return
		}
		u.connecting = false
		if e, err := syscall.GetsockoptInt(u.fd, syscall.SOL_SOCKET, syscall.SO_ERROR); err != nil || e != 0 {
			if err == nil {
				err = syscall.Errno(e)
			}
			l.upFailed(c, u, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", err)})
			return
		}
	}
	if len(u.req) > 0 && mask&(syscall.EPOLLOUT|syscall.EPOLLERR|syscall.EPOLLHUP) != 0 {
		l.writeUp(u)
		if u.c != c {
			return
		}
	}
	if mask&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
		u.eof = true
	}
	if mask&(syscall.EPOLLIN|syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
		u.ready = true
	}
	if !u.ready {
		return
	}
	switch c.state {
	case evBackend:
		l.readHead(c, u)
	case evRelay:
		if len(c.pend) == 0 {
			l.relay(c)
		}
	}
}

// readHead reads the response's head, and relays it when it is all
// there.
func (l *evLoop) readHead(c *evClient, u *evUp) {
	for u.ready && u.n < len(u.buf) {
		n, err := rawRead(u.fd, u.buf[u.n:])
		switch {
		case n < 0:
			u.ready = false
		case err != nil:
			u.err = &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", err)}
			u.eof, u.ready = true, false
		case n == 0:
			u.eof, u.ready = true, false
		default:
			u.n += n
			if u.n < len(u.buf) {
				u.ready = u.eof // drained, but for the end
			}
		}
	}
	got := u.buf[:u.n]
	i := bytes.Index(got, crlfcrlf)
	if i < 0 && u.eof && !u.ready {
		switch {
		case u.n == 0 && u.err != nil:
			l.upFailed(c, u, u.err)
		case u.n == 0:
			l.upFailed(c, u, io.EOF)
		case bytes.Contains(got, []byte("\n\n")):
			l.handOverExchange(c, u, c.until) // lines ended by bare LFs
		default:
			l.fail(c, io.ErrUnexpectedEOF) // a head cut short
		}
		return
	}
	if i < 0 {
		if eol := bytes.IndexByte(got, '\n'); eol >= 0 && !bytes.HasPrefix(got, []byte("HTTP/1.1 ")) && !bytes.HasPrefix(got, []byte("HTTP/1.0 ")) {
			l.fail(c, errMalformedResponse) // not a status line: at once, not at the timeout
			return
		}
		if u.n == len(u.buf) || bytes.Contains(got, []byte("\n\n")) {
			l.handOverExchange(c, u, c.until) // a head too large, or lines ended by bare LFs
		}
		return
	}
	l.respond(c, u, i+4)
}

// respond relays the response whose head is the first hl bytes of
// u.buf, when it is framed by its length; else the exchange goes to a
// goroutine.
func (l *evLoop) respond(c *evClient, u *evUp, hl int) {
	fc := c.fc
	h, x := &fc.rhead, &fc.x
	l.rr.Reset(u.buf[:hl])
	l.rb.Reset(&l.rr)
	if h.read(l.rb) != nil || h.status < 200 || h.chunked {
		l.handOverExchange(c, u, c.until)
		return
	}
	var want int64
	if fc.req.method != http.MethodHead && h.status != http.StatusNoContent && h.status != http.StatusNotModified {
		if h.length < 0 {
			l.handOverExchange(c, u, c.until) // ends with the connection
			return
		}
		want = h.length
	}
	c.closeAfter = c.closeAfter || l.f.closing.Load()
	x.status = h.status
	fc.writeResponseHead(false, c.closeAfter)
	body := u.buf[hl:u.n]
	if int64(len(body)) > want {
		body = body[:want] // more than the response: the connection is not reused
		h.close = true
	}
	fc.send(body, false)
	fc.out.Flush()
	c.left = want - int64(len(body))
	u.n = 0
	if c.dead {
		l.abort(c)
		return
	}
	if c.left == 0 {
		l.finish(c)
		return
	}
	c.state = evRelay
	c.until = time.Time{}
	if t := x.route.Timeout; t > 0 {
		c.until = x.start.Add(t)
	}
	if len(c.pend) == 0 && (u.ready || u.eof) {
		l.relay(c)
	}
}

// relay copies body bytes from the backend to the client until the
// socket of either would block.
func (l *evLoop) relay(c *evClient) {
	u, fc := c.up, c.fc
	for c.left > 0 && len(c.pend) == 0 && (u.ready || u.eof) {
		n, err := rawRead(u.fd, u.buf[:min(int64(len(u.buf)), c.left)])
		switch {
		case n < 0:
			u.ready = false
			continue
		case err != nil || n == 0:
			l.abort(c) // cut short: the response must not look complete
			return
		}
		if int64(n) < c.left && n < len(u.buf) {
			u.ready = u.eof
		}
		c.left -= int64(n)
		fc.send(u.buf[:n], true)
		if c.dead {
			l.abort(c)
			return
		}
	}
	if c.left == 0 {
		l.finish(c)
	}
}

// finish ends a complete exchange: the backend connection goes back to
// the pool, the access log hears of the request, and the next one is
// served.
func (l *evLoop) finish(c *evClient) {
	u, fc := c.up, c.fc
	c.up, u.c = nil, nil
	if fc.rhead.close || u.eof {
		l.closeUp(u)
	} else {
		l.pool(u)
	}
	fc.x.releaseBackend()
	fc.report()
	c.state, c.until = evIdle, l.now.Add(fc.idleTimeout())
	if c.closeAfter {
		c.drain = true
		if len(c.pend) == 0 {
			l.closeClient(c)
		}
		return
	}
	if fc.r == fc.w {
		fc.r, fc.w = 0, 0
	}
	l.readClient(c)
}

func (l *evLoop) pool(u *evUp) {
	u.idleAt, u.reused, u.n = l.now, false, 0
	list := l.idle[u.addr]
	if len(list) >= maxIdleConnsPerHost {
		l.closeUp(u)
		return
	}
	l.idle[u.addr] = append(list, u)
}

func (l *evLoop) dropIdle(u *evUp) {
	list := l.idle[u.addr]
	for i, v := range list {
		if v == u {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(l.idle, u.addr)
	} else {
		l.idle[u.addr] = list
	}
	l.closeUp(u)
}

// fail answers the exchange with the gateway's error for err, as
// forward does when its last attempt failed.
func (l *evLoop) fail(c *evClient, err error) {
	fc := c.fc
	x := &fc.x
	if u := c.up; u != nil {
		c.up, u.c = nil, nil
		l.closeUp(u)
	}
	l.f.g.proxyFailed(context.Background(), x, err)
	l.answered(c, fc.writeResp(c.closeAfter))
}

// answered ends an exchange the gateway answered itself (writeResp's
// outcome st), and serves the next request.
func (l *evLoop) answered(c *evClient, st int) {
	fc := c.fc
	fc.out.Flush()
	fc.x.releaseBackend()
	fc.report()
	c.state, c.until = evIdle, l.now.Add(fc.idleTimeout())
	switch {
	case c.dead:
		l.closeClient(c)
	case st == closeConn:
		c.drain = true
		if len(c.pend) == 0 {
			l.closeClient(c)
		}
	default:
		l.readClient(c)
	}
}

// upFailed handles a backend connection that failed before any byte of
// the response (u nil: none could be made). A reused one may have been
// closed while idle: the request goes again on a new connection to the
// same instance. Otherwise the exchange goes to a goroutine, which
// retries it as forward does (nextAttempt).
func (l *evLoop) upFailed(c *evClient, u *evUp, err error) {
	x := &c.fc.x
	reused := u != nil && u.reused
	if u != nil {
		c.up, u.c = nil, nil
		l.closeUp(u)
	}
	if reused {
		if sa := l.sockaddr(x.backend.Addr); sa != nil {
			u, err := l.dial(x.backend.Addr, sa)
			l.send(c, u, err)
			return
		}
	}
	fc := c.fc
	l.handOver(c, func() int { return fc.retryExchange(err) })
}

// abort ends an exchange that cannot finish (the client left, the
// backend cut the body, a timeout): both connections close, and the
// access log hears of it.
func (l *evLoop) abort(c *evClient) {
	if c.state >= evBackend {
		fc := c.fc
		if fc.x.status == 0 {
			fc.x.status = StatusClientClosedRequest
		}
		if u := c.up; u != nil {
			c.up, u.c = nil, nil
			l.closeUp(u)
		}
		fc.x.releaseBackend()
		fc.report()
		c.state = evIdle
	}
	l.closeClient(c)
}

func (l *evLoop) closeClient(c *evClient) {
	if _, ok := l.conns[c]; !ok {
		return
	}
	delete(l.conns, c)
	l.load.Store(int32(len(l.conns)))
	l.fds[c.fd] = evItem{}
	syscall.Close(c.fd)
	c.dead = true
}

func (l *evLoop) closeUp(u *evUp) {
	if u.fd < 0 {
		return
	}
	if u.fd < len(l.fds) {
		l.fds[u.fd] = evItem{}
	}
	syscall.Close(u.fd)
	u.fd = -1
}

// handOverExchange gives the exchange in flight on u, whose response's
// first bytes the loop read, and the client's connection to a goroutine;
// deadline bounds the wait for the response's head.
func (l *evLoop) handOverExchange(c *evClient, u *evUp, deadline time.Time) {
	if len(u.req) > 0 {
		l.fail(c, errors.New("backend answered before the request was sent"))
		return
	}
	c.up, u.c = nil, nil
	l.fds[u.fd] = evItem{}
	syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_DEL, u.fd, nil)
	nc, err := fdConn(u.fd)
	u.fd = -1
	if err != nil {
		l.fail(c, err)
		return
	}
	uc := newUpstreamConn(&prefixConn{Conn: nc, pending: u.buf[:u.n]}, u.addr)
	fc := c.fc
	if !l.handOver(c, func() int { return fc.resumeExchange(uc, deadline) }) {
		uc.conn.Close()
	}
}

// handOver gives the client's connection to a goroutine (see fastConn),
// which serves the request in buf[r:], or, when first is not nil, ends
// the exchange in flight with first. false: the connection could not be
// given, and is closed.
func (l *evLoop) handOver(c *evClient, first func() int) bool {
	f, fc := l.f, c.fc
	delete(l.conns, c)
	l.load.Store(int32(len(l.conns)))
	l.fds[c.fd] = evItem{}
	syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_DEL, c.fd, nil)
	nc, err := fdConn(c.fd) // which closes c.fd, failing or not
	c.fd = -1
	if err != nil {
		l.abortDetached(c)
		return false
	}
	fc.c = nc
	pend := c.pend
	fc.out = bufio.NewWriterSize((*clientOut)(fc), 4<<10)
	fc.out.Write(pend)
	fc.answers = fc.sendAnswers
	fc.cr = newWaitReader(nc)
	f.mu.Lock()
	f.conns[fc] = struct{}{}
	f.wg.Add(1)
	f.mu.Unlock()
	go fc.serveAfter(first)
	return true
}

// abortDetached ends the exchange of a client connection handOver could
// not give away (its descriptor is closed).
func (l *evLoop) abortDetached(c *evClient) {
	if c.state >= evBackend {
		c.fc.x.releaseBackend()
		c.fc.report()
	}
}

// fdConn makes a net.Conn of a socket, which the runtime's poller then
// serves; fd itself is closed.
func fdConn(fd int) (net.Conn, error) {
	file := os.NewFile(uintptr(fd), "")
	defer file.Close()
	return net.FileConn(file)
}

// sweep keeps the timeouts, and closes backend connections idle too
// long.
func (l *evLoop) sweep() {
	if !l.pauseAc.IsZero() && !l.now.Before(l.pauseAc) && l.lfd >= 0 {
		l.pauseAc = time.Time{}
		l.paused.Store(false)
		syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_ADD, l.lfd, &syscall.EpollEvent{Events: syscall.EPOLLIN | epollExclusive | epollET, Fd: int32(l.lfd)})
	}
	for c := range l.conns {
		if len(c.pend) > 0 && l.now.Sub(c.stallSince) > c.fc.idleTimeout()*3/2 {
			l.abort(c) // it takes nothing (writestall.go)
			continue
		}
		if c.state == evBackend && c.rdhup && l.now.Sub(c.fc.x.start) >= watchAfter {
			l.abort(c) // the client left while its backend is slow
			continue
		}
		if u := c.up; u != nil && u.connecting && l.now.Sub(u.dialAt) >= l.f.g.fwd.dialer.Timeout {
			l.upFailed(c, u, &net.OpError{Op: "dial", Net: "tcp", Err: os.ErrDeadlineExceeded})
			continue
		}
		if c.until.IsZero() || l.now.Before(c.until) {
			continue
		}
		switch c.state {
		case evIdle:
			if len(c.pend) == 0 {
				l.closeClient(c)
			}
		case evHead:
			l.closeClient(c)
		case evBackend:
			l.fail(c, os.ErrDeadlineExceeded)
		case evRelay:
			l.abort(c)
		}
	}
	for addr, list := range l.idle {
		i := 0
		for i < len(list) && l.now.Sub(list[i].idleAt) >= idleConnTimeout {
			l.closeUp(list[i])
			i++
		}
		if i == len(list) {
			delete(l.idle, addr)
		} else if i > 0 {
			l.idle[addr] = append(list[:0], list[i:]...)
		}
	}
}

// shut is the loop's part of Shutdown and Close: it stops accepting,
// closes the connections waiting for a request (all of them, after
// Close), and stops once none is left.
func (l *evLoop) shut() {
	if l.lfd >= 0 {
		syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_DEL, l.lfd, nil)
		syscall.Close(l.lfd)
		l.lfd = -1
	}
	hard := l.f.hardClose.Load()
	for c := range l.conns {
		if hard || (c.state == evIdle && len(c.pend) == 0) {
			l.abort(c)
		}
	}
	if len(l.conns) == 0 {
		l.closeAll()
	}
}

// closeAll closes every connection and stops the loop.
func (l *evLoop) closeAll() {
	for c := range l.conns {
		l.abort(c)
	}
	for _, list := range l.idle {
		for _, u := range list {
			l.closeUp(u)
		}
	}
	clear(l.idle)
	l.stopped = true
}
