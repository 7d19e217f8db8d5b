module github.com/gavelrtb/gavel/codecs/gavelgoccy

go 1.26.0

require (
	github.com/gavelrtb/gavel v0.1.0
	github.com/goccy/go-json v0.12.0
	github.com/prebid/openrtb/v20 v20.3.0
	github.com/stretchr/testify v1.12.1
	go.uber.org/goleak v1.3.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)
