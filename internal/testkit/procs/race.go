//go:build race

package procs

// RaceEnabled reports that this program was built with -race: a test built
// so builds the service with -race too.
const RaceEnabled = true
