package accesslog

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/slipwayhq/slipway/internal/testutil"
)

// The hand-written encoder must write exactly what encoding/json writes,
// so that entries read back the same and nothing depends on which wrote
// them.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	str := testutil.JSONStrings(1)
	floats := []float64{0, 0.001, 0.5, 1, 12.345, 1234567.891, 1e-7, 3e21, 0.1 + 0.2}
	for i := range 2000 {
		e := Entry{
			Time:      time.Unix(1700000000+int64(rng.IntN(1e6)), int64(rng.IntN(1e9))).In(time.UTC),
			RequestID: str(), Stack: str(), Stage: str(), Method: str(), Host: str(), Path: str(),
			Status: rng.IntN(600), Bytes: rng.Int64N(1 << 40), LatencyMS: floats[rng.IntN(len(floats))],
			Instance: str(), ColdStart: rng.IntN(2) == 0, InitMS: int64(rng.IntN(3)) * rng.Int64N(5000),
			APIKey: str(), ClientIP: str(),
		}
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(e); err != nil {
			t.Fatal(err)
		}
		got := e.appendJSON(nil)
		if w := bytes.TrimSuffix(want.Bytes(), []byte("\n")); !bytes.Equal(got, w) {
			t.Fatalf("entry %d:\n got %s\nwant %s", i, got, w)
		}
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	e := Entry{Time: time.Now().UTC(), RequestID: "0123456789abcdef", Stack: "hello", Stage: "dev", Method: "GET",
		Host: "dev.hello.localhost:8080", Path: "/ping", Status: 200, Bytes: 4, LatencyMS: 0.412,
		Instance: "hello-dev-1", ClientIP: "127.0.0.1"}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = e.appendJSON(buf[:0])
	}
}
