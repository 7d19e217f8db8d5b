module github.com/gavelrtb/gavel/examples

go 1.26

require (
	github.com/gavelrtb/gavel v0.1.0
	github.com/prebid/openrtb/v20 v20.3.0
)

require github.com/cespare/xxhash/v2 v2.3.0 // indirect
