package accesslog

import (
	"strconv"
	"time"

	"github.com/slipwayhq/slipway/internal/jsonappend"
)

// appendJSON appends e as one JSON object, byte for byte what
// encoding/json (with HTML escaping off) makes of it, without its
// reflection: an entry is written for every request, and the generic
// encoder cost more CPU than the rest of the access log together.
func (e *Entry) appendJSON(b []byte) []byte {
	b = append(b, `{"time":"`...)
	b = e.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","request_id":`...)
	b = jsonappend.String(b, e.RequestID)
	b = append(b, `,"stack":`...)
	b = jsonappend.String(b, e.Stack)
	b = append(b, `,"stage":`...)
	b = jsonappend.String(b, e.Stage)
	b = append(b, `,"method":`...)
	b = jsonappend.String(b, e.Method)
	b = append(b, `,"host":`...)
	b = jsonappend.String(b, e.Host)
	b = append(b, `,"path":`...)
	b = jsonappend.String(b, e.Path)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, e.Bytes, 10)
	b = append(b, `,"latency_ms":`...)
	b = jsonappend.Float(b, e.LatencyMS)
	if e.Instance != "" {
		b = append(b, `,"instance":`...)
		b = jsonappend.String(b, e.Instance)
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
		b = jsonappend.String(b, e.APIKey)
	}
	b = append(b, `,"client_ip":`...)
	b = jsonappend.String(b, e.ClientIP)
	return append(b, '}')
}
