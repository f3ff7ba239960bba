package accesslog

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// appendJSON appends e as one JSON object, byte for byte what
// encoding/json (with HTML escaping off) makes of it, without its
// reflection: an entry is written for every request, and the generic
// encoder cost more CPU than the rest of the access log together.
func (e *Entry) appendJSON(b []byte) []byte {
	b = append(b, `{"time":"`...)
	b = e.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","request_id":`...)
	b = appendString(b, e.RequestID)
	b = append(b, `,"stack":`...)
	b = appendString(b, e.Stack)
	b = append(b, `,"stage":`...)
	b = appendString(b, e.Stage)
	b = append(b, `,"method":`...)
	b = appendString(b, e.Method)
	b = append(b, `,"host":`...)
	b = appendString(b, e.Host)
	b = append(b, `,"path":`...)
	b = appendString(b, e.Path)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, e.Bytes, 10)
	b = append(b, `,"latency_ms":`...)
	b = appendFloat(b, e.LatencyMS)
	if e.Instance != "" {
		b = append(b, `,"instance":`...)
		b = appendString(b, e.Instance)
	}
	if e.ColdStart {
		b = append(b, `,"cold_start":true`...)
	}
	if e.InitMS != 0 {
		b = append(b, `,"init_ms":`...)
		b = strconv.AppendInt(b, e.InitMS, 10)
	}
	if e.APIKey != "" {
		b = append(b, `,"api_key":`...)
		b = appendString(b, e.APIKey)
	}
	b = append(b, `,"client_ip":`...)
	b = appendString(b, e.ClientIP)
	return append(b, '}')
}

// appendFloat formats f as encoding/json does; the rare values it would
// write in exponent form are left to it.
func appendFloat(b []byte, f float64) []byte {
	if a := math.Abs(f); math.IsNaN(f) || math.IsInf(f, 0) || (a != 0 && (a < 1e-6 || a >= 1e21)) {
		out, err := json.Marshal(f)
		if err != nil {
			return append(b, '0') // NaN and ±Inf: JSON has none; never a latency
		}
		return append(b, out...)
	}
	return strconv.AppendFloat(b, f, 'f', -1, 64)
}

const hex = "0123456789abcdef"

// appendString appends s as a JSON string the way encoding/json does
// with HTML escaping off: invalid UTF-8 becomes U+FFFD, and U+2028 and
// U+2029 are escaped (JavaScript reads them as line ends).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
