package trustcaptcha_test

// The widget's token (token.go): ParseToken and Encode.

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/captchakit/trustcaptcha"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The widget's token: ParseToken and Encode.

func TestParseToken(t *testing.T) {
	t.Parallel()
	exp := time.Date(2026, 11, 25, 10, 15, 0, 0, time.UTC)
	tok, err := trustcaptcha.ParseToken(
		trustcaptcha.Token{VerificationID: strings.ToUpper(someID), ClientFailover: true, ExpiresAt: exp}.Encode(),
	)
	require.NoError(t, err)
	assert.Equal(t, trustcaptcha.Token{VerificationID: someID, ClientFailover: true, ExpiresAt: exp}, tok)

	// The widget's own failover token (btoa(JSON.stringify(...))).
	widget := base64.StdEncoding.EncodeToString(
		[]byte(`{"verificationId":"` + someID + `","expiresAt":"2026-11-25T10:15:00.000Z","clientFailover":true}`),
	)
	tok, err = trustcaptcha.ParseToken(widget)
	require.NoError(t, err)
	assert.True(t, tok.ClientFailover)
	assert.True(t, exp.Equal(tok.ExpiresAt))
	_, err = trustcaptcha.ParseToken("")
	assert.True(t, errors.Is(err, trustcaptcha.ErrTokenMissing))
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// FuzzParseToken: any string either parses to a token whose ID is a
// lower-case UUID (safe in a URL path) or fails with ErrTokenInvalid or
// ErrTokenMissing; it never panics, and a parsed token round-trips.
func FuzzParseToken(f *testing.F) {
	for _, s := range []string{
		tokHuman, unknownTok, "", "not a token", b64(`{"verificationId":"../../admin"}`),
		b64(`{"verificationId":"` + someID + `","clientFailover":true,"expiresAt":"2026-11-25T10:15:00.000Z"}`),
		b64(`{"verificationId":"` + strings.ToUpper(someID) + `","apiEndpoint":"http://127.0.0.1:9"}`),
		b64(`{"verificationId":12}`), b64(`[]`), b64("{\"verificationId\":\"\x00\"}"), tokHuman[:20] + "\n" + tokHuman[20:],
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := trustcaptcha.ParseToken(s)
		if err != nil {
			if trustcaptcha.Reason(err) != "token-invalid" &&
				trustcaptcha.Reason(err) != "token-missing" {
				t.Fatalf("error %v has reason %s", err, trustcaptcha.Reason(err))
			}
			if len(s) > 8 && strings.Contains(err.Error(), s) {
				t.Fatalf("error text holds the token")
			}
			return
		}
		id := tok.VerificationID
		if len(id) != 36 || strings.Trim(id, "0123456789abcdef-") != "" {
			t.Fatalf("parsed ID %q is not a lower-case UUID", id)
		}
		again, err := trustcaptcha.ParseToken(tok.Encode())
		if err != nil || again.VerificationID != id || again.ClientFailover != tok.ClientFailover {
			t.Fatalf("round trip: %+v, %v", again, err)
		}
	})
}
