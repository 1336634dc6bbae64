package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/acme/order-service/internal/infrastructure/outbox"
)

// restartReadyBound bounds restart-to-ready with the broker down: a service
// that waited for Kafka at start-up would miss it (or never get ready).
const restartReadyBound = 10 * time.Second

// scenarioRestartDuringKafkaOutage (f): the broker is stopped under load,
// and while it is down the service is killed with SIGKILL and restarted. A
// deploy, a crash or a node drain during a Kafka outage must not take the
// service down with it: it starts and gets ready without the broker, takes
// commands, and its relay, which starts out unable to reach the broker,
// drains the whole backlog once the broker is back, in order, losing
// nothing.
func scenarioRestartDuringKafkaOutage(ctx context.Context, e *env) scenarioResult {
	const name = "f"
	beforeKill := e.pickDur(3*time.Second, 5*time.Second)
	afterRestart := e.pickDur(5*time.Second, 20*time.Second)
	workers := e.pick(8, 16)
	title := fmt.Sprintf("kill -9 and restart while the Kafka broker is down, %d workers", workers)
	res := scenarioResult{name: name, title: title, pass: true}

	r, err := e.newRun(ctx, name, nil)
	if err != nil {
		return errorf(name, title, err)
	}
	defer r.finish(&res)
	defer func() { _ = e.broker.Restart() }() // running again for later scenarios, whatever happens

	l := r.newLoad(workers)
	stopLoad := l.start(ctx)
	abort := func(format string, args ...any) scenarioResult {
		stopLoad()
		res.fail(format, args...)
		return res
	}

	outbox.Sleep(ctx, e.pickDur(2*time.Second, 5*time.Second))
	publishedAtStop := topicSize(ctx, r)
	e.broker.Stop()
	stopped := time.Now()
	outbox.Sleep(ctx, beforeKill)
	killedAfter := time.Since(stopped)
	r.svc.Kill()
	ready, err := r.svc.Start(ctx)
	if err != nil {
		return abort("restart with the broker down: %v", err)
	}
	res.note("killed %s into the outage; restarted and ready in %s without the broker (bound %s)",
		killedAfter.Round(time.Millisecond), ready.Round(time.Millisecond), restartReadyBound)
	if ready > restartReadyBound {
		res.fail("restart-to-ready took %s with the broker down (bound %s)", ready.Round(time.Millisecond), restartReadyBound)
	}
	ackedAtReady := l.acked.Load()
	outbox.Sleep(ctx, afterRestart)
	ackedAfterRestart := l.acked.Load() - ackedAtReady
	state, err := readyRelayState(ctx, r.svc)
	if err != nil {
		res.fail("/readyz before the broker is back: %v", err)
	} else if state != "connecting" {
		res.fail("/readyz shows the relay %q before the broker is back, want connecting", state)
	}
	if err := e.broker.Restart(); err != nil {
		return abort("%v", err)
	}
	res.note("broker down %s; %d requests acknowledged by the restarted service before the broker came back (relay: %s)",
		time.Since(stopped).Round(time.Millisecond), ackedAfterRestart, state)
	backlog, drain := awaitDrain(ctx, r, &res, publishedAtStop)
	outbox.Sleep(ctx, e.pickDur(2*time.Second, 5*time.Second))
	stopLoad()

	c, err := r.check(ctx, nil)
	if err != nil {
		res.fail("check: %v", err)
		return res
	}
	judge(&res, c)
	if ackedAfterRestart == 0 {
		res.fail("the restarted service acknowledged no command while the broker was down")
	}
	res.counts = fmt.Sprintf("%s restart_ready=%s acked_after_restart=%d backlog=%d drained_after_return=%s",
		res.counts, ready.Round(time.Millisecond), ackedAfterRestart, backlog-publishedAtStop, drain.Round(time.Millisecond))
	return res
}

// readyRelayState is the relay's state as /readyz reports it; /readyz must
// answer 200 (the relay never makes the service unready).
func readyRelayState(ctx context.Context, s *service) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.HTTPAddr+"/readyz", nil)
	if err != nil {
		return "", err
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var body struct {
		Relay struct {
			State string `json:"state"`
		} `json:"relay"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return "", fmt.Errorf("HTTP %d: %w", resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK {
		return body.Relay.State, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return body.Relay.State, nil
}
