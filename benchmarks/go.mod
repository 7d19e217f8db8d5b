module github.com/gavelrtb/gavel/benchmarks

go 1.26

replace github.com/gavelrtb/gavel => ../

require (
	github.com/gavelrtb/gavel v0.0.0-00010101000000-000000000000
	github.com/prebid/openrtb/v20 v20.3.0
	github.com/stretchr/testify v1.12.1
	go.uber.org/goleak v1.3.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)
