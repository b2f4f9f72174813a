package trustcaptcha

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
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
// Member names are matched as encoding/json matches struct tags; unknown
// members are ignored. Timestamps are parsed leniently (with or without
// fraction and zone; no zone is UTC); a missing or null one is the zero time.
// On error r is left unchanged.
func (r *Result) UnmarshalJSON(data []byte) error {
	var w wireResult
	if err := json.Unmarshal(data, &w); err != nil {
		return errors.New("result: not a JSON object of the result format")
	}
	switch {
	case w.VerificationID == nil:
		return errors.New("result: verificationId missing")
	case w.VerificationPassed == nil:
		return errors.New("result: verificationPassed missing")
	case w.Score == nil:
		return errors.New("result: score missing")
	case math.IsNaN(*w.Score) || *w.Score < 0 || *w.Score > 1:
		return fmt.Errorf("result: score %v outside [0, 1]", *w.Score)
	}
	out := Result{
		CaptchaID: w.CaptchaID, VerificationID: *w.VerificationID, VerificationPassed: *w.VerificationPassed,
		Score: *w.Score, DecisionType: w.DecisionType, DecisionAction: w.DecisionAction,
		GatewayFailoverActive: w.GatewayFailoverActive, RiskScoringEnabled: w.RiskScoringEnabled,
		MinimalDataModeEnabled: w.MinimalDataModeEnabled, Origin: w.Origin, IPAddress: w.IPAddress,
		CountryCode: w.CountryCode, DeviceFamily: w.DeviceFamily, OperatingSystem: w.OperatingSystem,
		Browser: w.Browser,
	}
	for _, ts := range []struct {
		src *string
		dst *time.Time
	}{
		{w.VerificationStartedAt, &out.VerificationStartedAt},
		{w.VerificationFinishedAt, &out.VerificationFinishedAt},
		{w.ResultExpiresAt, &out.ResultExpiresAt},
		{w.ResultFirstFetchedAt, &out.ResultFirstFetchedAt},
		{w.ResultLastFetchedAt, &out.ResultLastFetchedAt},
	} {
		if ts.src == nil {
			continue
		}
		t, err := parseTimestamp(*ts.src)
		if err != nil {
			return fmt.Errorf("result: %w", err)
		}
		*ts.dst = t
	}
	*r = out
	return nil
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
