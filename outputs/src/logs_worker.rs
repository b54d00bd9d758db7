//! The task that delivers the violation-log queue: the oldest batch first, tried again with backoff while the
//! endpoint is away, removed from disk only once the endpoint acknowledged it.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ironforge_proto::otlp::logs::LogRecord;
use ironforge_proto::otlp::logs_service::logs_service_client::LogsServiceClient;
use prost::Message;
use tokio::sync::watch;
use tokio::time::Instant;
use tonic::Status;
use tonic::transport::Channel;

use super::disk_queue::Batch;
use super::events::{LogsDropReason, LogsDropped, LogsExportFailed, LogsLeftQueued};
use super::otlp_logs::{OtlpLogsConfig, Shared, export_request};
use super::retry::{Backoff, Retry, classify};
use ironforge_telemetry::InternalEvent;
use ironforge_telemetry::names::value;
use ironforge_telemetry::rate_limit::RateLimit;

/// How often a recurring export failure may be logged.
const WARN_INTERVAL: Duration = Duration::from_secs(30);

/// How one export attempt ended.
enum Attempt {
    /// Acknowledged; the endpoint may still have rejected some records in a partial success.
    Delivered {
        rejected: u64,
        message: String,
    },
    Failed(Status),
}

pub(crate) struct Worker {
    client: LogsServiceClient<Channel>,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
    batch_size: usize,
    flush_interval: Duration,
    timeout: Duration,
    endpoint: String,
    backoff: Backoff,
    failure_warning: RateLimit,
}

impl Worker {
    pub(crate) fn new(
        channel: Channel,
        shared: Arc<Shared>,
        stop: watch::Receiver<bool>,
        config: &OtlpLogsConfig,
    ) -> Self {
        Self {
            client: LogsServiceClient::new(channel),
            shared,
            stop,
            batch_size: config.batch_size,
            flush_interval: config.flush_interval,
            timeout: config.timeout,
            endpoint: config.endpoint.clone(),
            backoff: Backoff::new(config.retry_backoff, config.max_backoff),
            failure_warning: RateLimit::new(WARN_INTERVAL),
        }
    }

    pub(crate) async fn run(mut self) {
        while let Some(batch) = self.next_batch().await {
            if !self.deliver(batch).await {
                break;
            }
        }
        self.drain().await;
    }

    /// Waits for a full batch, or for a partial one to have waited `flush_interval`; `None` once stopped.
    async fn next_batch(&mut self) -> Option<Batch> {
        let mut flush_at = None;
        loop {
            let queued = self.shared.lock().queue.queued_records();
            let due = flush_at.is_some_and(|at| Instant::now() >= at);
            if queued >= self.batch_size as u64 || (queued > 0 && due) {
                if let Some(batch) = self.peek() {
                    return Some(batch);
                }
                // Unreadable just now (counted and logged): wait as after a failed attempt.
                let wait = self.backoff.next_delay();
                tokio::select! {
                    biased;
                    () = stopped(&mut self.stop) => return None,
                    () = tokio::time::sleep(wait) => continue,
                }
            }
            if queued > 0 && flush_at.is_none() {
                flush_at = Some(Instant::now() + self.flush_interval);
            }
            let flush = async {
                match flush_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                () = stopped(&mut self.stop) => return None,
                () = self.shared.wake.notified() => {}
                () = flush => {}
            }
        }
    }

    /// The oldest batch, getting past records the disk no longer returns intact.
    fn peek(&self) -> Option<Batch> {
        let mut state = self.shared.lock();
        if state.closed {
            return None;
        }
        let batch = match state.queue.peek(self.batch_size) {
            Ok(batch) => batch,
            Err(err) => {
                drop(state);
                LogsDropped {
                    reason: LogsDropReason::Disk(err),
                    count: 0,
                    shared: &self.shared,
                }
                .emit();
                return None;
            }
        };
        if !state.queue.stuck(&batch) {
            return Some(batch).filter(|batch| !batch.records.is_empty());
        }
        let skipped = state.queue.skip_corrupt();
        self.shared.publish_depth(&state.queue);
        drop(state);
        let (reason, count) = match skipped {
            Ok(lost) => (LogsDropReason::Corrupt, lost),
            Err(err) => (LogsDropReason::Disk(err), 0),
        };
        LogsDropped {
            reason,
            count,
            shared: &self.shared,
        }
        .emit();
        None
    }

