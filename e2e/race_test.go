//go:build race

package e2e

// raceEnabled reports that the tests run with -race; the service binary is
// then built with -race as well.
const raceEnabled = true
