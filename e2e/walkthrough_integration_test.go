//go:build integration

package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/acme/order-service/internal/testkit"
)

// The README walkthrough, run for real by scripts/walkthrough.sh against the
// binary TestMain built, so that the documented commands and answers cannot
// rot. The script runs the README's commands with their addresses
// (localhost:9000, :8080, :9092) pointed at the fresh ports the server gets
// here: the default ports are machine-wide, and other test binaries and
// checkouts run at the same time.
func TestREADMEWalkthrough(t *testing.T) {
	t.Parallel()
	if err := testkit.TouchSources(bin.Root); err != nil { // the script and README.md too
		t.Fatalf("walk the sources: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(bin.Root, "scripts", "walkthrough.sh"))
	cmd.Dir = bin.Root
	cmd.Env = append(os.Environ(), "ORDER_SERVICE_BIN="+bin.Path)
	for k, v := range listenEnv(t) {
		cmd.Env = append(cmd.Env, k+"="+v) // the last of a name wins
	}
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("scripts/walkthrough.sh: %v\n%s", err, out.String())
	}
	t.Logf("scripts/walkthrough.sh passed in %s:\n%s", time.Since(start).Round(time.Millisecond), testkit.Tail(out.String(), 2500))
}
