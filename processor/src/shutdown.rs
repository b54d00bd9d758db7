//! The server's stop signal, shared by the server that raises it and the streams and listeners that end on
//! it: kept apart from both so neither module imports the other for it.

/// Resolves once shutdown is requested. Either the flag flips or the sender is gone: both mean stop.
pub(crate) async fn stopped(mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}
