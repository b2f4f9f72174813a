package trustcaptcha

import "context"

// Verifier fetches the verification result for a token; *Client asks the
// API. Verify returns a non-nil Result, or an error that wraps the package's
// sentinel of its cause. When ctx ends first, it returns promptly with an
// error that wraps ctx.Err().
//
// The middleware reads a context error by whose context ended. When the
// request's own context is done, the decision is request-canceled. When the
// Verifier's own deadline or cancellation ended the call while the request
// is alive, it is an outage (ErrServerUnreachable) for the FailoverPolicy.
// Any other error that wraps no sentinel is "unknown": it is logged for the
// operator and never admitted on failover.
type Verifier interface {
	Verify(ctx context.Context, token string) (*Result, error)
}

// VerifierFunc adapts a function to the Verifier interface. A nil
// VerifierFunc panics in RequireCaptcha.
type VerifierFunc func(ctx context.Context, token string) (*Result, error)

// Verify calls f(ctx, token).
func (f VerifierFunc) Verify(ctx context.Context, token string) (*Result, error) {
	return f(ctx, token)
}
