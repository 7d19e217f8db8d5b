package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// repoModule is one module of the repository.
type repoModule struct {
	root    string // the repository's root directory
	dir     string // the module's directory, absolute
	path    string // its module path
	file    *modfile.File
	version string // the version it is published at; "" when it is not published
}

// rel returns the module's directory relative to the repository's root,
// "." for the core.
func (m *repoModule) rel() string {
	rel, _ := filepath.Rel(m.root, m.dir)
	return filepath.ToSlash(rel)
}

// repo is the repository's modules: the core first, then by directory.
type repo struct {
	root    string
	modules []*repoModule
}

// readRepo reads the go.mod of every module of the repository that git
// knows (tracked, or untracked and not ignored), except those in
// directories that start with '.' or '_' or are named testdata, which the
// go command ignores too (this program's own module among them).
func readRepo(root string) (*repo, error) {
	files, err := gitFiles(root, ".")
	if err != nil {
		return nil, err
	}
	r := &repo{root: root}
	for _, f := range files {
		if filepath.Base(f) != "go.mod" || ignoredDir(filepath.Dir(f)) {
			continue
		}
		name := filepath.Join(root, filepath.FromSlash(f))
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		mf, err := modfile.Parse(name, data, nil)
		if err != nil {
			return nil, err
		}
		if mf.Module == nil {
			return nil, fmt.Errorf("%s: no module directive", f)
		}
		r.modules = append(r.modules, &repoModule{root: root, dir: filepath.Dir(name), path: mf.Module.Mod.Path, file: mf})
	}
	slices.SortFunc(r.modules, func(a, b *repoModule) int { return strings.Compare(a.rel(), b.rel()) })
	if len(r.modules) == 0 || r.modules[0].rel() != "." {
		return nil, errors.New("no go.mod at the repository's root")
	}
	return r, r.setVersions()
}

// ignoredDir reports whether the go command ignores the directory dir
// (slash-separated, relative to the repository's root) in patterns.
func ignoredDir(dir string) bool {
	for _, e := range strings.Split(dir, "/") {
		if e != "." && (strings.HasPrefix(e, ".") || strings.HasPrefix(e, "_") || e == "testdata") {
			return true
		}
	}
	return false
}

// core returns the module at the repository's root.
func (r *repo) core() *repoModule { return r.modules[0] }

func (r *repo) byPath(path string) *repoModule {
	for _, m := range r.modules {
		if m.path == path {
			return m
		}
	}
	return nil
}

// isAdapter reports whether m is one of the adapters or codecs, published
// for users to require.
func (m *repoModule) isAdapter() bool {
	return strings.HasPrefix(m.rel(), "adapters/") || strings.HasPrefix(m.rel(), "codecs/")
}

// setVersions sets the version of every module to publish: the core, the
// adapters, and any module that another requires. A module is published
// at the version that the others require; one that no module requires (an
// adapter nothing here uses) goes with the core's. Every module must
// require a module of the repository at one version.
func (r *repo) setVersions() error {
	wanted := map[string]map[string][]string{} // path -> version -> requirers
	for _, m := range r.modules {
		for _, req := range m.file.Require {
			if r.byPath(req.Mod.Path) == nil {
				continue
			}
			if wanted[req.Mod.Path] == nil {
				wanted[req.Mod.Path] = map[string][]string{}
			}
			wanted[req.Mod.Path][req.Mod.Version] = append(wanted[req.Mod.Path][req.Mod.Version], m.rel()+"/go.mod")
		}
	}
	var errs []error
	for _, m := range r.modules {
		versions := wanted[m.path]
		switch {
		case len(versions) > 1:
			errs = append(errs, fmt.Errorf("%s is required at several versions, but a release has one: %v", m.path, versions))
		case len(versions) == 1:
			for v := range versions {
				m.version = v
			}
		}
	}
	core := r.core()
	if len(wanted[core.path]) == 0 {
		errs = append(errs, fmt.Errorf("no module requires %s: nothing says which version to publish", core.path))
	}
	for _, m := range r.modules {
		if m.version == "" && m.isAdapter() {
			m.version = core.version
		}
	}
	return errors.Join(errs...)
}

