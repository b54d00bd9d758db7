package main

import (
	"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/loadbalancingexporter"
	"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/prometheusexporter"
	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/tailsamplingprocessor"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/debugexporter"
	"go.opentelemetry.io/collector/exporter/otlpexporter"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/batchprocessor"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/service/telemetry/otelconftelemetry"
)

// Module paths reported by the collector's `components` subcommand.
const (
	coreModule    = "go.opentelemetry.io/collector"
	contribModule = "github.com/open-telemetry/opentelemetry-collector-contrib"
	coreVersion   = " v0.161.0"
)

// components lists the factories compiled into this distribution.
func components() (otelcol.Factories, error) {
	receivers, err := otelcol.MakeFactoryMap[receiver.Factory](otlpreceiver.NewFactory())
	if err != nil {
		return otelcol.Factories{}, err
	}
	exporters, err := otelcol.MakeFactoryMap[exporter.Factory](
		otlpexporter.NewFactory(),
		loadbalancingexporter.NewFactory(),
		debugexporter.NewFactory(),
		prometheusexporter.NewFactory(),
	)
	if err != nil {
		return otelcol.Factories{}, err
	}
	extensions, err := otelcol.MakeFactoryMap[extension.Factory](filestorage.NewFactory())
	if err != nil {
		return otelcol.Factories{}, err
	}
	processors, err := otelcol.MakeFactoryMap[processor.Factory](
		batchprocessor.NewFactory(),
		tailsamplingprocessor.NewFactory(),
	)
	if err != nil {
		return otelcol.Factories{}, err
	}
	connectors, err := otelcol.MakeFactoryMap[connector.Factory]()
	if err != nil {
		return otelcol.Factories{}, err
	}
	return otelcol.Factories{
		Receivers:  receivers,
		Processors: processors,
		Exporters:  exporters,
		Extensions: extensions,
		Connectors: connectors,
		Telemetry:  otelconftelemetry.NewFactory(),
		ProcessorModules: map[component.Type]string{
			batchprocessor.NewFactory().Type():        coreModule + "/processor/batchprocessor" + coreVersion,
			tailsamplingprocessor.NewFactory().Type(): contribModule + "/processor/tailsamplingprocessor" + coreVersion,
		},
		ReceiverModules: map[component.Type]string{
			otlpreceiver.NewFactory().Type(): coreModule + "/receiver/otlpreceiver" + coreVersion,
		},
		ExporterModules: map[component.Type]string{
			otlpexporter.NewFactory().Type():          coreModule + "/exporter/otlpexporter" + coreVersion,
			loadbalancingexporter.NewFactory().Type(): contribModule + "/exporter/loadbalancingexporter" + coreVersion,
			debugexporter.NewFactory().Type():         coreModule + "/exporter/debugexporter" + coreVersion,
			prometheusexporter.NewFactory().Type():    contribModule + "/exporter/prometheusexporter" + coreVersion,
		},
		ExtensionModules: map[component.Type]string{
			filestorage.NewFactory().Type(): contribModule + "/extension/storage/filestorage" + coreVersion,
		},
	}, nil
}
