module github.com/captchakit/trustcaptcha

go 1.26
