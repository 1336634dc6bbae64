//go:build integration

// Package fault runs the fault harness (cmd/faultcheck, scripts/fault.sh)
// from go test: the --short variant of every scenario — kill -9, a
// PostgreSQL outage, a Kafka outage, a held transaction, a write race, a
// restart during a Kafka outage — against the real binary, a private
// PostgreSQL cluster and a broker the harness controls. docs/RELIABILITY.md
// describes the scenarios.
package fault

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/acme/order-service/internal/testkit"
)

// harnessTimeout bounds the whole --short run (about a minute alone, more
// on a machine busy with the rest of the test suite).
const harnessTimeout = 6 * time.Minute

// TestFaultHarnessShort runs scripts/fault.sh --short and requires every
// scenario to PASS. It skips only when the machine cannot host a private
// PostgreSQL cluster (no initdb, or no runuser to run it as postgres when
// running as root) — and says so loudly.
func TestFaultHarnessShort(t *testing.T) {
	if reason := missingClusterTools(); reason != "" {
		msg := "SKIPPED: the fault harness needs a private PostgreSQL cluster: " + reason
		fmt.Fprintln(os.Stderr, "!!! "+msg)
		t.Skip(msg)
	}
	root, err := testkit.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	// The builds in scripts/fault.sh are invisible to go test's cache.
	if err := testkit.TouchSources(root); err != nil {
		t.Fatalf("walk the sources: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), harnessTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "scripts", "fault.sh"), "--short")
	cmd.Dir = root
	// Its own process group: on timeout every process of the run gets
	// SIGTERM, so faultcheck stops its cluster and broker.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	runErr := cmd.Run()
	t.Logf("scripts/fault.sh --short (%s):\n%s", time.Since(start).Round(time.Second), out.String())

	verdicts := regexp.MustCompile(`(?m)^(PASS|FAIL) ([a-f]) `).FindAllStringSubmatch(out.String(), -1)
	passed := map[string]bool{}
	for _, v := range verdicts {
		if v[1] == "PASS" {
			passed[v[2]] = true
		}
	}
	for _, sc := range strings.Split("a,b,c,d,e,f", ",") {
		if !passed[sc] {
			t.Errorf("scenario %s did not PASS", sc)
		}
	}
	if runErr != nil {
		t.Errorf("scripts/fault.sh --short: %v", runErr)
	}
}

// missingClusterTools says what is missing to run a private cluster, or "".
func missingClusterTools() string {
	found := false
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	if d := os.Getenv("PG_BINDIR"); d != "" {
		dirs = append([]string{d}, dirs...)
	}
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "pg_ctl")) {
			found = true
		}
	}
	if _, err := exec.LookPath("initdb"); err == nil {
		found = true
	}
	if !found {
		return "initdb/pg_ctl not found (install postgresql, or set PG_BINDIR)"
	}
	if os.Geteuid() == 0 {
		if _, err := exec.LookPath("runuser"); err != nil {
			return "running as root, and runuser (to start PostgreSQL as the postgres user) is missing"
		}
	}
	return ""
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}
