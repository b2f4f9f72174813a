package trustcaptcha

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Verifier fetches the verification result for a token. *Client is the
// implementation that asks the TrustCaptcha API; tests and custom set-ups can
// pass any other, such as a VerifierFunc.
//
// Verify returns a non-nil Result or an error that wraps one of this package's
// sentinel errors (ErrTokenInvalid, ErrServerUnreachable, …). It must honour
// ctx: when ctx is done it should return promptly with ctx's error.
type Verifier interface {
	Verify(ctx context.Context, token string) (*Result, error)
}

// VerifierFunc adapts a function to the Verifier interface. A nil VerifierFunc
// must not be used.
type VerifierFunc func(ctx context.Context, token string) (*Result, error)

// Verify calls f(ctx, token).
func (f VerifierFunc) Verify(ctx context.Context, token string) (*Result, error) {
	return f(ctx, token)
}

// Result is the verification result the TrustCaptcha API returns for a token.
// Field names follow the API's JSON members. Its zero value is a result that
// did not pass.
//
// Score is TrustCaptcha's bot score: 0 looks human, 1 looks like a bot.
// Timestamps the API left out are the zero time. Strings may be empty when
// the site runs in minimal-data mode.
type Result struct {
	CaptchaID              string    `json:"captchaId"`
	VerificationID         string    `json:"verificationId"`
	VerificationPassed     bool      `json:"verificationPassed"`
	Score                  float64   `json:"score"`
	DecisionType           string    `json:"decisionType"`
	DecisionAction         string    `json:"decisionAction"`
	GatewayFailoverActive  bool      `json:"gatewayFailoverActive"`
	RiskScoringEnabled     bool      `json:"riskScoringEnabled"`
	MinimalDataModeEnabled bool      `json:"minimalDataModeEnabled"`
	Origin                 string    `json:"origin"`
	IPAddress              string    `json:"ipAddress"`
	CountryCode            string    `json:"countryCode"`
	DeviceFamily           string    `json:"deviceFamily"`
	OperatingSystem        string    `json:"operatingSystem"`
	Browser                string    `json:"browser"`
	VerificationStartedAt  time.Time `json:"verificationStartedAt"`
	VerificationFinishedAt time.Time `json:"verificationFinishedAt"`
	ResultExpiresAt        time.Time `json:"resultExpiresAt"`
	ResultFirstFetchedAt   time.Time `json:"resultFirstFetchedAt"`
	ResultLastFetchedAt    time.Time `json:"resultLastFetchedAt"`
}

// wireResult is the API's JSON shape. Required members are pointers so a
// missing one is told apart from a false or zero one; timestamps are strings
// parsed leniently.
type wireResult struct {
	CaptchaID              string   `json:"captchaId"`
	VerificationID         *string  `json:"verificationId"`
	VerificationPassed     *bool    `json:"verificationPassed"`
	Score                  *float64 `json:"score"`
	DecisionType           string   `json:"decisionType"`
	DecisionAction         string   `json:"decisionAction"`
	GatewayFailoverActive  bool     `json:"gatewayFailoverActive"`
	RiskScoringEnabled     bool     `json:"riskScoringEnabled"`
	MinimalDataModeEnabled bool     `json:"minimalDataModeEnabled"`
	Origin                 string   `json:"origin"`
	IPAddress              string   `json:"ipAddress"`
	CountryCode            string   `json:"countryCode"`
	DeviceFamily           string   `json:"deviceFamily"`
	OperatingSystem        string   `json:"operatingSystem"`
	Browser                string   `json:"browser"`
	VerificationStartedAt  *string  `json:"verificationStartedAt"`
	VerificationFinishedAt *string  `json:"verificationFinishedAt"`
	ResultExpiresAt        *string  `json:"resultExpiresAt"`
	ResultFirstFetchedAt   *string  `json:"resultFirstFetchedAt"`
	ResultLastFetchedAt    *string  `json:"resultLastFetchedAt"`
}

// MarshalJSON encodes r in the API's format: timestamps as RFC 3339 strings
// with nanoseconds, zero timestamps as null.
func (r Result) MarshalJSON() ([]byte, error) {
	ts := func(t time.Time) *string {
		if t.IsZero() {
			return nil
		}
		s := t.Format(time.RFC3339Nano)
		return &s
	}
	id, passed, score := r.VerificationID, r.VerificationPassed, r.Score
	return json.Marshal(wireResult{
		CaptchaID: r.CaptchaID, VerificationID: &id, VerificationPassed: &passed, Score: &score,
		DecisionType: r.DecisionType, DecisionAction: r.DecisionAction,
		GatewayFailoverActive: r.GatewayFailoverActive, RiskScoringEnabled: r.RiskScoringEnabled,
		MinimalDataModeEnabled: r.MinimalDataModeEnabled, Origin: r.Origin, IPAddress: r.IPAddress,
		CountryCode: r.CountryCode, DeviceFamily: r.DeviceFamily, OperatingSystem: r.OperatingSystem,
		Browser: r.Browser, VerificationStartedAt: ts(r.VerificationStartedAt),
		VerificationFinishedAt: ts(r.VerificationFinishedAt), ResultExpiresAt: ts(r.ResultExpiresAt),
		ResultFirstFetchedAt: ts(r.ResultFirstFetchedAt), ResultLastFetchedAt: ts(r.ResultLastFetchedAt),
	})
}

