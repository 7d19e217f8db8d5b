package gavel

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// insecureURLByScan is the plain definition of insecureURL: some byte
// starts "http://", ignoring case.
func insecureURLByScan(s string) bool {
	for i := 0; i+7 <= len(s); i++ {
		if strings.EqualFold(s[i:i+7], "http://") {
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
