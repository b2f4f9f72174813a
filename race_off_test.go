//go:build !race

package trustcaptcha_test

// raceEnabled: the race detector changes what escapes to the heap, so
// allocation figures are measured without it (.ci/run runs those tests so).
const raceEnabled = false
