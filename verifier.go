package trustcaptcha

import "context"

// Verifier fetches the verification result for a token (*Client asks the
// API). Verify returns a non-nil Result or an error that wraps one of the
// package's sentinel errors, and returns promptly when ctx is done.
//
// The middleware reads a context error by whose context ended: when the
// request's own context is done, the decision is request-canceled; when the
// Verifier's own deadline or cancellation ended it while the request is
// alive, it is an outage (ErrServerUnreachable) for the FailoverPolicy. Any
// other error that wraps no sentinel is "unknown": logged for the operator
// and never failed open.
type Verifier interface {
	Verify(ctx context.Context, token string) (*Result, error)
}

// VerifierFunc adapts a function to the Verifier interface; it must not be nil.
type VerifierFunc func(ctx context.Context, token string) (*Result, error)

// Verify calls f(ctx, token).
func (f VerifierFunc) Verify(ctx context.Context, token string) (*Result, error) {
	return f(ctx, token)
}
