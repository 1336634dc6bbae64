//go:build integration

package e2e

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// The README walkthrough, run for real by scripts/walkthrough.sh against the
// binary TestMain built, so that the documented commands and answers cannot
// rot.
func TestREADMEWalkthrough(t *testing.T) {
	// Not parallel: it takes the default ports 9000, 8080 and 9092, as the
	// zero-config test does.
	if busy := portsFree("9000", "8080", "9092"); len(busy) > 0 {
		t.Skipf("!!! SKIPPED: the README walkthrough needs ports 9000, 8080 and 9092; %v are busy", busy)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "scripts", "walkthrough.sh"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "ORDER_SERVICE_BIN="+binaryPath)
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		t.Logf("scripts/walkthrough.sh passed in %s:\n%s", time.Since(start).Round(time.Millisecond), tail(out.String(), 2500))
	case errors.As(err, &exit) && exit.ExitCode() == 3:
		t.Skipf("!!! SKIPPED: a default port was taken when the script started:\n%s", out.String())
	default:
		t.Fatalf("scripts/walkthrough.sh: %v\n%s", err, out.String())
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