// UnmarshalJSON decodes the API's result JSON strictly: it must be one JSON
// object whose members have the documented types, with verificationId,
// verificationPassed and score present (not null) and score within [0, 1].
// Member names match exactly as the API spells them; unknown members are
// ignored; a repeated member counts as its last value. Timestamps are parsed
// leniently (with or without fraction and zone; no zone is UTC); a missing or
// null one is the zero time. On error r is left unchanged.
//
// It is a single pass over the bytes (see BENCHMARKS.md: several times faster
// than encoding/json's reflection for this shape, which dominates a
// verification's CPU cost); a fuzz test holds it to encoding/json's verdicts.
func (r *Result) UnmarshalJSON(data []byte) error {
	isObject, members, err := scanMembers(data)
	if err != nil {
		return fmt.Errorf("result: invalid JSON")
	}
	if !isObject {
		return fmt.Errorf("result: not a JSON object")
	}
	var out Result
	var haveID, havePassed, haveScore bool
	for _, m := range members {
		key, err := memberName(m)
		if err != nil {
			return fmt.Errorf("result: invalid member name")
		}
		null := len(m.raw) == 4 && string(m.raw) == "null"
		var ok bool
		switch string(key) { // no allocation
		case "captchaId":
			ok = str(m, null, &out.CaptchaID)
		case "verificationId":
			ok, haveID = str(m, null, &out.VerificationID), !null
		case "verificationPassed":
			ok, havePassed = boolean(m, null, &out.VerificationPassed), !null
		case "score":
			ok, haveScore = number(m, null, &out.Score), !null
		case "decisionType":
			ok = str(m, null, &out.DecisionType)
		case "decisionAction":
			ok = str(m, null, &out.DecisionAction)
		case "gatewayFailoverActive":
			ok = boolean(m, null, &out.GatewayFailoverActive)
		case "riskScoringEnabled":
			ok = boolean(m, null, &out.RiskScoringEnabled)
		case "minimalDataModeEnabled":
			ok = boolean(m, null, &out.MinimalDataModeEnabled)
		case "origin":
			ok = str(m, null, &out.Origin)
		case "ipAddress":
			ok = str(m, null, &out.IPAddress)
		case "countryCode":
			ok = str(m, null, &out.CountryCode)
		case "deviceFamily":
			ok = str(m, null, &out.DeviceFamily)
		case "operatingSystem":
			ok = str(m, null, &out.OperatingSystem)
		case "browser":
			ok = str(m, null, &out.Browser)
		case "verificationStartedAt":
			ok = timestamp(m, null, &out.VerificationStartedAt)
		case "verificationFinishedAt":
			ok = timestamp(m, null, &out.VerificationFinishedAt)
		case "resultExpiresAt":
			ok = timestamp(m, null, &out.ResultExpiresAt)
		case "resultFirstFetchedAt":
			ok = timestamp(m, null, &out.ResultFirstFetchedAt)
		case "resultLastFetchedAt":
			ok = timestamp(m, null, &out.ResultLastFetchedAt)
		default:
			ok = true
		}
		if !ok {
			return fmt.Errorf("result: member %q has the wrong type or value", truncate(string(key), 40))
		}
	}
	switch {
	case !haveID:
		return fmt.Errorf("result: verificationId missing")
	case !havePassed:
		return fmt.Errorf("result: verificationPassed missing")
	case !haveScore:
		return fmt.Errorf("result: score missing")
	case math.IsNaN(out.Score) || out.Score < 0 || out.Score > 1:
		return fmt.Errorf("result: score %v outside [0, 1]", out.Score)
	}
	*r = out
	return nil
}

// memberName returns a member's decoded name, without allocating when the
// name has no escapes (the API's never do).
func memberName(m topMember) ([]byte, error) {
	lit := m.key
	if bytes.IndexByte(lit, '\\') < 0 && utf8.Valid(lit) {
		return lit[1 : len(lit)-1], nil
	}
	k, err := jsonString(lit)
	return []byte(k), err
}

// str decodes a string member; null leaves dst as it is.
func str(m topMember, null bool, dst *string) bool {
	if null {
		return true
	}
	if !m.isString {
		return false
	}
	v, err := jsonString(m.raw)
	*dst = v
	return err == nil
}

// boolean decodes true or false; null leaves dst as it is.
func boolean(m topMember, null bool, dst *bool) bool {
	switch string(m.raw) {
	case "true":
		*dst = true
	case "false":
		*dst = false
	case "null":
	default:
		return false
	}
	return true
}

// number decodes a JSON number that fits a float64; null leaves dst.
func number(m topMember, null bool, dst *float64) bool {
	if null {
		return true
	}
	if c := m.raw[0]; c != '-' && (c < '0' || c > '9') {
		return false
	}
	f, err := strconv.ParseFloat(string(m.raw), 64)
	*dst = f
	return err == nil
}

// timestamp decodes an ISO 8601 string; null is the zero time.
func timestamp(m topMember, null bool, dst *time.Time) bool {
	if null {
		*dst = time.Time{}
		return true
	}
	var s string
	if !str(m, false, &s) {
		return false
	}
	t, err := parseTimestamp(s)
	*dst = t
	return err == nil
}

// timestampLayouts are tried in order; layouts without a zone are read as UTC.
var timestampLayouts = []string{
	time.RFC3339Nano,                     // 2026-01-02T15:04:05.123Z, …+02:00
	"2006-01-02T15:04:05.999999999Z0700", // zone without colon
	"2006-01-02T15:04:05.999999999",      // no zone
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
}

// parseTimestamp reads an ISO 8601 timestamp leniently. The empty string is
// the zero time.
func parseTimestamp(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range timestampLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("timestamp %q is not ISO 8601", truncate(s, 40))
}

// truncate shortens s to at most n bytes for error messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
