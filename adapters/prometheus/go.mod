module github.com/gavelrtb/gavel/adapters/prometheus

go 1.26.0

require github.com/gavelrtb/gavel v0.0.0

require (
	github.com/prometheus/client_golang v1.25.0 // indirect
	github.com/stretchr/testify v1.12.1 // indirect
	go.uber.org/goleak v1.3.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)

replace github.com/gavelrtb/gavel => ../../
