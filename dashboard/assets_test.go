package dashboard

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAssetsSelfContained: the page loads nothing from elsewhere, and
// uPlot comes with its licence.
func TestAssetsSelfContained(t *testing.T) {
	for _, name := range []string{"assets/index.html", "assets/dashboard.js", "assets/dashboard.css", "assets/uplot/uPlot.min.css"} {
		b, err := fs.ReadFile(assets, name)
		require.NoError(t, err)
		for _, scheme := range []string{"http://", "https://", "//cdn", "@import"} {
			assert.NotContains(t, strings.ToLower(string(b)), scheme, name)
		}
	}
	lic, err := fs.ReadFile(assets, "assets/uplot/LICENSE")
	require.NoError(t, err)
	assert.Contains(t, string(lic), "The MIT License")
	assert.Contains(t, string(lic), "Leon Sorokin")
}
