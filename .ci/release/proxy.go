package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

// buildProxy writes a file-based module proxy (the GOPROXY protocol laid
// out as files, for GOPROXY=file://dir) holding every published module of
// r at its version:
//
//	<dir>/<module path, case-encoded>/@v/list
//	<dir>/<module path, case-encoded>/@v/<version>.info, .mod, .zip
//
// Each zip holds the files of the module that git knows, as they are in the
// work tree, less those of nested modules: what a tag of a commit of the
// work tree would publish.
func buildProxy(r *repo, dir string) error {
	now := time.Now().UTC().Format(time.RFC3339)
	for _, m := range r.published() {
		escPath, err := module.EscapePath(m.path)
		if err != nil {
			return err
		}
		escVersion, err := module.EscapeVersion(m.version)
		if err != nil {
			return err
		}
		vdir := filepath.Join(dir, filepath.FromSlash(escPath), "@v")
		if err := os.MkdirAll(vdir, 0o755); err != nil {
			return err
		}
		base := filepath.Join(vdir, escVersion)
		info, _ := json.Marshal(struct{ Version, Time string }{m.version, now})
		gomod, err := os.ReadFile(filepath.Join(m.dir, "go.mod"))
		if err != nil {
			return err
		}
		if err := writeFiles(map[string][]byte{
			filepath.Join(vdir, "list"): []byte(m.version + "\n"),
			base + ".info":              info,
			base + ".mod":               gomod,
		}); err != nil {
			return err
		}
		if err := writeZip(m, base+".zip"); err != nil {
			return fmt.Errorf("%s %s: %w", m.path, m.version, err)
		}
	}
	return nil
}

func writeFiles(files map[string][]byte) error {
	for name, data := range files {
		if err := os.WriteFile(name, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// writeZip writes the module zip of m to name.
func writeZip(m *repoModule, name string) error {
	rel := m.rel()
	paths, err := gitFiles(m.root, rel)
	if err != nil {
		return err
	}
	files := make([]modzip.File, 0, len(paths))
	for _, p := range paths {
		if rel != "." {
			p = strings.TrimPrefix(p, rel+"/")
		}
		files = append(files, zipFile{dir: m.dir, path: p})
	}
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := modzip.Create(f, module.Version{Path: m.path, Version: m.version}, files); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// zipFile is a file of a module's directory, for modzip.Create.
type zipFile struct {
	dir  string // the module's directory
	path string // slash-separated, relative to dir
}

func (f zipFile) Path() string { return f.path }

func (f zipFile) Lstat() (os.FileInfo, error) {
	return os.Lstat(filepath.Join(f.dir, filepath.FromSlash(f.path)))
}

func (f zipFile) Open() (io.ReadCloser, error) {
	return os.Open(filepath.Join(f.dir, filepath.FromSlash(f.path)))
}
