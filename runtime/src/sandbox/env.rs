//! What the instances of one module share: its environment (namespace, tag, log, config, the
//! capabilities it was granted), and the ticket counter all modules share.

use std::sync::Arc;

use super::{GuestLog, TicketCounter, http_out::OutgoingLimits};
use crate::store::{Db, kv::Namespace, kv_txn::KvNamespace, records::RecentTickets};

/// What every instance of one module shares.
pub struct ModuleEnv {
    /// The module's name (from its manifest, or its file name before `init`).
    pub name: Arc<str>,
    /// Its KV namespace in the redb file (on redb, its timers' counts live there too; on
    /// PostgreSQL a call counts them in its own transaction, `host/timers.rs`).
    pub namespace: Arc<Namespace>,
    /// The namespace its calls' KV transactions run in: `namespace` itself on redb (what the
    /// host makes today); a PostgreSQL namespace only in the seam's tests so far.
    pub kv: KvNamespace,
    /// Its tag in callback data (`<tag>:<data>`).
    pub tag: String,
    /// The operator's settings for it.
    pub config: toml::Table,
    /// Its log.
    pub log: Arc<GuestLog>,
    /// The runtime's ticket counter.
    pub tickets: Arc<TicketCounter>,
    /// The database, to look up tickets (on redb; a module whose `kv` is on PostgreSQL finds
    /// them in `botbox_tickets`).
    pub db: Arc<Db>,
    /// Tickets queued but maybe not yet durable: ticket → chat.
    pub recent_tickets: Arc<RecentTickets>,
    /// What it may use beyond KV, the outbox, the log and its config: its manifest's
    /// declaration narrowed by the operator, set once the manifest is known.
    pub capabilities: parking_lot::RwLock<Capabilities>,
    /// Most timers the module may have pending.
    pub max_timers: u64,
    /// Most bytes its pending timers may take in the store.
    pub max_timer_bytes: u64,
    /// The bytes of text and keyboards each module has waiting in the outbox.
    pub queued_outbox: Arc<crate::outbox::QueuedBytes>,
    /// Most of them this module may have waiting.
    pub max_queued_outbox_bytes: u64,
    /// The time it sees (timers, `now-unix-ms`).
    pub clock: crate::clock::Clock,
    /// The limits of its outgoing HTTP requests.
    pub http: OutgoingLimits,
    /// The Bot API for its reads, downloads and chat actions (`None` where there is no bot,
    /// as for the probe that only runs `init` to learn a file's module name).
    pub bot: Option<Arc<super::bot_access::BotAccess>>,
    /// Its reads and downloads this minute.
    pub reads: super::bot_access::ReadBudget,
    /// The kinds of update it asked for in `init` (`bot-api.want-updates`).
    pub wanted_kinds: parking_lot::RwLock<Vec<String>>,
}

/// Capabilities a module declares in its manifest and the operator may narrow.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Capabilities {
    /// It may schedule timers.
    pub timers: bool,
    /// The hosts it may reach over HTTP (exact names or `*.suffix`).
    pub http_hosts: Vec<String>,
    /// The non-public addresses those hosts may resolve to (the operator's `http_private`).
    #[serde(default)]
    pub http_private: Vec<ipnet::IpNet>,
    /// The Bot API grants the operator gave it (`bot-settings`, `stars`, `business`).
    #[serde(default)]
    pub bot_api_grants: Vec<String>,
    /// Whether the operator lets it call Bot API methods this host does not know.
    #[serde(default)]
    pub unknown_bot_api_methods: bool,
    /// The chats its `members` grant is narrowed to; empty: every chat.
    #[serde(default)]
    pub member_chats: Vec<i64>,
}

