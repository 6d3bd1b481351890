//! The modules of a running bot: which are loaded and how they change (registry),
//! what their manifests may ask for (manifest), which updates reach which (router), how a
//! module runs its chats in order (shards), and how a call's effects are committed (effects).

mod backlog;
pub(crate) mod effects;
pub mod http_request;
pub mod manifest;
pub mod module;
pub mod registry;
pub mod router;
mod shard;

pub use backlog::{BacklogRead, Offered};
pub use effects::{finish_unhandled, finish_unhandled_on};
pub use http_request::HttpFailure;
pub use module::{LoadedModule, ModuleEvent, ModuleStats, ShardDeps, Version, Work};
pub use registry::Registry;
pub use router::{Reason, Router};
