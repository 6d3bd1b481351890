//! What a module's manifest may ask for: the checks every manifest passes before its module
//! runs, and the grants that follow from it (declared, narrowed by the operator, never widened).

mod http_hosts;

use crate::{
    bindings::types::Manifest,
    config::Config,
    sandbox::{Capabilities, ModuleEnv},
    store::kv::Quota,
};

/// Checks a manifest the module returned.
pub fn validate(m: &Manifest) -> Result<(), String> {
    let ok_name = |s: &str, extra: &[char], max| {
        !s.is_empty()
            && s.len() <= max
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || extra.contains(&c))
    };
    if !ok_name(&m.name, &['-', '_'], 32) {
        return Err(format!(
            "module name `{}` must be 1-32 of a-z 0-9 - _",
            m.name
        ));
    }
    if m.version.is_empty() || m.version.len() > 64 {
        return Err("version must be 1-64 characters".into());
    }
    // Shown in lists, logs and the operator's terminal.
    if crate::text::printable(&m.version, 64) != m.version {
        return Err("version must be printable (no control characters)".into());
    }
    for h in &m.http_hosts {
        http_hosts::check(h)?;
    }
    if m.outbox_per_minute == Some(0) {
        return Err("outbox-per-minute must be positive".into());
    }
    if m.commands.len() > 100 {
        return Err("at most 100 commands".into());
    }
    for c in &m.commands {
        if !ok_name(&c.name, &['_'], 32) {
            return Err(format!("command `{}` must be 1-32 of a-z 0-9 _", c.name));
        }
        if c.description.is_empty()
            || c.description.chars().count() > 256
            || c.description.chars().any(char::is_control)
        {
            return Err(format!(
                "command `{}` needs a description of 1-256 characters, none of them a control character",
                c.name
            ));
        }
    }
    Ok(())
}

/// Sets the module's quotas and capabilities from its manifest, narrowed by the operator;
/// returns its outbox quota.
pub(super) fn grant(config: &Config, env: &ModuleEnv, manifest: &Manifest) -> Option<u32> {
    let operator = config.modules.get(&manifest.name);
    // The host's setting is the default and the ceiling: a module cannot grant itself more.
    let narrow = |declared: Option<u64>, host: u64, op: Option<u64>| {
        let declared = declared.map_or(host, |d| d.min(host));
        op.map_or(declared, |o| o.min(declared))
    };
    env.kv.set_quota(Quota {
        max_bytes: narrow(
            manifest.kv_max_bytes,
            config.sandbox.kv_max_bytes,
            operator.and_then(|m| m.kv_max_bytes),
        ),
        max_keys: narrow(
            manifest.kv_max_keys,
            config.sandbox.kv_max_keys,
            operator.and_then(|m| m.kv_max_keys),
        ),
    });
    let mut capabilities = Capabilities::granted(manifest.timers, &manifest.http_hosts, operator);
    // `botbox dev` and `botbox test-runner` let every module reach loopback; a bot, nothing.
    (capabilities.http_private).extend(&config.http.private_for_every_module);
    *env.capabilities.write() = capabilities;
    match (
        manifest.outbox_per_minute,
        operator.and_then(|m| m.outbox_per_minute),
    ) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
