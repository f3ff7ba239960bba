package testutil

import (
	"math/rand/v2"
	"strings"
)

// jsonPieces are strings that exercise every escape of a JSON string:
// quotes, backslashes, control bytes, HTML's specials, invalid UTF-8,
// U+2028 and U+2029, and multi-byte runes.
var jsonPieces = []string{"", "a", "/path?q=1&x=<y>", `"quoted"`, `back\slash`, "tab\tnew\nline\r",
	"\x00\x01\x1f\x7f\b\f", "héllo", "日本", "\xff\xfe bad utf8", "\u2028\u2029", "emoji 🚀", "a\u00a0b",
	`{"level":"info","msg":"GET /x 200"}`, "<b>&amp;</b>"}

// JSONStrings returns a generator of strings made of up to three such
// pieces, the same sequence for the same seed: for checking a
// hand-written JSON encoder against encoding/json.
func JSONStrings(seed uint64) func() string {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	return func() string {
		var b strings.Builder
		for range rng.IntN(4) {
			b.WriteString(jsonPieces[rng.IntN(len(jsonPieces))])
		}
		return b.String()
	}
}
