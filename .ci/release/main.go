// Command rehearsal rehearses a release of gavel's modules: it proves that
// each module can be consumed as it would be published, by a user outside
// the repository, without the workspace.
//
// It reads every go.mod of the repository, refuses a replace directive in
// any of them (Go ignores a replace in a dependency, so it would build for
// us and break for every user) and the versions that cannot be release
// tags; builds a file-based module proxy holding the core and each adapter
// at the version the other modules require (one version for each, read from
// the go.mod requires); then, for each adapter, makes a scratch module
// outside the repository, with GOWORK=off and the proxy in front of the
// usual GOPROXY, that requires the adapter and builds and vets the quick
// start of its README.md; and the same for the core with
// examples/quickstart. It exits non-zero if anything could not be consumed.
//
// Usage (from the repository, see .ci/rehearse-release and RELEASING.md):
//
//	cd .ci/release && GOWORK=off go run . -repo ../..
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"
)

func main() {
	repo := flag.String("repo", "../..", "the repository's root directory")
	keep := flag.Bool("keep", false, "keep the proxy and the scratch modules, and print where they are")
	modCache := flag.String("modcache", "", "GOMODCACHE of the scratch modules, gavel's modules in it removed first (default: a new one per run, filled from the usual module cache)")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("rehearsal: ")

	start := time.Now()
	root, err := filepath.Abs(*repo)
	if err != nil {
		log.Fatal(err)
	}
	if err := run(root, *modCache, *keep); err != nil {
		log.Printf("FAILED after %v:\n%v", time.Since(start).Round(time.Millisecond), err)
		os.Exit(1)
	}
	log.Printf("ok: every module can be consumed as published (%v)", time.Since(start).Round(time.Millisecond))
}

func run(root, modCache string, keep bool) error {
	rep, err := readRepo(root)
	if err != nil {
		return err
	}
	if err := rep.check(); err != nil {
		return err
	}
	for _, m := range rep.published() {
		log.Printf("publish %s %s (from %s/)", m.path, m.version, m.rel())
	}

	tmp, err := os.MkdirTemp("", "gavel-rehearsal-")
	if err != nil {
		return err
	}
	if keep {
		log.Printf("keeping %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	if inside(tmp, root) {
		return fmt.Errorf("the scratch directory %s is inside the repository %s", tmp, root)
	}

	t := time.Now()
	proxy := filepath.Join(tmp, "proxy")
	if err := buildProxy(rep, proxy); err != nil {
		return err
	}
	log.Printf("proxy at %s (%v)", proxy, time.Since(t).Round(time.Millisecond))

	if modCache == "" {
		// A module cache of the run's own: a run never sees gavel modules
		// that another run, of another tree, put in a shared one.
		modCache = filepath.Join(tmp, "modcache")
	}
	env, err := consumerEnv(proxy, modCache)
	if err != nil {
		return err
	}
	consumers, err := rep.consumers()
	if err != nil {
		return err
	}
	var failed []string
	for _, c := range consumers {
		t := time.Now()
		if err := c.consume(filepath.Join(tmp, "consumers", c.name), env); err != nil {
			log.Printf("FAIL %s (%v):\n%v", c.name, time.Since(t).Round(time.Millisecond), err)
			failed = append(failed, c.name)
			continue
		}
		log.Printf("ok %s: built and vetted %s against %s %s (%v)", c.name, c.source, c.module, c.version, time.Since(t).Round(time.Millisecond))
	}
	if len(failed) > 0 {
		return fmt.Errorf("could not be consumed as published: %v", failed)
	}
	return nil
}

// inside reports whether path is dir or inside it.
func inside(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !filepath.IsAbs(rel) && (rel == "." || !startsWithDotDot(rel))
}

func startsWithDotDot(rel string) bool {
	return len(rel) >= 3 && rel[:3] == ".."+string(filepath.Separator)
}
