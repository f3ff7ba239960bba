package logstore

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// MigrateLegacy moves the logs an older server kept outside the store
// into it, once, so they stay readable and come under retention:
//
//   - <dir>/access/<stack>/<stage>/access[.N].ndjson (accesslog's own
//     rotation) become the stage's access segments, oldest first;
//   - <dir>/builds/<stack>/<build>.ndjson (a build's events) are
//     appended to the stack's build log, builds in order.
//
// Only files of those shapes are touched (a stack named "access" or
// "builds" has directories there, not such files); emptied directories
// are removed. Call it before anything writes to the store.
func (s *Store) MigrateLegacy() error {
	access, _ := filepath.Glob(filepath.Join(s.cfg.Dir, "access", "*", "*", "access*.ndjson"))
	byStage := map[Key][]string{}
	for _, p := range access {
		rel, _ := filepath.Rel(filepath.Join(s.cfg.Dir, "access"), p)
		parts := strings.Split(rel, string(filepath.Separator))
		k := Key{Stack: parts[0], Stage: parts[1], Kind: Access}
		if k.validate() == nil && legacyAccessIndex(parts[2]) >= 0 {
			byStage[k] = append(byStage[k], p)
		}
	}
	for k, files := range byStage {
		// access.4.ndjson is the oldest, access.ndjson the newest.
		sort.Slice(files, func(i, j int) bool {
			return legacyAccessIndex(filepath.Base(files[i])) > legacyAccessIndex(filepath.Base(files[j]))
		})
		if err := s.adopt(k, files); err != nil {
			return err
		}
	}
	builds, _ := filepath.Glob(filepath.Join(s.cfg.Dir, "builds", "*", "b*.ndjson"))
	sort.Slice(builds, func(i, j int) bool {
		si, sj := filepath.Dir(builds[i]), filepath.Dir(builds[j])
		if si != sj {
			return si < sj
		}
		return legacyBuildNumber(builds[i]) < legacyBuildNumber(builds[j])
	})
	for _, p := range builds {
		k := Key{Stack: filepath.Base(filepath.Dir(p)), Kind: Build}
		if legacyBuildNumber(p) < 0 || k.validate() != nil {
			continue
		}
		if err := s.appendFile(k, p); err != nil {
			return err
		}
		os.Remove(p)
	}
	for _, d := range []string{"access", "builds"} {
		removeEmptyDirs(filepath.Join(s.cfg.Dir, d))
	}
	return nil
}

// legacyAccessIndex is N of access.N.ndjson (0 for access.ndjson), or -1.
func legacyAccessIndex(name string) int {
	if name == "access.ndjson" {
		return 0
	}
	n, ok := strings.CutPrefix(name, "access.")
	if !ok {
		return -1
	}
	n, ok = strings.CutSuffix(n, ".ndjson")
	i, err := strconv.Atoi(n)
	if !ok || err != nil || i < 1 {
		return -1
	}
	return i
}

// legacyBuildNumber is N of bN.ndjson, or -1.
func legacyBuildNumber(path string) int {
	n, ok := strings.CutSuffix(strings.TrimPrefix(filepath.Base(path), "b"), ".ndjson")
	i, err := strconv.Atoi(n)
	if !ok || err != nil {
		return -1
	}
	return i
}

// adopt renames files (oldest first) into k's stream as its next segments.
func (s *Store) adopt(k Key, files []string) error {
	dir := k.dir(s.cfg.Dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("migrate access logs: %w", err)
	}
	segs, err := listSegments(dir)
	if err != nil {
		return err
	}
	seq := 1
	if len(segs) > 0 {
		seq = segs[len(segs)-1].Seq + 1
	}
	for _, p := range files {
		info, err := os.Stat(p)
		if err != nil {
			continue
		}
		if err := os.Rename(p, filepath.Join(dir, segmentName(seq, info.ModTime()))); err != nil {
			return fmt.Errorf("migrate access log %s: %w", p, err)
		}
		seq++
	}
	return nil
}

// appendFile appends a legacy NDJSON file's entries to k's stream.
func (s *Store) appendFile(k Key, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		t, ok := entryTime(sc.Bytes())
		if !ok {
			continue
		}
		if err := s.Append(k, t, json.RawMessage(sc.Bytes())); err != nil {
			return fmt.Errorf("migrate build log %s: %w", path, err)
		}
	}
	return nil
}

// removeEmptyDirs removes dir and the directories under it that hold
// nothing.
func removeEmptyDirs(dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if e.IsDir() {
			removeEmptyDirs(filepath.Join(dir, e.Name()))
		}
	}
	os.Remove(dir) // fails, as it should, unless empty
}
