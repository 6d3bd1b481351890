//! The `Downloader` gRPC service: accepting or refusing jobs, and running accepted ones.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use tokio::sync::{Semaphore, mpsc};
use tonic::{Request, Response, Status};

use crate::Settings;
use crate::journal::{Entry, Journal};
use crate::proto::{DownloadReply, DownloadRequest, ReportRequest, downloader_server};
use crate::{fetch, guard};

/// How many finished job ids are remembered, so a job sent again is not downloaded twice.
const REMEMBERED: usize = 10_000;

/// What the service, the job tasks and the registrar share.
pub struct Shared {
    /// The flags.
    pub settings: Settings,
    /// Where events are recorded.
    pub journal: Journal,
    client: reqwest::Client,
    /// Internal hosts the operator allows downloads from.
    allowed: guard::Allowed,
    addresses: RwLock<Vec<String>>,
    jobs: Mutex<Jobs>,
    permits: Semaphore,
    reports: mpsc::UnboundedSender<ReportRequest>,
}

#[derive(Default)]
struct Jobs {
    running: HashSet<String>,
    /// Finished jobs and their reports, to report again when a job is sent again.
    finished: HashMap<String, ReportRequest>,
    finished_order: VecDeque<String>,
}

impl Shared {
    /// Shared state for `settings`; finished jobs' reports go to `reports`.
    pub fn new(
        settings: Settings,
        journal: Journal,
        reports: mpsc::UnboundedSender<ReportRequest>,
    ) -> anyhow::Result<Self> {
        let allowed = guard::Allowed::parse(&settings.internal_hosts);
        let client = guard::client(&allowed)?;
        Ok(Self {
            permits: Semaphore::new(settings.max_parallel.max(1)),
            settings,
            journal,
            client,
            allowed,
            addresses: RwLock::default(),
            jobs: Mutex::default(),
            reports,
        })
    }

    /// The addresses last advertised.
    pub fn addresses(&self) -> Vec<String> {
        self.addresses
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the advertised addresses.
    pub fn set_addresses(&self, addresses: Vec<String>) {
        *self
            .addresses
            .write()
            .unwrap_or_else(PoisonError::into_inner) = addresses;
    }

    fn reply(&self, accepted: bool, reason: impl Into<String>) -> DownloadReply {
        DownloadReply {
            accepted,
            reason: reason.into(),
            name: self.settings.name.clone(),
            addresses: self.addresses(),
        }
    }

    /// The pause file's first line, while the file exists.
    fn paused(&self) -> Option<String> {
        let file = self.settings.pause_file.as_ref()?;
        let text = std::fs::read_to_string(file).ok()?;
        let first = text.lines().next().unwrap_or("").trim();
        Some(if first.is_empty() {
            "paused by the operator".into()
        } else {
            format!("paused: {first}")
        })
    }

    fn accept(self: &Arc<Self>, job: DownloadRequest, local: Option<SocketAddr>) -> DownloadReply {
        let refuse = |reason: String| {
            tracing::info!(job = %job.job_id, %reason, "job refused");
            self.journal.write(&Entry::Refused {
                job_id: &job.job_id,
                reason: &reason,
            });
            self.reply(false, reason)
        };
        if let Some(reason) = self.paused() {
            return refuse(reason);
        }
        {
            let mut jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
            if jobs.running.contains(&job.job_id) {
                // Sent again (the module retried a call whose answer it lost): already ours.
                return self.reply(true, "");
            }
            if let Some(report) = jobs.finished.get(&job.job_id) {
                // Sent again after it finished: the module may have lost the report with the
                // call it retried, so report again instead of downloading again.
                let _ = self.reports.send(report.clone());
                return self.reply(true, "");
            }
            if jobs.running.len() >= self.settings.max_jobs {
                let reason = format!("busy: {} jobs unfinished", jobs.running.len());
                drop(jobs);
                return refuse(reason);
            }
            jobs.running.insert(job.job_id.clone());
        }
        tracing::info!(job = %job.job_id, link = %job.link, quality = %job.quality, "job accepted");
        self.journal.write(&Entry::Accepted {
            job_id: &job.job_id,
            link: &job.link,
            quality: &job.quality,
            local_addr: local.map(|a| a.to_string()).unwrap_or_default(),
        });
        tokio::spawn(self.clone().run(job));
        self.reply(true, "")
    }

    async fn run(self: Arc<Self>, job: DownloadRequest) {
        let result = match self.permits.acquire().await {
            Ok(_permit) => {
                let s = &self.settings;
                fetch::download(
                    &self.client,
                    &self.allowed,
                    &job.link,
                    &s.dir,
                    &job.quality,
                    s.max_bytes,
                    s.total_timeout(),
                )
                .await
            }
            Err(_) => Err("the downloader is shutting down".into()),
        };
        let (ok, error, path, bytes) = match result {
            Ok(done) => (true, String::new(), done.path, done.bytes),
            Err(error) => (false, error, String::new(), 0),
        };
        tracing::info!(job = %job.job_id, ok, %error, %path, bytes, "job finished");
        self.journal.write(&Entry::Finished {
            job_id: &job.job_id,
            ok,
            error: &error,
            path: &path,
            bytes,
        });
        let report = ReportRequest {
            job_id: job.job_id,
            ok,
            error,
            path,
            bytes,
            ..ReportRequest::default()
        };
        self.finish(&report);
        let _ = self.reports.send(report);
    }

    fn finish(&self, report: &ReportRequest) {
        let mut jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        jobs.running.remove(&report.job_id);
        if jobs
            .finished
            .insert(report.job_id.clone(), report.clone())
            .is_none()
        {
            jobs.finished_order.push_back(report.job_id.clone());
        }
        while jobs.finished_order.len() > REMEMBERED {
            if let Some(old) = jobs.finished_order.pop_front() {
                jobs.finished.remove(&old);
            }
        }
    }
}

/// The gRPC service over the shared state.
pub struct DownloaderService(pub Arc<Shared>);

#[tonic::async_trait]
impl downloader_server::Downloader for DownloaderService {
    async fn download(
        &self,
        request: Request<DownloadRequest>,
    ) -> Result<Response<DownloadReply>, Status> {
        let local = request.local_addr();
        let job = request.into_inner();
        if job.job_id.is_empty() || job.job_id.len() > 128 {
            return Err(Status::invalid_argument("job_id must be 1-128 bytes"));
        }
        match reqwest::Url::parse(&job.link) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => {}
            _ => return Err(Status::invalid_argument("link must be an http(s) URL")),
        }
        fetch::folder_name(&job.quality).map_err(Status::invalid_argument)?;
        Ok(Response::new(self.0.accept(job, local)))
    }
}
