package tinyml_test

import (
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinymlaas/tinyml/internal/testenv"
	"github.com/tinymlaas/tinyml/tinyml"
)

// The README's operator list is what users check before exporting a model: keep it true.
func TestREADMEListsEverySupportedOperator(t *testing.T) {
	b, err := os.ReadFile(testenv.RepoFile(t, "README.md"))
	require.NoError(t, err)
	for _, op := range tinyml.SupportedOps() {
		require.Regexp(t, regexp.MustCompile(`\b`+op+`\b`), string(b), "README does not list operator %s", op)
	}
}
