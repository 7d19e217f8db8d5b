package gavel

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// insecureURLByScan is the plain definition of insecureURL: some byte
// starts "http://", or "http:\/\/" as JSON may escape it, ignoring case,
// that is neither a W3C URL nor the value of an xmlns attribute.
func insecureURLByScan(s string) bool {
	for _, scheme := range []struct{ http, w3 string }{{"http://", "www.w3.org/"}, {`http:\/\/`, `www.w3.org\/`}} {
		n := len(scheme.http)
		for i := 0; i+n <= len(s); i++ {
			if strings.EqualFold(s[i:i+n], scheme.http) && !strings.HasPrefix(s[i+n:], scheme.w3) && !xmlnsValue(s[:i]) {
				return true
			}
		}
	}
	return false
}

var insecureURLCases = []struct {
	in   string
	want bool
}{
	{"", false},
	{"https://a.example/", false},
	{"http://a.example/", true},
	{"HTTP://A.EXAMPLE/", true},
	{"hTtP://", true},
	{"http:/", false},
	{"http:", false},
	{":", false},
	{"a:b:c:http://", true},
	{"http:::://", false},
	{"://", false},
	{"ttp://", false},
	{"xhttp://", true},
	{"://http://", true},
	{"https://a.example/?u=http://b.example/", true},
	{`<a href="https://click.example/"><img src="https://cdn.example/x.png"></a>`, false},
	{`<img src='http://cdn.example/x.png'>`, true},
	{"https://a.example/ http ://", false},
	{`<VAST xmlns="http://www.iab.com/VAST">`, false},
	{`<VAST xmlns:x = 'http://x.example/'>`, false},
	{`<x a="http://x.example/">`, true},
	{`xsi:schemaLocation="http://www.w3.org/2001/XMLSchema"`, false},

	// Native markup is JSON, whose encoders may escape slashes.
	{`{"img":{"url":"http:\/\/cdn.example\/i.png"}}`, true},
	{`{"img":{"url":"HTTP:\/\/cdn.example\/i.png"}}`, true},
	{`{"img":{"url":"https:\/\/cdn.example\/i.png"}}`, false},
	{`{"link":{"url":"https:\/\/a.example\/?u=http:\/\/b.example"}}`, true},
	{`http:\/`, false},
	{`{"ns":"http:\/\/www.w3.org\/2001"}`, false},
	{`http:\/\/`, true},
}

func TestInsecureURL(t *testing.T) {
	for _, tt := range insecureURLCases {
		assert.Equal(t, tt.want, insecureURL(tt.in), "%q", tt.in)
		assert.Equal(t, tt.want, insecureURLByScan(tt.in), "%q by scan", tt.in)
	}
}

func FuzzInsecureURL(f *testing.F) {
	for _, tt := range insecureURLCases {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := insecureURL(s), insecureURLByScan(s); got != want {
			t.Fatalf("insecureURL(%q) = %v, want %v", s, got, want)
		}
	})
}
