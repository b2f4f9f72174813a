package trustcaptcha

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Result is the verification result the TrustCaptcha API returns, its
// fields named after the API's JSON members; the zero value did not pass.
// Score is a bot score: 0 looks human, 1 looks like a bot. A timestamp the
// API left out, sent as null or sent in a form this package cannot read (an
// epoch number, a date alone, anything not ISO 8601) is the zero time, never
// an error: no decision rests on one. Strings may be empty in minimal data
// mode, where Score is always 0.
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

// plain has Result's fields but not its methods, so encoding/json treats it
// as a plain struct instead of calling Result's MarshalJSON and
// UnmarshalJSON again.
type plain Result

// wire is a Result as the API's JSON carries it. Its own fields share their
// JSON names with fields of the embedded plain, and encoding/json then uses
// the outer ones: verificationId, verificationPassed and score as pointers,
// so that a missing member is told from a zero one, and the five timestamps
// as stamps, which read any form leniently.
type wire struct {
	plain
	VerificationID         *string  `json:"verificationId"`
	VerificationPassed     *bool    `json:"verificationPassed"`
	Score                  *float64 `json:"score"`
	VerificationStartedAt  stamp    `json:"verificationStartedAt"`
	VerificationFinishedAt stamp    `json:"verificationFinishedAt"`
	ResultExpiresAt        stamp    `json:"resultExpiresAt"`
	ResultFirstFetchedAt   stamp    `json:"resultFirstFetchedAt"`
	ResultLastFetchedAt    stamp    `json:"resultLastFetchedAt"`
}

// MarshalJSON encodes r in the API's format: timestamps as RFC 3339 strings
// with nanoseconds, zero timestamps as null.
func (r Result) MarshalJSON() ([]byte, error) {
	return json.Marshal(wire{plain(r), &r.VerificationID, &r.VerificationPassed, &r.Score,
		stamp{r.VerificationStartedAt}, stamp{r.VerificationFinishedAt}, stamp{r.ResultExpiresAt},
		stamp{r.ResultFirstFetchedAt}, stamp{r.ResultLastFetchedAt}})
}

// UnmarshalJSON decodes the API's result. The members a decision rests on
// are strict: verificationId, verificationPassed and a score within [0, 1]
// must be there, or it returns an error. Unknown members are ignored. The
// timestamps are lenient: no zone means UTC, and one that is missing, null
// or unreadable is the zero time. On error r is unchanged.
func (r *Result) UnmarshalJSON(data []byte) error {
	var w wire
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
	out := Result(w.plain)
	out.VerificationID, out.VerificationPassed = *w.VerificationID, *w.VerificationPassed
	out.Score = *w.Score
	out.VerificationStartedAt = w.VerificationStartedAt.Time
	out.VerificationFinishedAt = w.VerificationFinishedAt.Time
	out.ResultExpiresAt, out.ResultFirstFetchedAt = w.ResultExpiresAt.Time, w.ResultFirstFetchedAt.Time
	out.ResultLastFetchedAt = w.ResultLastFetchedAt.Time
	*r = out
	return nil
}

// stamp is a timestamp of the API's JSON. It encodes the zero time as null
// and decodes anything it cannot read as the zero time.
type stamp struct{ time.Time }

func (s stamp) MarshalJSON() ([]byte, error) {
	if s.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(s.Format(time.RFC3339Nano))
}

func (s *stamp) UnmarshalJSON(b []byte) error {
	var v string
	if json.Unmarshal(b, &v) == nil {
		s.Time = parseTimestamp(v)
	} else {
		s.Time = time.Time{}
	}
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

// parseTimestamp reads an ISO 8601 timestamp leniently. It returns the zero
// time for "" and for anything it cannot read.
func parseTimestamp(s string) time.Time {
	s = strings.TrimSpace(s)
	for _, layout := range timestampLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return time.Time{}
}
