package integration

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fixtureApp writes the fixture app (testdata/fixture) as a stack
// directory with the given slipway.yml body (after "name: <stack>").
func fixtureApp(t *testing.T, stack, manifest string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), stack)
	os.MkdirAll(dir, 0o755)
	for src, dst := range map[string]string{"main.go": "main.go", "Dockerfile": "Dockerfile", "build.yml": "build.yml", "go.mod.fixture": "go.mod"} {
		b, err := os.ReadFile(filepath.Join("testdata", "fixture", src))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, dst), b, 0o644)
	}
	os.WriteFile(filepath.Join(dir, "slipway.yml"), []byte("name: "+stack+"\nport: 8000\n"+manifest), 0o644)
	return dir
}

// load sends GETs through the gateway from several workers until
// stopped, counting requests and collecting failures.
type load struct {
	s        *server
	host     string
	path     string
	stop     chan struct{}
	wg       sync.WaitGroup
	sent     atomic.Int64
	mu       sync.Mutex
	failures []string
}

func startLoad(s *server, host, path string, workers int, pause time.Duration) *load {
	l := &load{s: s, host: host, path: path, stop: make(chan struct{})}
	for i := 0; i < workers; i++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				code, body, err := s.tryGW("GET", host, path)
				l.sent.Add(1)
				if err != nil || code != 200 {
					l.mu.Lock()
					if len(l.failures) < 20 {
						l.failures = append(l.failures, fmt.Sprintf("%s: %d %q %v", time.Now().Format("15:04:05.000"), code, body, err))
					}
					l.mu.Unlock()
				}
				time.Sleep(pause)
			}
		}()
	}
	return l
}

// end stops the load and returns how many requests were sent and failed.
func (l *load) end() (int64, []string) {
	close(l.stop)
	l.wg.Wait()
	return l.sent.Load(), l.failures
}

func (s *server) tryGW(method, host, path string) (int, string, error) {
	req, err := newReq(method, "http://"+s.gateway+path)
	if err != nil {
		return 0, "", err
	}
	req.Host = host
	resp, err := gwClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b := make([]byte, 512)
	n, _ := resp.Body.Read(b)
	return resp.StatusCode, strings.TrimSpace(string(b[:n])), nil
}

var gwClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64}}

func newReq(method, url string) (*http.Request, error) { return http.NewRequest(method, url, nil) }
