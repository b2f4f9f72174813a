module github.com/captchakit/trustcaptcha/example

go 1.26.0

require (
	github.com/captchakit/trustcaptcha v0.2.0
	github.com/captchakit/trustcaptcha/redisstore v0.2.0
	github.com/chromedp/cdproto v0.159.0
	github.com/chromedp/chromedp v0.23.0
	github.com/go-chi/chi/v5 v5.5.0
	github.com/redis/go-redis/v9 v9.23.0
	github.com/stretchr/testify v1.12.1
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/sys v0.48.0 // indirect
)

// The example runs against the code in this repository.
replace (
	github.com/captchakit/trustcaptcha => ../
	github.com/captchakit/trustcaptcha/redisstore => ../redisstore
)