// published returns the modules to publish, the core first.
func (r *repo) published() []*repoModule {
	var ms []*repoModule
	for _, m := range r.modules {
		if m.version != "" {
			ms = append(ms, m)
		}
	}
	return ms
}

// check returns every reason why the modules could not be published as
// they are.
func (r *repo) check() error {
	var errs []error
	for _, m := range r.modules {
		for _, rep := range m.file.Replace {
			errs = append(errs, fmt.Errorf("%s/go.mod:%d: replace %s => %s: Go ignores a replace in a dependency, so users would not get what we test; require a published version instead (go.work ties the modules together locally)",
				m.rel(), rep.Syntax.Start.Line, rep.Old, rep.New))
		}
		errs = append(errs, r.checkSum(m))
	}
	for _, m := range r.published() {
		if err := checkReleaseVersion(m.path, m.version); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, r.checkWork())
	return errors.Join(errs...)
}

// checkReleaseVersion returns an error if version cannot be the tag of a
// release of path.
func checkReleaseVersion(path, version string) error {
	switch {
	case !semver.IsValid(version) || semver.Canonical(version) != version:
		return fmt.Errorf("%s %s: not a canonical semantic version", path, version)
	case module.IsPseudoVersion(version):
		return fmt.Errorf("%s %s: a pseudo-version is no release: require a tagged version", path, version)
	case version == "v0.0.0":
		return fmt.Errorf("%s %s: v0.0.0 is no release: require the version to be tagged", path, version)
	}
	return module.Check(path, version)
}

// checkSum returns an error if m's go.sum has lines for the repository's
// modules: the workspace needs none, and a published version's would be
// the proxy's to give.
func (r *repo) checkSum(m *repoModule) error {
	data, err := os.ReadFile(filepath.Join(m.dir, "go.sum"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		if f := strings.Fields(sc.Text()); len(f) > 0 && r.byPath(f[0]) != nil {
			errs = append(errs, fmt.Errorf("%s/go.sum:%d: a line for %s, a module of this repository", m.rel(), n, f[0]))
		}
	}
	return errors.Join(errs...)
}

// checkWork returns an error unless go.work uses every module, and its
// replace directives only map a module of the repository, at the version
// the others require, to its own directory: what lets the workspace build
// before that version is on the proxy, and nothing more.
func (r *repo) checkWork() error {
	name := filepath.Join(r.root, "go.work")
	data, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	wf, err := modfile.ParseWork(name, data, nil)
	if err != nil {
		return err
	}
	var errs []error
	used := map[string]bool{}
	for _, u := range wf.Use {
		used[filepath.Clean(filepath.Join(r.root, u.Path))] = true
	}
	for _, m := range r.modules {
		if !used[m.dir] {
			errs = append(errs, fmt.Errorf("go.work does not use %s/", m.rel()))
		}
	}
	for _, rep := range wf.Replace {
		m := r.byPath(rep.Old.Path)
		switch {
		case m == nil:
			errs = append(errs, fmt.Errorf("go.work:%d: replace of %s, not a module of this repository", rep.Syntax.Start.Line, rep.Old.Path))
		case rep.Old.Version != m.version || rep.New.Version != "" || filepath.Clean(filepath.Join(r.root, rep.New.Path)) != m.dir:
			errs = append(errs, fmt.Errorf("go.work:%d: replace %s => %s: only %s %s => ./%s, the version the modules require, may be replaced",
				rep.Syntax.Start.Line, rep.Old, rep.New, m.path, m.version, m.rel()))
		}
	}
	return errors.Join(errs...)
}

// gitFiles returns the files under dir (relative to root) that git knows:
// tracked, or untracked and not ignored; slash-separated, relative to
// root, without those deleted from the work tree. They are what a commit
// of the work tree would hold.
func gitFiles(root, dir string) ([]string, error) {
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", dir)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git ls-files %s: %w", dir, err)
	}
	var files []string
	for f := range strings.SplitSeq(strings.TrimSuffix(string(out), "\x00"), "\x00") {
		if f == "" {
			continue
		}
		if _, err := os.Lstat(filepath.Join(root, filepath.FromSlash(f))); err == nil {
			files = append(files, f)
		}
	}
	slices.Sort(files)
	return slices.Compact(files), nil
}
