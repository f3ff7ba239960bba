package service

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://user:tok@github.com/a/b.git": "https://****@github.com/a/b.git",
		"https://github.com/a/b.git":          "https://github.com/a/b.git",
		"https://github.com/a/b@v1":           "https://github.com/a/b@v1",
		"/srv/git/upstream.git":               "/srv/git/upstream.git",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestVerifyHook(t *testing.T) {
	body := []byte(`{"ref":"refs/heads/main"}`)
	mac := hmac.New(sha256.New, []byte("s3"))
	mac.Write(body)
	good := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	cases := []struct {
		h    Hook
		want bool
	}{
		{Hook{GitHubSig: good, Body: body}, true},
		{Hook{GitHubSig: good, Body: []byte(`{"ref":"refs/heads/evil"}`)}, false},
		{Hook{GitHubSig: "sha1=" + good[7:], Body: body}, false},
		{Hook{GitHubSig: "sha256=zz", Body: body}, false},
		{Hook{GitLabToken: "s3"}, true},
		{Hook{GitLabToken: "s4"}, false},
		{Hook{Body: body}, false},
	}
	for i, tc := range cases {
		if got := verifyHook(tc.h, "s3"); got != tc.want {
			t.Errorf("case %d: got %v, want %v", i, got, tc.want)
		}
	}
}
