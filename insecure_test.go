package gavel

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// insecureURLByScan is the plain definition of insecureURL: some byte
// starts "http://", ignoring case, that is neither a W3C URL nor the value
// of an xmlns attribute.
func insecureURLByScan(s string) bool {
	for i := 0; i+7 <= len(s); i++ {
		if strings.EqualFold(s[i:i+7], "http://") && !strings.HasPrefix(s[i+7:], "www.w3.org/") && !xmlnsValue(s[:i]) {
			return true
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
