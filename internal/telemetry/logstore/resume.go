package logstore

import (
	"bytes"
	"encoding/json"
	"time"
)

// lastLines finds where a container's output was stored up to in k's
// stream: the time of its newest line and the lines stored at that
// time. It reads segments newest first and stops past the first that
// holds the container (once an older one adds no line at the cursor's
// time: those may straddle a rotation), or at one that ended before
// notBefore (nothing of the container can be older). A container with nothing stored gets
// the zero cursor: all of Docker's output is new.
func (s *Store) lastLines(k Key, container string, notBefore time.Time) *cursor {
	cur := &cursor{atTime: map[lineKey]int{}}
	snap, err := s.snapshot(k, nil)
	if err != nil || container == "" {
		return cur
	}
	needle := []byte(`"container":"` + container + `"`)
	found := false
	for i := len(snap.segs) - 1; i >= 0; i-- {
		if !notBefore.IsZero() && endOf(snap.segs, i).Before(notBefore) {
			break
		}
		one := snap
		one.segs = snap.segs[i : i+1]
		it := newIterator(one, position{}, time.Time{})
		atCursor := false
		for it.peek() {
			e := it.take()
			if !bytes.Contains(e.JSON, needle) {
				continue
			}
			var l Line
			if json.Unmarshal(e.JSON, &l) != nil || l.Container != container {
				continue
			}
			switch {
			case !found && l.Time.After(cur.time):
				cur.moveTo(l.Time)
				fallthrough
			case l.Time.Equal(cur.time):
				cur.atTime[lineKey{l.Stream, l.Text}]++
				atCursor = true
			}
		}
		it.close()
		if found && !atCursor {
			break
		}
		found = found || atCursor
	}
	return cur
}
