package gateway

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A minimal RFC 6455 implementation, enough to prove the gateway carries
// a real websocket both ways: the handshake, masked client frames,
// unmasked server frames, 7-, 16- and 64-bit lengths, and the close
// handshake. No fragmentation, no extensions.

const (
	wsText   = 0x1
	wsBinary = 0x2
	wsClose  = 0x8
	wsGUID   = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
)

func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// wsWrite writes one final frame; clients must mask, servers must not.
func wsWrite(w io.Writer, opcode byte, payload []byte, mask bool) error {
	head := []byte{0x80 | opcode, 0}
	switch n := len(payload); {
	case n < 126:
		head[1] = byte(n)
	case n <= 0xffff:
		head[1] = 126
		head = binary.BigEndian.AppendUint16(head, uint16(n))
	default:
		head[1] = 127
		head = binary.BigEndian.AppendUint64(head, uint64(n))
	}
	body := payload
	if mask {
		head[1] |= 0x80
		var key [4]byte
		_, _ = rand.Read(key[:])
		head = append(head, key[:]...)
		body = make([]byte, len(payload))
		for i, c := range payload {
			body[i] = c ^ key[i%4]
		}
	}
	if _, err := w.Write(head); err != nil {
		return err
	}
	_, err := w.Write(body)
	return err
}

// wsRead reads one frame and unmasks it.
func wsRead(r io.Reader) (opcode byte, payload []byte, masked bool, err error) {
	var head [2]byte
	if _, err = io.ReadFull(r, head[:]); err != nil {
		return 0, nil, false, err
	}
	if head[0]&0x80 == 0 {
		return 0, nil, false, errors.New("fragmented frame")
	}
	opcode, masked = head[0]&0x0f, head[1]&0x80 != 0
	n := uint64(head[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err = io.ReadFull(r, b[:]); err != nil {
			return 0, nil, false, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err = io.ReadFull(r, b[:]); err != nil {
			return 0, nil, false, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	var key [4]byte
	if masked {
		if _, err = io.ReadFull(r, key[:]); err != nil {
			return 0, nil, false, err
		}
	}
	payload = make([]byte, n)
	if _, err = io.ReadFull(r, payload); err != nil {
		return 0, nil, false, err
	}
	if masked {
		for i := range payload {
			payload[i] ^= key[i%4]
		}
	}
	return opcode, payload, masked, nil
}

// wsEchoBackend completes the handshake, greets, then echoes each frame
// until the client closes.
func wsEchoBackend(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Sec-Websocket-Key")
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || key == "" || r.Header.Get("Sec-Websocket-Version") != "13" {
			http.Error(w, "not a websocket handshake", http.StatusBadRequest)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", wsAccept(key))
		if err := wsWrite(brw, wsText, []byte("hello from the backend"), false); err != nil {
			t.Errorf("greet: %v", err)
			return
		}
		brw.Flush()
		for {
			op, payload, masked, err := wsRead(brw)
			if err != nil {
				t.Errorf("backend read: %v", err)
				return
			}
			if !masked {
				t.Errorf("client frame arrived unmasked")
			}
			if err := wsWrite(brw, op, payload, false); err != nil {
				t.Errorf("backend write: %v", err)
				return
			}
			brw.Flush()
			if op == wsClose {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestGatewayWebsocketEcho runs a websocket through the gateway, served
// plainly and over a StrictListener: handshake, a message from the
// backend, messages of each length encoding echoed back, and the close
// handshake.
func TestGatewayWebsocketEcho(t *testing.T) {
	for _, strict := range []bool{false, true} {
		t.Run(fmt.Sprint("strict=", strict), func(t *testing.T) {
			infos := make(infoSink, 1)
			cfg := Config{OnRequest: infos.put}
			rt := route(testHost, wsEchoBackend(t))
			var front *httptest.Server
			if strict {
				g := New(cfg)
				g.Update(NewRouteTable([]Route{rt}))
				front = strictGateway(t, g)
			} else {
				_, front = newTestGateway(t, cfg, rt)
			}

			conn, err := net.Dial("tcp", addrOf(front))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			var nonce [16]byte
			_, _ = rand.Read(nonce[:])
			key := base64.StdEncoding.EncodeToString(nonce[:])
			fmt.Fprint(conn, crlf("GET /chat HTTP/1.1", "Host: "+testHost, "Connection: Upgrade", "Upgrade: websocket",
				"Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: "+key, "", ""))
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-Websocket-Accept") != wsAccept(key) {
				t.Fatalf("handshake: %d, accept %q", resp.StatusCode, resp.Header.Get("Sec-Websocket-Accept"))
			}

			if op, msg, masked, err := wsRead(br); err != nil || op != wsText || masked || string(msg) != "hello from the backend" {
				t.Fatalf("greeting: op %d %q masked=%v, %v", op, msg, masked, err)
			}
			for _, msg := range [][]byte{[]byte("ping"), bytes.Repeat([]byte("m"), 300), bytes.Repeat([]byte{0, 1, 2, 0xff}, 20000)} {
				op := byte(wsText)
				if len(msg) > 1000 {
					op = wsBinary
				}
				if err := wsWrite(conn, op, msg, true); err != nil {
					t.Fatal(err)
				}
				gotOp, got, _, err := wsRead(br)
				if err != nil || gotOp != op || !bytes.Equal(got, msg) {
					t.Fatalf("echo of %d bytes: op %d, %d bytes, %v", len(msg), gotOp, len(got), err)
				}
			}
			closeMsg := binary.BigEndian.AppendUint16(nil, 1000)
			if err := wsWrite(conn, wsClose, closeMsg, true); err != nil {
				t.Fatal(err)
			}
			if op, got, _, err := wsRead(br); err != nil || op != wsClose || !bytes.Equal(got, closeMsg) {
				t.Fatalf("close: op %d %v, %v", op, got, err)
			}
			// The backend hung up: the gateway half-closes towards the
			// client, and ends the request when the client hangs up too.
			if _, err := br.ReadByte(); err != io.EOF {
				t.Fatalf("after close: %v, want EOF", err)
			}
			conn.Close()
			if ri := infos.next(t); ri.Status != http.StatusSwitchingProtocols || ri.BackendID != "inst-a" {
				t.Fatalf("RequestInfo %+v", ri)
			}
		})
	}
}
