package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// A consumer is a program a user could write: it requires one published
// module and uses it.
type consumer struct {
	name    string // of its scratch module
	module  string // the module it requires
	version string
	source  string // where its code comes from, relative to the repository
	code    []byte // its main.go
	goVer   string // its go directive: the required module's
	others  []*repoModule
}

// consumers returns a consumer per adapter, whose program is the quick
// start of its README.md (its first go block), and one for the core, whose
// program is examples/quickstart if there is one.
func (r *repo) consumers() ([]consumer, error) {
	var cs []consumer
	var errs []error
	for _, m := range r.published() {
		c := consumer{name: filepath.Base(m.dir), module: m.path, version: m.version, goVer: m.file.Go.Version, others: r.published()}
		switch {
		case m.isAdapter():
			c.source = m.rel() + "/README.md"
			md, err := os.ReadFile(filepath.Join(m.dir, "README.md"))
			if err == nil {
				c.code, err = firstGoBlock(md)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: every adapter's README has a quick start: %w", c.source, err))
				continue
			}
		case m == r.core():
			c.name, c.source = "core", "examples/quickstart/main.go"
			code, err := os.ReadFile(filepath.Join(r.root, filepath.FromSlash(c.source)))
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, err
			}
			c.code = code
		default:
			continue
		}
		cs = append(cs, c)
	}
	return cs, errors.Join(errs...)
}

// firstGoBlock returns the first ```go block of a markdown text.
func firstGoBlock(md []byte) ([]byte, error) {
	_, rest, ok := bytes.Cut(md, []byte("\n```go\n"))
	if !ok {
		return nil, errors.New("no ```go block")
	}
	code, _, ok := bytes.Cut(rest, []byte("\n```\n"))
	if !ok {
		return nil, errors.New("the ```go block does not end")
	}
	return append(code, '\n'), nil
}

// consume makes c's scratch module in dir, requires c's module from the
// proxy, and builds and vets c's program. It returns what failed, with the
// go command's output.
func (c consumer) consume(dir string, env []string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	gomod := fmt.Sprintf("module rehearsal.example/%s\n\ngo %s\n", c.name, c.goVer)
	if err := writeFiles(map[string][]byte{
		filepath.Join(dir, "go.mod"):  []byte(gomod),
		filepath.Join(dir, "main.go"): c.code,
	}); err != nil {
		return err
	}
	steps := [][]string{
		{"go", "get", c.module + "@" + c.version},
		{"go", "mod", "tidy"},
		{"go", "build", "-o", os.DevNull, "."},
		{"go", "vet", "."},
	}
	for _, args := range steps {
		if _, err := goCmd(dir, env, args...); err != nil {
			return err
		}
	}
	return c.checkSelected(dir, env)
}

// checkSelected returns an error unless every module of the repository in
// the scratch module's build list is the published one: the version of
// the proxy, not replaced.
func (c consumer) checkSelected(dir string, env []string) error {
	out, err := goCmd(dir, env, "go", "list", "-m", "-f", "{{.Path}} {{.Version}} {{with .Replace}}replaced{{end}}", "all")
	if err != nil {
		return err
	}
	var errs []error
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		for _, m := range c.others {
			if len(f) >= 2 && f[0] == m.path && (f[1] != m.version || len(f) > 2) {
				errs = append(errs, fmt.Errorf("the build list has %s, want %s %s as published", strings.TrimSpace(line), m.path, m.version))
			}
		}
	}
	return errors.Join(errs...)
}

// goCmd runs a go command in dir with env and returns its output; on
// failure, an error that holds the command and its output.
func goCmd(dir string, env []string, args ...string) ([]byte, error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir, cmd.Env = dir, env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s (in %s): %w\n%s%s", strings.Join(args, " "), dir, err, out, stderr.Bytes())
	}
	return out, nil
}

// consumerEnv returns the environment of the scratch modules: outside any
// workspace, the proxy first, then the usual module cache's downloads (so
// third-party modules come from this machine when it has them), then the
// usual GOPROXY; no checksum database for gavel's modules (they are not
// published); go.mod and go.sum updated as needed; and the module cache
// modCache, from which the gavel modules of an earlier run are removed
// first: a module cache never downloads a version again.
func consumerEnv(proxy, modCache string) ([]string, error) {
	usual, err := goEnv("GOPROXY", "GOFLAGS", "GONOSUMDB", "GOMODCACHE")
	if err != nil {
		return nil, err
	}
	if err := removeGavel(modCache); err != nil {
		return nil, err
	}
	proxies := "file://" + filepath.ToSlash(proxy)
	if downloads := filepath.Join(usual["GOMODCACHE"], "cache", "download"); usual["GOMODCACHE"] != "" && isDir(downloads) {
		proxies += ",file://" + filepath.ToSlash(downloads)
	}
	set := map[string]string{
		"GOWORK":      "off",
		"GOPROXY":     proxies + "," + usual["GOPROXY"],
		"GONOSUMDB":   joinList("github.com/gavelrtb/*", usual["GONOSUMDB"]),
		"GOFLAGS":     strings.TrimSpace(usual["GOFLAGS"] + " -mod=mod -modcacherw"),
		"GOMODCACHE":  modCache,
		"GOTOOLCHAIN": "local",
	}
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); set[k] == "" {
			env = append(env, kv)
		}
	}
	for k, v := range set {
		env = append(env, k+"="+v)
	}
	return env, nil
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func joinList(a, b string) string {
	if b == "" {
		return a
	}
	return a + "," + b
}

// goEnv returns the go command's values of names, as `go env` prints them
// outside any workspace.
func goEnv(names ...string) (map[string]string, error) {
	cmd := exec.Command("go", append([]string{"env"}, names...)...)
	cmd.Env = append(os.Environ(), "GOWORK=off")
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go env: %w", err)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(names) {
		return nil, fmt.Errorf("go env %v: %q", names, out)
	}
	vals := map[string]string{}
	for i, n := range names {
		vals[n] = lines[i]
	}
	return vals, nil
}

// removeGavel removes gavel's modules, which an earlier run downloaded,
// from the module cache modCache.
func removeGavel(modCache string) error {
	for _, d := range []string{
		filepath.Join(modCache, "github.com", "gavelrtb"),
		filepath.Join(modCache, "cache", "download", "github.com", "gavelrtb"),
	} {
		_ = filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				_ = os.Chmod(p, 0o755) // a module cache's directories are read-only
			}
			return nil
		})
		if err := os.RemoveAll(d); err != nil {
			return err
		}
	}
	return nil
}
