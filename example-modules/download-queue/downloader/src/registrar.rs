//! The client side: registering with the bot's module and reporting finished jobs to it.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::{Notify, mpsc};
use tonic::transport::{Channel, Endpoint, Uri};

use crate::journal::Entry;
use crate::proto::registry_client::RegistryClient;
use crate::proto::{RegisterRequest, ReportRequest};
use crate::service::Shared;

/// Tries of one report before it is given up (with the waits between, about ten minutes).
const REPORT_TRIES: u32 = 25;
/// Tries of a report the module does not know the job of (yet: a report can arrive before the
/// module's dispatch that sent the job is committed), about two minutes.
const UNKNOWN_JOB_TRIES: u32 = 8;

/// A gRPC client of the module's `Registry` at `bot_url`, which may have a path
/// (`http://bot:8080/modules/download-queue`): tonic's `connect` would drop the path, so the
/// client is built with the URL as its origin.
pub fn client(bot_url: &str) -> anyhow::Result<RegistryClient<Channel>> {
    let origin: Uri = bot_url
        .trim_end_matches('/')
        .parse()
        .with_context(|| format!("the bot URL {bot_url:?} is not a URL"))?;
    let channel = Endpoint::from(origin.clone())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .connect_lazy();
    Ok(RegistryClient::with_origin(channel, origin))
}

/// Registers now, then again every `register_every` and whenever `changed` is notified;
/// failed registrations are retried with a growing wait. Never returns.
pub async fn register_forever(
    shared: Arc<Shared>,
    mut client: RegistryClient<Channel>,
    changed: Arc<Notify>,
) {
    let mut failures = 0u32;
    loop {
        let addresses = shared.addresses();
        let request = RegisterRequest {
            name: shared.settings.name.clone(),
            addresses: addresses.clone(),
            token: shared.settings.token.clone(),
        };
        let wait = match client.register(request).await {
            Ok(reply) => {
                failures = 0;
                let known = reply.into_inner().downloaders;
                // On stdout, for operators and scripts waiting for the downloader to be ready.
                println!(
                    "registered {} at {} ({known} downloaders known)",
                    shared.settings.name,
                    addresses.join(" ")
                );
                shared.journal.write(&Entry::Registered {
                    addresses: &addresses,
                });
                shared.settings.register_interval()
            }
            Err(status) => {
                failures += 1;
                let wait = backoff(failures);
                tracing::warn!(
                    code = ?status.code(), message = status.message(),
                    "registration failed; trying again in {wait:?}"
                );
                wait
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = changed.notified() => {}
        }
    }
}

/// Sends every report from `reports`, each in a task of its own with retries.
pub async fn report_forever(
    shared: Arc<Shared>,
    client: RegistryClient<Channel>,
    mut reports: mpsc::UnboundedReceiver<ReportRequest>,
) {
    while let Some(report) = reports.recv().await {
        tokio::spawn(send_report(shared.clone(), client.clone(), report));
    }
}

async fn send_report(
    shared: Arc<Shared>,
    mut client: RegistryClient<Channel>,
    mut report: ReportRequest,
) {
    for attempt in 1..=REPORT_TRIES {
        // Fresh each try: the addresses may have changed meanwhile.
        report.name.clone_from(&shared.settings.name);
        report.addresses = shared.addresses();
        report.token.clone_from(&shared.settings.token);
        match client.report(report.clone()).await {
            Ok(_) => return,
            Err(status)
                if status.code() == tonic::Code::NotFound && attempt >= UNKNOWN_JOB_TRIES =>
            {
                tracing::warn!(job = %report.job_id, "the module does not know this job; report dropped");
                return;
            }
            Err(status) => {
                let wait = backoff(attempt);
                tracing::warn!(
                    job = %report.job_id, code = ?status.code(), message = status.message(),
                    "report failed; trying again in {wait:?}"
                );
                tokio::time::sleep(wait).await;
            }
        }
    }
    tracing::error!(job = %report.job_id, "report given up after {REPORT_TRIES} tries");
}

/// 1 s, 2 s, 4 s, ... at most 30 s.
fn backoff(failures: u32) -> Duration {
    Duration::from_secs(1u64 << failures.saturating_sub(1).min(5)).min(Duration::from_secs(30))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_longer_each_time_up_to_half_a_minute() {
        let waits: Vec<u64> = (1..=8).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30, 30]);
    }

    #[tokio::test]
    async fn the_bot_url_keeps_its_path() {
        assert!(client("http://127.0.0.1:1/modules/download-queue").is_ok());
        assert!(client("not a url").is_err());
    }
}
