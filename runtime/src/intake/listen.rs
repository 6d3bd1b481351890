//! Serving an HTTP app until shutdown (the webhook here; the admin API uses it too).

use tokio::sync::watch;

/// Serves `app` on `listener` until `shutdown` turns true, letting requests in progress finish.
pub(crate) fn serve_until<L>(
    listener: L,
    app: axum::Router,
    mut shutdown: watch::Receiver<bool>,
    what: &'static str,
) -> tokio::task::JoinHandle<()>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    tokio::spawn(async move {
        let stop = async move {
            while shutdown.changed().await.is_ok() {
                if *shutdown.borrow() {
                    break;
                }
            }
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await
        {
            tracing::error!("{what} failed: {e}");
        }
    })
}
