//! A small Tokio runtime, on a thread of its own, that drives the gRPC exporter's connections.
//!
//! tonic spawns its channel's worker on whatever runtime is current when the channel is built, and
//! the SDK's exporter threads then wait on that worker. Built on the pipeline's runtime, this
//! deadlocks when the pipeline shuts the providers down from a current-thread runtime (its only
//! thread blocks in `shutdown`, so the worker never runs), and `init` would need to be called
//! inside a runtime at all. With its own runtime, exports never depend on the caller's threads.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::oneshot;

#[derive(Debug)]
pub(crate) struct IoRuntime {
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
    done: mpsc::Receiver<()>,
    thread: Option<JoinHandle<()>>,
}

impl IoRuntime {
    pub(crate) fn start() -> std::io::Result<Self> {
        let (handle_tx, handle_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let (done_tx, done_rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("ironforge-otlp-io".to_owned())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = handle_tx.send(Err(e));
                        return;
                    }
                };
                let _ = handle_tx.send(Ok(runtime.handle().clone()));
                let _export_path = crate::export::mark_export_thread();
                runtime.block_on(async {
                    let _ = stop_rx.await;
                });
                // Dropping the runtime cancels the channel worker; exports still waiting fail.
                drop(runtime);
                let _ = done_tx.send(());
            })?;
        let handle = handle_rx
            .recv()
            .map_err(|_| std::io::Error::other("the I/O thread exited before starting"))??;
        Ok(IoRuntime {
            handle,
            stop: Some(stop_tx),
            done: done_rx,
            thread: Some(thread),
        })
    }

    pub(crate) fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Stops the runtime and waits up to `bound` for its thread to end.
    pub(crate) fn stop(mut self, bound: Duration) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if self.done.recv_timeout(bound).is_ok()
            && let Some(thread) = self.thread.take()
        {
            let _ = thread.join();
        }
    }
}

impl Drop for IoRuntime {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
