package main

import (
	"bufio"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// Every quantile is within the histogram's stated relative error of the
// exact quantile of the sorted samples, and never below it.
func TestHistogramQuantilesMatchSortedSamples(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	h := newHistogram()
	var samples []int64
	for range 100_000 {
		// Log-uniform from 1 µs to ~10 s, plus a few exact small values.
		v := int64(1000*(1<<rng.IntN(24))) + rng.Int64N(1000)
		samples = append(samples, v)
		h.record(time.Duration(v))
	}
	for _, v := range []int64{0, 1, 127, 128, 255, 256} {
		samples = append(samples, v)
		h.record(time.Duration(v))
	}
	slices.Sort(samples)
	for _, q := range []float64{0.001, 0.1, 0.5, 0.9, 0.95, 0.99, 0.999, 1} {
		rank := int(float64(len(samples))*q+0.999999) - 1
		exact := samples[max(rank, 0)]
		got := int64(h.quantile(q))
		if got < exact || float64(got-exact) > float64(exact)/subBuckets+1 {
			t.Errorf("q%.3f = %d, exact %d: outside [exact, exact*(1+1/%d)]", q, got, exact, subBuckets)
		}
	}
	if int64(h.quantile(1)) != samples[len(samples)-1] || h.max != samples[len(samples)-1] {
		t.Errorf("max = %d / q1 = %d, want %d", h.max, h.quantile(1), samples[len(samples)-1])
	}
}

func TestHistogramBucketsAreContiguous(t *testing.T) {
	prevHigh := int64(-1)
	for i := range numBuckets - 1 {
		high := bucketHigh(i)
		if high <= prevHigh {
			t.Fatalf("bucket %d high %d not above previous %d", i, high, prevHigh)
		}
		if bucketOf(prevHigh+1) != i || bucketOf(high) != i {
			t.Fatalf("bucket %d: bucketOf(%d)=%d bucketOf(%d)=%d", i, prevHigh+1, bucketOf(prevHigh+1), high, bucketOf(high))
		}
		prevHigh = high
	}
}

func TestHistogramMerge(t *testing.T) {
	a, b := newHistogram(), newHistogram()
	a.record(time.Millisecond)
	b.record(3 * time.Millisecond)
	b.record(2 * time.Millisecond)
	a.merge(b)
	if a.n != 3 || a.max != int64(3*time.Millisecond) || a.min != int64(time.Millisecond) || a.mean() != 2*time.Millisecond {
		t.Fatalf("merged: n=%d min=%d max=%d mean=%s", a.n, a.min, a.max, a.mean())
	}
}

func TestParseStatCPU(t *testing.T) {
	// A command name with spaces and a parenthesis, as the kernel allows.
	line := "4242 (order (svc) x) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 12 0 100 1000 200 0"
	got, err := parseStatCPU(line)
	if err != nil || got != 3250*time.Millisecond {
		t.Fatalf("parseStatCPU = %s, %v; want 3.25s (325 ticks)", got, err)
	}
	if _, err := parseStatCPU("garbage"); err == nil {
		t.Fatal("parseStatCPU(garbage) succeeded")
	}
}

func TestParseStatus(t *testing.T) {
	status := "Name:\tserver\nVmPeak:\t  900000 kB\nVmHWM:\t   81920 kB\nVmRSS:\t   40960 kB\nThreads:\t14\n"
	var s procSample
	if err := parseStatus(bufio.NewScanner(strings.NewReader(status)), &s); err != nil {
		t.Fatal(err)
	}
	if s.PeakRSS != 80<<20 || s.RSS != 40<<20 || s.Threads != 14 {
		t.Fatalf("parsed %+v", s)
	}
	if err := parseStatus(bufio.NewScanner(strings.NewReader("Name:\tkthread\n")), &s); err == nil {
		t.Fatal("a status without memory lines parsed")
	}
}