impl Capabilities {
    /// What a module gets: what it declared, narrowed by the operator (`timers = false` takes
    /// timers away; `http_hosts` keeps only the declared patterns the operator also lists), and
    /// the non-public addresses only the operator grants (`http_private`).
    pub fn granted(
        declared_timers: bool,
        declared_hosts: &[String],
        operator: Option<&crate::config::ModuleSettings>,
    ) -> Capabilities {
        let timers = declared_timers && operator.and_then(|o| o.timers).unwrap_or(true);
        let http_hosts = declared_hosts
            .iter()
            .filter(|h| {
                operator
                    .and_then(|o| o.http_hosts.as_ref())
                    .is_none_or(|allowed| allowed.iter().any(|a| a.eq_ignore_ascii_case(h)))
            })
            .map(|h| h.to_ascii_lowercase())
            .collect();
        Capabilities {
            timers,
            http_hosts,
            http_private: operator
                .map(|o| crate::config::http_private::parse_all(&o.http_private))
                .unwrap_or_default(),
            bot_api_grants: operator
                .map(|o| o.bot_api_grants.clone())
                .unwrap_or_default(),
            unknown_bot_api_methods: operator.is_some_and(|o| o.unknown_bot_api_methods),
            member_chats: operator.map(|o| o.member_chats.clone()).unwrap_or_default(),
        }
    }

    /// Whether `host` on its scheme's default port matches one of the allowed patterns.
    pub fn allows_host(&self, host: &str) -> bool {
        self.allows(host, 443, 443)
    }

    /// Whether `host:port` may be reached. A pattern is a host name (`api.example.com`) or one
    /// leading wildcard label (`*.example.com`), optionally followed by `:port` or `:*`;
    /// without a port it allows only the scheme's `default_port` (80 or 443).
    pub fn allows(&self, host: &str, port: u16, default_port: u16) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.http_hosts.iter().any(|p| {
            let (name, port_ok) = match p.rsplit_once(':') {
                Some((name, "*")) => (name, true),
                Some((name, n)) => (name, n.parse() == Ok(port)),
                None => (p.as_str(), port == default_port),
            };
            port_ok
                && match name.strip_prefix("*.") {
                    Some(suffix) => {
                        host.len() > suffix.len() + 1
                            && host.ends_with(suffix)
                            && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
                    }
                    None => name == host,
                }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Capabilities;
    use crate::config::ModuleSettings;

    #[test]
    fn the_operator_narrows_what_a_module_declares_and_never_widens_it() {
        let declared = ["api.example.com".to_string(), "*.cdn.example".to_string()];
        let all = Capabilities::granted(true, &declared, None);
        assert!(all.timers);
        assert!(all.allows_host("api.example.com") && all.allows_host("a.b.cdn.example"));
        assert!(!all.allows_host("cdn.example") && !all.allows_host("evil-cdn.example"));
        assert!(!all.allows_host("example.com"));
        assert!(!all.allows("api.example.com", 8080, 80));
        let ports = Capabilities::granted(
            false,
            &["127.0.0.1:*".into(), "localhost:50051".into()],
            None,
        );
        assert!(ports.allows("127.0.0.1", 9, 80) && ports.allows("localhost", 50051, 80));
        assert!(!ports.allows("localhost", 50052, 80) && !ports.allows("localhost", 80, 80));
        assert!(all.http_private.is_empty());
        let op = ModuleSettings {
            timers: Some(false),
            http_hosts: Some(vec!["api.example.com".into(), "other.org".into()]),
            http_private: vec!["10.0.0.0/8".into(), "127.0.0.1".into()],
            ..ModuleSettings::default()
        };
        let narrowed = Capabilities::granted(true, &declared, Some(&op));
        assert!(!narrowed.timers);
        assert_eq!(narrowed.http_hosts, ["api.example.com"]);
        let private: Vec<String> = narrowed
            .http_private
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(private, ["10.0.0.0/8", "127.0.0.1/32"]);
        // Not declared: the operator cannot grant it.
        let op = ModuleSettings {
            timers: Some(true),
            ..ModuleSettings::default()
        };
        assert!(!Capabilities::granted(false, &[], Some(&op)).timers);
    }
}
