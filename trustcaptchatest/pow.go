package trustcaptchatest

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math/bits"
)

// The widget's proof-of-work: SHA-256 of a task's input and a nonce with
// enough leading zero bits.

// ProofOfWorkValid reports whether nonce solves the task whose base64 input
// is input: SHA-256 of the input's bytes followed by the nonce's bytes has at
// least difficulty leading zero bits.
func ProofOfWorkValid(input, nonce string, difficulty int) bool {
	in, err := base64.StdEncoding.DecodeString(input)
	if err != nil {
		return false
	}
	sum := sha256.Sum256(append(in, nonce...))
	zeros := 0
	for _, b := range sum {
		if b != 0 {
			zeros += bits.LeadingZeros8(b)
			break
		}
		zeros += 8
	}
	return zeros >= difficulty
}

// SolveProofOfWork finds the nonce "tcn<k>" (k = 0, 1, …) the widget would
// submit for a task, for tests that play the widget.
func SolveProofOfWork(input string, difficulty int) string {
	for k := 0; ; k++ {
		if n := fmt.Sprintf("tcn%d", k); ProofOfWorkValid(input, n, difficulty) {
			return n
		}
	}
}
