package trustcaptcha

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/captchakit/trustcaptcha/internal/uuid"
)

// maxTokenLength is the longest token ParseToken accepts, in bytes. Real
// tokens are about 100.
const maxTokenLength = 4096

// Token is the decoded content of the verification token the widget puts in
// the form. The zero value is not a valid token.
type Token struct {
	// VerificationID is the verification's UUID, lower-cased.
	VerificationID string

	// ClientFailover is true for a token the widget made itself because it
	// could not reach the API (see ErrClientReportedFailover).
	ClientFailover bool

	// ExpiresAt is when a token the widget made itself expires; the zero
	// time for other tokens.
	ExpiresAt time.Time
}

// ParseToken decodes a token strictly, without a network call: standard
// base64 of a JSON object with a UUID verificationId, at most 4 KiB. Other
// members, a host among them, are ignored. An empty token is
// ErrTokenMissing; every other failure wraps ErrTokenInvalid, and its text
// never holds the token.
func ParseToken(token string) (Token, error) {
	if token == "" {
		return Token{}, ErrTokenMissing
	}
	if len(token) > maxTokenLength {
		return Token{}, fmt.Errorf("%w: longer than %d bytes", ErrTokenInvalid, maxTokenLength)
	}
	// Strict still skips CR and LF; the widget's tokens have neither.
	raw, err := base64.StdEncoding.Strict().DecodeString(token)
	if err != nil || strings.ContainsAny(token, "\r\n") {
		return Token{}, fmt.Errorf("%w: not standard base64", ErrTokenInvalid)
	}
	var w struct {
		VerificationID string          `json:"verificationId"`
		ClientFailover bool            `json:"clientFailover"`
		ExpiresAt      json.RawMessage `json:"expiresAt"`
	}
	isObject := bytes.HasPrefix(bytes.TrimLeft(raw, " \t\r\n"), []byte("{"))
	if err := json.Unmarshal(raw, &w); err != nil || !isObject {
		return Token{}, fmt.Errorf("%w: not a JSON object of the token format", ErrTokenInvalid)
	}
	var expires string // informational only: anything but a string is ignored, as the SDKs do
	_ = json.Unmarshal(w.ExpiresAt, &expires)
	if !uuid.Valid(w.VerificationID) {
		return Token{}, fmt.Errorf("%w: verificationId is not a UUID", ErrTokenInvalid)
	}
	t := Token{VerificationID: strings.ToLower(w.VerificationID), ClientFailover: w.ClientFailover}
	t.ExpiresAt = parseTimestamp(expires)
	return t, nil
}

// Encode returns the token in the widget's wire format (standard base64 of
// JSON). It is what the browser submits; tests use it to make tokens.
func (t Token) Encode() string {
	w := struct {
		VerificationID string `json:"verificationId"`
		ClientFailover bool   `json:"clientFailover"`
		ExpiresAt      string `json:"expiresAt,omitempty"`
	}{VerificationID: t.VerificationID, ClientFailover: t.ClientFailover}
	if !t.ExpiresAt.IsZero() {
		w.ExpiresAt = t.ExpiresAt.UTC().Format(time.RFC3339Nano)
	}
	b, _ := json.Marshal(w) // cannot fail: strings and a bool
	return base64.StdEncoding.EncodeToString(b)
}
