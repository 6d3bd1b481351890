//! The messages of `proto/download_queue.proto`, written by hand with prost's derive (a wasm
//! module has no `protoc` at build time). Keep them in step with the `.proto` file: the
//! downloader's test `hand_written_messages_match_the_proto` encodes each message with the code
//! tonic generates from the file and decodes it with these (and back), field by field.

/// `Registry.Register`.
pub const REGISTER: &str = "/botbox.download_queue.v1.Registry/Register";
/// `Registry.Report`.
pub const REPORT: &str = "/botbox.download_queue.v1.Registry/Report";
/// `Downloader.Download`.
pub const DOWNLOAD: &str = "/botbox.download_queue.v1.Downloader/Download";

/// A downloader announces itself.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RegisterRequest {
    /// 1-64 of `a-zA-Z0-9-_.`.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Base URLs of its `Downloader` service, tried in order.
    #[prost(string, repeated, tag = "2")]
    pub addresses: Vec<String>,
    /// The module's `registry_token`.
    #[prost(string, tag = "3")]
    pub token: String,
}

/// The answer to a registration.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RegisterReply {
    /// Downloaders known now.
    #[prost(uint32, tag = "1")]
    pub downloaders: u32,
}

/// A job for a downloader.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DownloadRequest {
    /// `<link id>-<attempt>`.
    #[prost(string, tag = "1")]
    pub job_id: String,
    /// The link.
    #[prost(string, tag = "2")]
    pub link: String,
    /// The quality (the downloader's folder).
    #[prost(string, tag = "3")]
    pub quality: String,
    /// Who queued it.
    #[prost(int64, tag = "4")]
    pub owner: i64,
}

/// A downloader's answer to a job.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DownloadReply {
    /// Whether it took the job.
    #[prost(bool, tag = "1")]
    pub accepted: bool,
    /// Why not.
    #[prost(string, tag = "2")]
    pub reason: String,
    /// Its current name.
    #[prost(string, tag = "3")]
    pub name: String,
    /// Its current addresses.
    #[prost(string, repeated, tag = "4")]
    pub addresses: Vec<String>,
}

/// How an accepted job ended.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReportRequest {
    /// The downloader's name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Its current addresses.
    #[prost(string, repeated, tag = "2")]
    pub addresses: Vec<String>,
    /// The module's `registry_token`.
    #[prost(string, tag = "3")]
    pub token: String,
    /// The job.
    #[prost(string, tag = "4")]
    pub job_id: String,
    /// Whether the file was downloaded.
    #[prost(bool, tag = "5")]
    pub ok: bool,
    /// Why not.
    #[prost(string, tag = "6")]
    pub error: String,
    /// `<quality>/<file>`.
    #[prost(string, tag = "7")]
    pub path: String,
    /// The file's size.
    #[prost(uint64, tag = "8")]
    pub bytes: u64,
}

/// The answer to a report.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReportReply {
    /// Whether the module knew the job.
    #[prost(bool, tag = "1")]
    pub known: bool,
}
