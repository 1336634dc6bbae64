package postgres

import (
	"sync"
	"time"
)

// batchQueue collects concurrent calls and hands them, in batches of at
// most maxBatch, to at most flushers goroutines. A flusher starts when a
// call arrives and no flusher is free, and ends when the queue is empty, so
// an idle queue runs no goroutine and needs no Close. A call that arrives
// while a flusher is free is flushed at once, alone: batches form only from
// calls that queued while every flusher was busy, which is exactly when
// sharing a round trip pays.
type batchQueue[T any] struct {
	maxBatch int
	flushers int
	window   time.Duration
	// flush handles one batch; it runs on a flusher goroutine.
	flush func(batch []T)
	// drop reports whether a queued call is to be left out (its caller
	// gave up); it is called under the queue's lock and must not block.
	drop func(T) bool

	mu      sync.Mutex
	queue   []T
	since   time.Time // when the oldest queued call arrived
	running int
	full    chan struct{} // signalled when maxBatch calls wait (window > 0)
}

func newBatchQueue[T any](maxBatch, flushers int, window time.Duration, flush func([]T), drop func(T) bool) *batchQueue[T] {
	return &batchQueue[T]{
		maxBatch: max(maxBatch, 1), flushers: max(flushers, 1), window: max(window, 0),
		flush: flush, drop: drop, full: make(chan struct{}, 1),
	}
}

func (q *batchQueue[T]) push(item T) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.queue) == 0 {
		q.since = time.Now()
	}
	q.queue = append(q.queue, item)
	if len(q.queue) >= q.maxBatch {
		select {
		case q.full <- struct{}{}:
		default:
		}
	}
	if q.running < q.flushers {
		q.running++
		go q.run()
	}
}

// len is how many calls wait.
func (q *batchQueue[T]) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.queue)
}

func (q *batchQueue[T]) run() {
	for {
		batch := q.take()
		if batch == nil {
			return
		}
		q.flush(batch)
	}
}

// take removes the next batch, leaving out dropped calls; nil (and one
// flusher fewer) when nothing is left.
func (q *batchQueue[T]) take() []T {
	q.mu.Lock()
	if q.window > 0 && len(q.queue) > 0 && len(q.queue) < q.maxBatch {
		wait := q.window - time.Since(q.since)
		q.mu.Unlock()
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-q.full:
			}
			t.Stop()
		}
		q.mu.Lock()
	}
	defer q.mu.Unlock()
	var batch []T
	var zero T
	for len(q.queue) > 0 && len(batch) < q.maxBatch {
		item := q.queue[0]
		q.queue[0] = zero
		q.queue = q.queue[1:]
		if !q.drop(item) {
			batch = append(batch, item)
		}
	}
	if len(q.queue) == 0 {
		q.queue = nil // let the backing array go
	} else {
		q.since = time.Now()
	}
	if len(batch) == 0 {
		q.running--
		return nil
	}
	return batch
}
