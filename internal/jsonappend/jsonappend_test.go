package jsonappend

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/slipwayhq/slipway/internal/testutil"
)

func marshal(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func TestStringMatchesEncodingJSON(t *testing.T) {
	str := testutil.JSONStrings(1)
	for i := range 3000 {
		s := str()
		if got, want := String([]byte("x"), s), append([]byte("x"), marshal(t, s)...); !bytes.Equal(got, want) {
			t.Fatalf("string %d %q:\n got %s\nwant %s", i, s, got, want)
		}
	}
	for c := range 256 { // every byte alone
		s := string([]byte{byte(c)})
		if got, want := String(nil, s), marshal(t, s); !bytes.Equal(got, want) {
			t.Fatalf("byte %#x: got %s, want %s", c, got, want)
		}
	}
}

func TestFloatMatchesEncodingJSON(t *testing.T) {
	for _, f := range []float64{0, 0.001, 0.5, 1, -1, 12.345, 1234567.891, 1e-7, 3e21, 0.1 + 0.2, 1e20, 999999999999999999999, math.MaxFloat64, math.SmallestNonzeroFloat64} {
		if got, want := Float(nil, f), marshal(t, f); !bytes.Equal(got, want) {
			t.Fatalf("%v: got %s, want %s", f, got, want)
		}
	}
	if got := Float(nil, math.NaN()); string(got) != "0" {
		t.Fatalf("NaN: got %s, want 0", got)
	}
}
