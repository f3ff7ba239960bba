package logstore

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// A segment is one file of a stream: <seq>-<created>.ndjson, seq counting
// up from 1 (so names sort in write order whatever the clock does) and
// created the UTC time it was opened (which day it belongs to).
type segment struct {
	Seq     int
	Created time.Time
	Size    int64
	ModTime time.Time
	Path    string
}

const segmentTimeLayout = "20060102T150405Z"

func segmentName(seq int, created time.Time) string {
	return fmt.Sprintf("%08d-%s.ndjson", seq, created.UTC().Format(segmentTimeLayout))
}

// parseSegmentName reads a segment file's name; ok is false for other files.
func parseSegmentName(name string) (seq int, created time.Time, ok bool) {
	base, found := strings.CutSuffix(name, ".ndjson")
	if !found {
		return 0, time.Time{}, false
	}
	n, ts, found := strings.Cut(base, "-")
	if !found {
		return 0, time.Time{}, false
	}
	seq, err := strconv.Atoi(n)
	if err != nil || seq <= 0 {
		return 0, time.Time{}, false
	}
	created, err = time.Parse(segmentTimeLayout, ts)
	if err != nil {
		return 0, time.Time{}, false
	}
	return seq, created, true
}

// listSegments returns a stream directory's segments, oldest first. A
// missing directory has none.
func listSegments(dir string) ([]segment, error) {
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list log segments: %w", err)
	}
	var out []segment
	for _, e := range ents {
		seq, created, ok := parseSegmentName(e.Name())
		if !ok || e.IsDir() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		out = append(out, segment{Seq: seq, Created: created, Size: info.Size(), ModTime: info.ModTime(), Path: filepath.Join(dir, e.Name())})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out, nil
}

// endOf is when a segment stopped being written: when its successor was
// opened, or, for the newest, its last write.
func endOf(segs []segment, i int) time.Time {
	if i+1 < len(segs) {
		return segs[i+1].Created
	}
	return segs[i].ModTime
}

// Retention limits a stream.
type Retention struct {
	MaxAge   time.Duration // segments whose last entry is older go; 0: no limit
	MaxBytes int64         // the stream's segments together stay under this; 0: no limit
}

// expired decides which segments (oldest first) retention deletes:
// every segment that ended before now-MaxAge, then the oldest ones while
// the rest is over MaxBytes. The newest is kept by the size cap (it is
// being written, and one segment is never over the cap), but goes by age
// once nothing has been written to it for MaxAge.
func expired(segs []segment, now time.Time, r Retention) []segment {
	var out []segment
	var total int64
	for _, s := range segs {
		total += s.Size
	}
	for i, s := range segs {
		byAge := r.MaxAge > 0 && endOf(segs, i).Before(now.Add(-r.MaxAge))
		bySize := r.MaxBytes > 0 && total > r.MaxBytes && i < len(segs)-1
		if !byAge && !bySize {
			break // segments are deleted oldest first, never out of order
		}
		out = append(out, s)
		total -= s.Size
	}
	return out
}
