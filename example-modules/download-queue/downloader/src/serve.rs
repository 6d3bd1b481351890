//! Running the downloader: the gRPC server, its move to a new address on SIGHUP, and the
//! registrar.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{Notify, mpsc, watch};
use tonic::transport::server::TcpIncoming;

use crate::Settings;
use crate::addresses::Addresses;
use crate::journal::Journal;
use crate::proto::downloader_server::DownloaderServer;
use crate::registrar;
use crate::service::{DownloaderService, Shared};

/// How long a replaced server may take to finish the calls it is answering.
const DRAIN: Duration = Duration::from_secs(10);

/// Runs the downloader until SIGTERM or Ctrl-C.
pub async fn run(settings: Settings) -> anyhow::Result<()> {
    settings.check()?;
    let journal = Journal::open(settings.journal.as_ref())?;
    std::fs::create_dir_all(&settings.dir)
        .with_context(|| format!("creating the downloads folder {}", settings.dir.display()))?;
    let (reports, report_queue) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared::new(settings.clone(), journal, reports)?);
    let client = registrar::client(&settings.bot_url)?;
    let changed = Arc::new(Notify::new());

    let mut addresses = Addresses::load(&settings)?;
    let mut server = Server::start(&shared, &addresses).await?;
    shared.set_addresses(vec![addresses.advertised(server.bound)]);
    tokio::spawn(registrar::register_forever(
        shared.clone(),
        client.clone(),
        changed.clone(),
    ));
    tokio::spawn(registrar::report_forever(
        shared.clone(),
        client,
        report_queue,
    ));

    let mut hangup = signal(SignalKind::hangup())?;
    let mut terminate = signal(SignalKind::terminate())?;
    loop {
        tokio::select! {
            _ = hangup.recv() => {}
            _ = terminate.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
        tracing::info!("SIGHUP: reading the addresses again");
        let new = match Addresses::load(&settings) {
            Ok(new) => new,
            Err(error) => {
                tracing::error!("keeping the current address: {error:#}");
                continue;
            }
        };
        if new.listen != addresses.listen {
            match Server::start(&shared, &new).await {
                Ok(next) => std::mem::replace(&mut server, next).stop(),
                Err(error) => {
                    tracing::error!("keeping the current address: {error:#}");
                    continue;
                }
            }
        }
        shared.set_addresses(vec![new.advertised(server.bound)]);
        addresses = new;
        // Registers again at once, even when nothing changed: SIGHUP also means "say hello".
        changed.notify_one();
    }
    server.stop();
    Ok(())
}

/// One running gRPC server on one listener.
struct Server {
    bound: SocketAddr,
    stop: watch::Sender<bool>,
}

impl Server {
    async fn start(shared: &Arc<Shared>, addresses: &Addresses) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addresses.listen)
            .await
            .with_context(|| format!("cannot listen on {}", addresses.listen))?;
        let bound = listener.local_addr()?;
        // On stdout, for operators and scripts (the tests read it to learn a port 0 choice).
        println!("listening on {bound}");
        let (stop, stopped) = watch::channel(false);
        let mut drain = stopped.clone();
        let service = DownloaderServer::new(DownloaderService(shared.clone()));
        let serving = tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming_shutdown(TcpIncoming::from(listener), async move {
                let mut stopped = stopped;
                let _ = stopped.wait_for(|stop| *stop).await;
            });
        tokio::spawn(async move {
            tokio::select! {
                served = serving => if let Err(error) = served {
                    tracing::error!(%error, %bound, "gRPC server failed");
                },
                _ = async {
                    let _ = drain.wait_for(|stop| *stop).await;
                    tokio::time::sleep(DRAIN).await;
                } => tracing::warn!(%bound, "gRPC server ended while calls were open"),
            }
        });
        Ok(Self { bound, stop })
    }

    /// Stops accepting connections and ends the server once its open calls are answered.
    fn stop(self) {
        tracing::info!(bound = %self.bound, "no longer listening");
        self.stop.send_replace(true);
    }
}
