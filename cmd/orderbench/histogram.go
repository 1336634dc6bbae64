package main

import (
	"math"
	"math/bits"
	"time"
)

// histogram records latencies in nanoseconds in log-linear buckets, the
// way HdrHistogram does: every power of two is split into subBuckets equal
// buckets, so a recorded value is known to within 1/subBuckets (0.8%) of
// itself whatever its magnitude, in fixed memory (~35 KiB), in O(1) per
// record. Each worker owns one (no locks on the hot path); they are merged
// at the end. Sorted samples would be exact but grow with the run and cost
// a sort; 0.8% is far below the run-to-run noise of this machine.
type histogram struct {
	counts []uint64
	n      uint64
	sum    float64 // ns, for the mean
	min    int64
	max    int64 // exact, not bucketed
}

const (
	subBucketBits = 7
	subBuckets    = 1 << subBucketBits // 128
	// maxExponent covers values up to 2^(maxExponent+subBucketBits) ns
	// (~39 hours); larger values are clamped into the last bucket.
	maxExponent = 40
	numBuckets  = (maxExponent + 1) * subBuckets
)

func newHistogram() *histogram {
	return &histogram{counts: make([]uint64, numBuckets), min: math.MaxInt64}
}

// bucketOf maps a value to its bucket: values below subBuckets get one
// bucket each; above, the top subBucketBits+1 significant bits select it.
func bucketOf(v int64) int {
	if v < subBuckets {
		return int(max(v, 0))
	}
	shift := bits.Len64(uint64(v)) - subBucketBits - 1 // v>>shift is in [128, 256)
	if shift >= maxExponent {
		return numBuckets - 1
	}
	return (shift+1)*subBuckets + int(uint64(v)>>shift) - subBuckets
}

// bucketHigh is the largest value that falls into bucket i: percentiles
// report it, so they never understate a latency.
func bucketHigh(i int) int64 {
	if i < subBuckets {
		return int64(i)
	}
	shift := i/subBuckets - 1
	base := int64(i%subBuckets + subBuckets)
	return (base+1)<<shift - 1
}

func (h *histogram) record(d time.Duration) {
	v := int64(d)
	h.counts[bucketOf(v)]++
	h.n++
	h.sum += float64(v)
	h.min = min(h.min, v)
	h.max = max(h.max, v)
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.min = min(h.min, o.min)
	h.max = max(h.max, o.max)
}

// quantile returns the smallest bucket bound below which at least q of the
// values lie (capped at the exact maximum).
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(bucketHigh(i), h.max))
		}
	}
	return time.Duration(h.max)
}

func (h *histogram) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.n))
}
