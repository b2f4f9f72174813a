package trustcaptcha_test

// The Result and its JSON (verifier.go).

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/captchakit/trustcaptcha"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The Result and its JSON.

func TestResultJSONRoundTrip(t *testing.T) {
	t.Parallel()
	in := trustcaptcha.Result{
		VerificationID:        someID,
		VerificationPassed:    true,
		Score:                 0.25,
		Origin:                "https://a.example",
		VerificationStartedAt: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
	}
	b, err := json.Marshal(in)
	require.NoError(t, err)
	var out trustcaptcha.Result
	require.NoError(t, json.Unmarshal(b, &out))
	assert.Equal(t, in, out)
	assert.Contains(t, string(b), `"resultExpiresAt":null`)
}

// FuzzResultJSON: decoding an API answer never panics, and whatever decodes
// has a score in [0, 1] and re-encodes to an equal result.
func FuzzResultJSON(f *testing.F) {
	f.Add([]byte(resultJSON(true, 0.3)))
	f.Add(
		[]byte(
			`{"verificationId":"x","verificationPassed":true,"score":1e-300,"resultExpiresAt":"2026-01-02 03:04:05"}`,
		),
	)
	f.Add(
		[]byte(
			`{"verificationId":"x","verificationPassed":false,"score":0,"verificationStartedAt":"2026-01-02T03:04:05+0100"}`,
		),
	)
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		var r trustcaptcha.Result
		if err := json.Unmarshal(in, &r); err != nil {
			return
		}
		if !(r.Score >= 0 && r.Score <= 1) {
			t.Fatalf("score %v accepted", r.Score)
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var again trustcaptcha.Result
		if err := json.Unmarshal(b, &again); err != nil {
			t.Fatalf("re-decoding %s: %v", b, err)
		}
		if !again.VerificationStartedAt.Equal(r.VerificationStartedAt) || again.Score != r.Score ||
			again.VerificationPassed != r.VerificationPassed {
			t.Fatalf("round trip changed the result")
		}
	})
}
