//! What both transports do with a decoded metrics request: count its data points for the sink and acknowledge
//! it. Nothing in it is judged, so nothing in it is refused.

use ironforge_proto::otlp::metrics::metric::Data;
use ironforge_proto::otlp::metrics_service::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};

use crate::ingest::SpanSink;
use ironforge_telemetry::Transport;

/// Tells the sink how many data points the request carried and answers with full success.
pub(crate) fn accept(
    sink: &dyn SpanSink,
    transport: Transport,
    request: &ExportMetricsServiceRequest,
) -> ExportMetricsServiceResponse {
    sink.record_metric_points(transport, data_points(request));
    ExportMetricsServiceResponse {
        partial_success: None,
    }
}

/// The data points of every metric in the request, whatever its type.
fn data_points(request: &ExportMetricsServiceRequest) -> u64 {
    request
        .resource_metrics
        .iter()
        .flat_map(|resource| &resource.scope_metrics)
        .flat_map(|scope| &scope.metrics)
        .map(|metric| match &metric.data {
            None => 0,
            Some(Data::Gauge(gauge)) => gauge.data_points.len(),
            Some(Data::Sum(sum)) => sum.data_points.len(),
            Some(Data::Histogram(histogram)) => histogram.data_points.len(),
            Some(Data::ExponentialHistogram(histogram)) => histogram.data_points.len(),
            Some(Data::Summary(summary)) => summary.data_points.len(),
        } as u64)
        .sum()
}

#[cfg(test)]
mod tests {
    use ironforge_proto::otlp::metrics::{
        ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint,
        Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
    };

    use super::*;

    fn metric(data: Option<Data>) -> Metric {
        Metric {
            name: "m".to_owned(),
            data,
            ..Metric::default()
        }
    }

    fn scope(metrics: Vec<Metric>) -> ScopeMetrics {
        ScopeMetrics {
            metrics,
            ..ScopeMetrics::default()
        }
    }

    #[test]
    fn every_metric_type_counts_its_points_across_resources_and_scopes() {
        let numbers = |n| vec![NumberDataPoint::default(); n];
        let request = ExportMetricsServiceRequest {
            resource_metrics: vec![
                ResourceMetrics {
                    scope_metrics: vec![
                        scope(vec![
                            metric(Some(Data::Gauge(Gauge {
                                data_points: numbers(2),
                            }))),
                            metric(Some(Data::Sum(Sum {
                                data_points: numbers(3),
                                ..Sum::default()
                            }))),
                            metric(None),
                        ]),
                        scope(vec![metric(Some(Data::Histogram(Histogram {
                            data_points: vec![HistogramDataPoint::default(); 4],
                            ..Histogram::default()
                        })))]),
                    ],
                    ..ResourceMetrics::default()
                },
                ResourceMetrics {
                    scope_metrics: vec![scope(vec![
                        metric(Some(Data::ExponentialHistogram(ExponentialHistogram {
                            data_points: vec![ExponentialHistogramDataPoint::default(); 5],
                            ..ExponentialHistogram::default()
                        }))),
                        metric(Some(Data::Summary(Summary {
                            data_points: vec![SummaryDataPoint::default(); 6],
                        }))),
                    ])],
                    ..ResourceMetrics::default()
                },
            ],
        };
        assert_eq!(data_points(&request), 2 + 3 + 4 + 5 + 6);
        assert_eq!(data_points(&ExportMetricsServiceRequest::default()), 0);
    }
}