    /// Delivers `batch`, retrying while the endpoint is away; `false` when a stop came first (the batch stays
    /// queued).
    async fn deliver(&mut self, batch: Batch) -> bool {
        let request = export_request(decode(&batch));
        loop {
            match self.attempt(&request, self.timeout).await {
                Attempt::Delivered { rejected, message } => {
                    self.delivered(&batch, rejected, &message);
                    return true;
                }
                Attempt::Failed(status) => {
                    let retry = classify(&status);
                    self.failed(&batch, &status, retry);
                    let Retry::After(delay) = retry else {
                        return true;
                    };
                    let wait = delay.unwrap_or_else(|| self.backoff.next_delay());
                    tokio::select! {
                        biased;
                        () = stopped(&mut self.stop) => return false,
                        () = tokio::time::sleep(wait) => {}
                    }
                }
            }
        }
    }

    /// At a stop: one attempt per batch, all within `timeout`; what is left waits on disk for the next start.
    async fn drain(&mut self) {
        let deadline = Instant::now() + self.timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(batch) = self.peek() else { break };
            if left.is_zero() {
                break;
            }
            let request = export_request(decode(&batch));
            match self.attempt(&request, left).await {
                Attempt::Delivered { rejected, message } => {
                    self.delivered(&batch, rejected, &message)
                }
                Attempt::Failed(status) => {
                    let retry = classify(&status);
                    self.failed(&batch, &status, retry);
                    if retry != Retry::Never {
                        break;
                    }
                }
            }
        }
        let left = self.shared.lock().queue.queued_records();
        if left > 0 {
            LogsLeftQueued { events: left }.emit();
        }
    }

    async fn attempt(
        &mut self,
        request: &ironforge_proto::otlp::logs_service::ExportLogsServiceRequest,
        limit: Duration,
    ) -> Attempt {
        let mut call = tonic::Request::new(request.clone());
        call.set_timeout(limit);
        match tokio::time::timeout(limit, self.client.export(call)).await {
            Ok(Ok(response)) => {
                let partial = response.into_inner().partial_success.unwrap_or_default();
                Attempt::Delivered {
                    rejected: u64::try_from(partial.rejected_log_records).unwrap_or(0),
                    message: partial.error_message,
                }
            }
            Ok(Err(status)) => Attempt::Failed(status),
            Err(_) => Attempt::Failed(Status::deadline_exceeded(format!(
                "no answer within {limit:?}"
            ))),
        }
    }

    /// Removes an acknowledged batch and counts it.
    fn delivered(&mut self, batch: &Batch, rejected: u64, message: &str) {
        self.backoff.reset();
        let stats = &self.shared.stats;
        stats.failing.store(false, Ordering::Relaxed);
        stats.overflowing.store(false, Ordering::Relaxed);
        self.remove(batch);
        let count = batch.records.len() as u64;
        let rejected = rejected.min(count);
        stats
            .delivered
            .fetch_add(count - rejected, Ordering::Relaxed);
        self.shared
            .metrics
            .output_exported(value::OTLP_LOGS, count - rejected);
        if rejected > 0 {
            LogsDropped {
                reason: LogsDropReason::Rejected(message.to_owned()),
                count: rejected,
                shared: &self.shared,
            }
            .emit();
        }
    }

    /// Counts a failed attempt; a final refusal removes the batch.
    fn failed(&mut self, batch: &Batch, status: &Status, retry: Retry) {
        let count = batch.records.len() as u64;
        if retry == Retry::Never {
            self.remove(batch);
            LogsDropped {
                reason: LogsDropReason::Refused(format!(
                    "{:?}: {}",
                    status.code(),
                    status.message()
                )),
                count,
                shared: &self.shared,
            }
            .emit();
            return;
        }
        LogsExportFailed {
            endpoint: &self.endpoint,
            status,
            events: count,
            warning: &self.failure_warning,
            shared: &self.shared,
        }
        .emit();
    }

    fn remove(&self, batch: &Batch) {
        let mut state = self.shared.lock();
        if state.closed {
            // The stop gave up waiting for this task: the directory may belong to a new exporter now. The batch
            // stays on disk and is delivered again, never removed behind the new owner's back.
            return;
        }
        let removed = state.queue.ack(batch);
        self.shared.publish_depth(&state.queue);
        drop(state);
        if let Err(err) = removed {
            // The records were delivered; at worst they are delivered again after a restart.
            LogsDropped {
                reason: LogsDropReason::Disk(err),
                count: 0,
                shared: &self.shared,
            }
            .emit();
        }
    }
}

/// The log records of a batch. A payload that passed its checksum decodes; one that does not is skipped.
fn decode(batch: &Batch) -> Vec<LogRecord> {
    batch
        .records
        .iter()
        .filter_map(|payload| LogRecord::decode(payload.as_slice()).ok())
        .collect()
}

/// Resolves once a stop is requested, or once every handle is gone and none can be.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}
