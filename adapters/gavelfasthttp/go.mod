module github.com/gavelrtb/gavel/adapters/gavelfasthttp

go 1.26.0

require (
	github.com/gavelrtb/gavel v0.1.0
	github.com/prebid/openrtb/v20 v20.3.0
	github.com/stretchr/testify v1.12.1
	github.com/valyala/fasthttp v1.79.0
	go.uber.org/goleak v1.3.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/klauspost/compress v1.20.4 // indirect
	github.com/molecule-man/go-brrr v1.3.1 // indirect
	github.com/valyala/bytebufferpool v1.0.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)
