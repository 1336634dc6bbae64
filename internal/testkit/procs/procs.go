// Package procs builds the order-service binary and runs it as a child
// process with an explicit environment: started, waited for until ready,
// signalled, stopped with SIGTERM or killed. The end-to-end tests, the
// bad-input suite and cmd/faultcheck all run the service through it.
package procs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/acme/order-service/internal/testkit"
)

// Build compiles ./cmd/server of the module at root into out, with the race
// detector when race is set (a data race then makes the service exit 66).
func Build(ctx context.Context, root, out string, race bool) error {
	args := []string{"build", "-o", out}
	if race {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/server")
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, output)
	}
	return nil
}

// Binary is the service binary a test package built for its tests.
type Binary struct {
	Root string // the module's root directory
	Path string // the executable
}

// RunTests is the body of a TestMain that runs the service binary: it
// builds ./cmd/server of the module the tests run in (with -race when race
// is set) into a temporary directory, fills in bin, runs the tests and
// removes the directory. It returns the exit code for os.Exit.
func RunTests(m interface{ Run() int }, race bool, bin *Binary) int {
	root, err := testkit.ModuleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "build the service:", err)
		return 2
	}
	dir, err := os.MkdirTemp("", "order-service-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "build the service:", err)
		return 2
	}
	defer os.RemoveAll(dir)
	*bin = Binary{Root: root, Path: filepath.Join(dir, "order-service")}
	start := time.Now()
	if err := Build(context.Background(), root, bin.Path, race); err != nil {
		fmt.Fprintln(os.Stderr, "build the service:", err)
		return 2
	}
	fmt.Fprintf(os.Stderr, "built %s (race: %v) in %s\n", bin.Path, race, time.Since(start).Round(time.Millisecond))
	return m.Run()
}

// Spec is how to run the binary. The process gets exactly Env plus PATH
// and HOME: nothing of the caller's own environment leaks into it.
type Spec struct {
	Bin    string
	Env    map[string]string
	Dir    string    // working directory; empty: the caller's
	Output io.Writer // stdout and stderr; nil: discarded
	// OwnGroup starts it in a process group of its own, so that a signal
	// to the caller's group (Ctrl-C) does not reach it.
	OwnGroup bool
}

// environ is the process environment of the spec, sorted.
func (s Spec) environ() []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range s.Env {
		env = append(env, k+"="+v)
	}
	slices.Sort(env)
	return env
}

// Process is one run of the binary.
type Process struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // cmd.Wait's result, valid once exited is closed
}

// Start starts the binary; it does not wait for readiness.
func Start(spec Spec) (*Process, error) {
	cmd := exec.Command(spec.Bin)
	cmd.Dir = spec.Dir
	cmd.Env = spec.environ()
	cmd.Stdout, cmd.Stderr = spec.Output, spec.Output
	if spec.OwnGroup {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.Bin, err)
	}
	p := &Process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// WaitReady polls httpAddr's /readyz until it answers 200, the process
// exits, or timeout passes.
func (p *Process) WaitReady(ctx context.Context, httpAddr string, timeout time.Duration) error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := testkit.WaitReady(ctx, "http://"+httpAddr+"/readyz", p.exited)
	select {
	case <-p.exited:
		return fmt.Errorf("exited before it was ready (%v)", p.err)
	default:
	}
	if err != nil {
		return fmt.Errorf("not ready %s after start: %w", time.Since(start).Round(time.Millisecond), err)
	}
	return nil
}

// Exited is closed once the process was reaped.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Err is how the process ended (cmd.Wait's error); valid once Exited is
// closed.
func (p *Process) Err() error { return p.err }

// Signal sends sig to the process.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Wait waits up to timeout for the process to exit and returns its exit
// code (-1 when it did not exit normally); ok is false on timeout.
func (p *Process) Wait(timeout time.Duration) (code int, ok bool) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-t.C:
		return 0, false
	}
	var exit *exec.ExitError
	switch {
	case p.err == nil:
		return 0, true
	case errors.As(p.err, &exit):
		return exit.ExitCode(), true
	default:
		return -1, true
	}
}

// Stop sends SIGTERM and waits up to timeout for a clean exit (nil); after
// timeout it kills the process. It says so when the process had exited
// already or did not exit 0.
func (p *Process) Stop(timeout time.Duration) error {
	select {
	case <-p.exited:
		return fmt.Errorf("had already exited: %v", p.err)
	default:
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("SIGTERM: %w", err)
	}
	if _, ok := p.Wait(timeout); !ok {
		p.Kill()
		return fmt.Errorf("still running %s after SIGTERM; killed", timeout)
	}
	return p.err
}

// Kill sends SIGKILL — no shutdown, no flush — and reaps the process.
func (p *Process) Kill() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
}
