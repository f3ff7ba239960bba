package source

import (
	"reflect"
	"strings"
	"testing"
)

func sha(c byte) string { return strings.Repeat(string(c), 40) }

func TestParseRefs(t *testing.T) {
	out := sha('a') + "  refs/heads/main\n" +
		sha('b') + " " + sha('c') + " refs/tags/v1\n"
	got, err := parseRefs(out)
	if err != nil {
		t.Fatal(err)
	}
	want := refSet{
		"refs/heads/main": {object: sha('a'), commit: sha('a')},
		"refs/tags/v1":    {object: sha('b'), commit: sha('c')},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("parseRefs = %v, want %v", got, want)
	}
	if got, err := parseRefs(""); err != nil || len(got) != 0 {
		t.Fatalf("parseRefs(empty) = %v, %v", got, err)
	}
	if _, err := parseRefs("garbage\n"); err == nil {
		t.Fatal("parseRefs(garbage) succeeded")
	}
}

func TestDiffRefs(t *testing.T) {
	branch := func(c byte) refValue { return refValue{object: sha(c), commit: sha(c)} }
	tag := func(obj, commit byte) refValue { return refValue{object: sha(obj), commit: sha(commit)} }
	tests := []struct {
		name          string
		before, after refSet
		want          []Push
	}{
		{name: "nothing", before: refSet{}, after: refSet{}},
		{
			name:   "unchanged",
			before: refSet{"refs/heads/main": branch('a')},
			after:  refSet{"refs/heads/main": branch('a')},
		},
		{
			name:   "first push",
			before: refSet{},
			after:  refSet{"refs/heads/main": branch('a')},
			want:   []Push{{Stack: "app", Ref: "refs/heads/main", Branch: "main", Old: ZeroSHA, New: sha('a')}},
		},
		{
			name:   "update",
			before: refSet{"refs/heads/main": branch('a')},
			after:  refSet{"refs/heads/main": branch('b')},
			want:   []Push{{Stack: "app", Ref: "refs/heads/main", Branch: "main", Old: sha('a'), New: sha('b')}},
		},
		{
			name:   "delete",
			before: refSet{"refs/heads/main": branch('a'), "refs/heads/feature/x": branch('b')},
			after:  refSet{"refs/heads/main": branch('a')},
			want:   []Push{{Stack: "app", Ref: "refs/heads/feature/x", Branch: "feature/x", Old: sha('b'), New: ZeroSHA}},
		},
		{
			name:   "annotated tag reports the commit",
			before: refSet{},
			after:  refSet{"refs/tags/v1": tag('t', 'a')},
			want:   []Push{{Stack: "app", Ref: "refs/tags/v1", Old: ZeroSHA, New: sha('a')}},
		},
		{
			name:   "retagged same commit still counts",
			before: refSet{"refs/tags/v1": tag('t', 'a')},
			after:  refSet{"refs/tags/v1": tag('u', 'a')},
			want:   []Push{{Stack: "app", Ref: "refs/tags/v1", Old: sha('a'), New: sha('a')}},
		},
		{
			name:   "several, sorted by ref",
			before: refSet{"refs/heads/b": branch('a')},
			after:  refSet{"refs/heads/c": branch('c'), "refs/heads/a": branch('d')},
			want: []Push{
				{Stack: "app", Ref: "refs/heads/a", Branch: "a", Old: ZeroSHA, New: sha('d')},
				{Stack: "app", Ref: "refs/heads/b", Branch: "b", Old: sha('a'), New: ZeroSHA},
				{Stack: "app", Ref: "refs/heads/c", Branch: "c", Old: ZeroSHA, New: sha('c')},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := diffRefs("app", tt.before, tt.after)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("diffRefs =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestParseRoute(t *testing.T) {
	tests := []struct {
		path, stack, endpoint string
		ok                    bool
	}{
		{"/git/app.git/info/refs", "app", infoRefs, true},
		{"/git/app.git/git-upload-pack", "app", uploadPack, true},
		{"/git/app.git/git-receive-pack", "app", receivePack, true},
		{"/git/app/info/refs", "app", infoRefs, true},
		{"/git/app.git/HEAD", "", "", false},
		{"/git/app.git/objects/info/packs", "", "", false},
		{"/git/app.git/", "", "", false},
		{"/git/app.git", "", "", false},
		{"/git//info/refs", "", "", false},
		{"/git/../etc.git/info/refs", "", "", false},
		{"/git/app.git/../../x.git/info/refs", "", "", false},
		{"/git/a/b.git/info/refs", "", "", false},
		{"/other/app.git/info/refs", "", "", false},
	}
	for _, tt := range tests {
		stack, endpoint, ok := parseRoute(tt.path)
		if stack != tt.stack || endpoint != tt.endpoint || ok != tt.ok {
			t.Errorf("parseRoute(%q) = %q, %q, %v; want %q, %q, %v", tt.path, stack, endpoint, ok, tt.stack, tt.endpoint, tt.ok)
		}
	}
}

func TestRemoteUser(t *testing.T) {
	for in, want := range map[string]string{
		"":                      "git",
		"alice":                 "alice",
		"ci-bot@example.io":     "ci-bot@example.io",
		"x\x00y":                "git",
		"a b":                   "git",
		strings.Repeat("a", 65): "git",
	} {
		if got := remoteUser(in); got != want {
			t.Errorf("remoteUser(%q) = %q, want %q", in, got, want)
		}
	}
}
