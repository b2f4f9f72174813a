module github.com/captchakit/trustcaptcha/redisstore

go 1.26.0

require (
	github.com/captchakit/trustcaptcha v0.3.0
	github.com/redis/go-redis/v9 v9.23.0
	github.com/stretchr/testify v1.12.1
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/sys v0.48.0 // indirect
)

// For development in this repository: the core module is the folder above.
// A replace applies only where this is the main module: users of redisstore
// get the core version required above.
replace github.com/captchakit/trustcaptcha => ../
