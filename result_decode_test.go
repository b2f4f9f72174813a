package trustcaptcha

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// stdUnmarshalResult is the reference decoder: encoding/json into the wire
// shape, then the same checks as Result.UnmarshalJSON.
func stdUnmarshalResult(data []byte) (Result, error) {
	var w wireResult
	if err := json.Unmarshal(data, &w); err != nil {
		return Result{}, err
	}
	switch {
	case w.VerificationID == nil, w.VerificationPassed == nil, w.Score == nil:
		return Result{}, fmt.Errorf("missing")
	case math.IsNaN(*w.Score) || *w.Score < 0 || *w.Score > 1:
		return Result{}, fmt.Errorf("range")
	}
	out := Result{
		CaptchaID: w.CaptchaID, VerificationID: *w.VerificationID, VerificationPassed: *w.VerificationPassed,
		Score: *w.Score, DecisionType: w.DecisionType, DecisionAction: w.DecisionAction,
		GatewayFailoverActive: w.GatewayFailoverActive, RiskScoringEnabled: w.RiskScoringEnabled,
		MinimalDataModeEnabled: w.MinimalDataModeEnabled, Origin: w.Origin, IPAddress: w.IPAddress,
		CountryCode: w.CountryCode, DeviceFamily: w.DeviceFamily, OperatingSystem: w.OperatingSystem, Browser: w.Browser,
	}
	for _, f := range []struct {
		in  *string
		out *time.Time
	}{
		{w.VerificationStartedAt, &out.VerificationStartedAt}, {w.VerificationFinishedAt, &out.VerificationFinishedAt},
		{w.ResultExpiresAt, &out.ResultExpiresAt}, {w.ResultFirstFetchedAt, &out.ResultFirstFetchedAt},
		{w.ResultLastFetchedAt, &out.ResultLastFetchedAt},
	} {
		if f.in != nil {
			t, err := parseTimestamp(*f.in)
			if err != nil {
				return Result{}, err
			}
			*f.out = t
		}
	}
	return out, nil
}

var resultMembers = []string{"captchaId", "verificationId", "verificationPassed", "score", "decisionType", "decisionAction",
	"gatewayFailoverActive", "riskScoringEnabled", "minimalDataModeEnabled", "origin", "ipAddress", "countryCode",
	"deviceFamily", "operatingSystem", "browser", "verificationStartedAt", "verificationFinishedAt", "resultExpiresAt",
	"resultFirstFetchedAt", "resultLastFetchedAt"}

// caseVariant reports whether data has a top-level member whose name
// matches a result member only case-insensitively: encoding/json takes it,
// Result.UnmarshalJSON deliberately does not.
func caseVariant(data []byte) bool {
	_, members, err := scanMembers(data)
	if err != nil {
		return false
	}
	for _, m := range members {
		k, err := jsonString(m.key)
		if err != nil {
			return true
		}
		for _, name := range resultMembers {
			if k != name && (strings.EqualFold(k, name) || strings.EqualFold(strings.ToValidUTF8(k, "\uFFFD"), name)) {
				return true
			}
		}
		if strings.ContainsAny(k, "\u212a\u017f") { // encoding/json folds the Kelvin sign and long s too
			return true
		}
	}
	return false
}

// FuzzResultDecoderMatchesEncodingJSON: the single-pass decoder accepts and
// rejects exactly what encoding/json plus the checks does, with equal results.
func FuzzResultDecoderMatchesEncodingJSON(f *testing.F) {
	for _, s := range []string{
		`{"verificationId":"a","verificationPassed":true,"score":0.5}`,
		`{"verificationId":"a","verificationPassed":true,"score":0.5,"score":null}`,
		`{"verificationId":"a","verificationPassed":true,"score":0.5,"origin":"x","origin":null}`,
		`{"verificationId":"a","verificationPassed":true,"score":1e999}`,
		`{"verificationId":"a","verificationPassed":"true","score":0}`,
		`{"verificationId":"\u0061\ud800","verificationPassed":false,"score":-0,"resultExpiresAt":"2026-01-02T03:04:05Z"}`,
		`{"verificationId":"a","verificationPassed":true,"score":0.1,"resultExpiresAt":null,"verificationStartedAt":"2026-01-02 03:04:05"}`,
		"{\"verificationId\":\"\xff\",\"verificationPassed\":true,\"score\":0.1,\"browser\":7}",
		`null`, `[]`, `{}`, `"x"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if caseVariant(data) {
			return // encoding/json's case folding is deliberately not copied
		}
		var ours Result
		errOurs := ours.UnmarshalJSON(data)
		std, errStd := stdUnmarshalResult(data)
		if (errOurs == nil) != (errStd == nil) {
			t.Fatalf("ours: %v, encoding/json: %v", errOurs, errStd)
		}
		if errOurs == nil && fmt.Sprint(ours) != fmt.Sprint(std) {
			t.Fatalf("results differ:\n ours %+v\n std  %+v", ours, std)
		}
	})
}
