// Package prometheus turns gavel's hooks into Prometheus metrics with
// github.com/prometheus/client_golang.
package prometheus
