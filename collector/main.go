// Command ironforge-otelcol is the OpenTelemetry Collector distribution that the scale-out tests (and a
// deployment with more than one processor replica) put in front of the processors: the OTLP receiver, the
// OTLP exporter, the load_balancing exporter, which routes every span of one trace to the same replica, and the
// file_storage extension, which keeps an exporter's sending queue on disk across a replica's restart. It also
// holds the batch and tail_sampling processors and the debug and prometheus exporters, which the stack's
// configuration and docs/stack.md name, so the tests validate those with the components they run with.
package main

import (
	"log"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/confmap/provider/yamlprovider"
	"go.opentelemetry.io/collector/otelcol"
)

func main() {
	settings := otelcol.CollectorSettings{
		BuildInfo: component.BuildInfo{
			Command:     "ironforge-otelcol",
			Description: "OpenTelemetry Collector for IRONFORGE: OTLP in, trace-aware load balancing out",
			Version:     "0.161.0",
		},
		Factories: components,
		ConfigProviderSettings: otelcol.ConfigProviderSettings{
			ResolverSettings: confmap.ResolverSettings{
				ProviderFactories: []confmap.ProviderFactory{
					envprovider.NewFactory(),
					fileprovider.NewFactory(),
					yamlprovider.NewFactory(),
				},
			},
		},
	}
	if err := otelcol.NewCommand(settings).Execute(); err != nil {
		log.Fatalf("collector finished with error: %v", err)
	}
}
