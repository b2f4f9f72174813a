module github.com/captchakit/trustcaptcha/loadtest

go 1.26.0

require github.com/captchakit/trustcaptcha v0.3.0

// The load program measures the code in this repository. It is a module of
// its own so that users of the core never download it; it is not published.
replace github.com/captchakit/trustcaptcha => ../
