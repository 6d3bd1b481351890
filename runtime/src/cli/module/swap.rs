//! `botbox module swap` and what a change reports: the new version's changes in what it asks
//! for, and the operator's approval when it asks for more.

use std::path::PathBuf;

use anyhow::bail;

use super::{Api, error_of, read_component};

/// Swaps `name` for `file`; a version awaiting approval is approved with `approve`, or after
/// showing what it asks for and asking at a terminal.
pub(super) async fn swap(
    api: &Api,
    name: &str,
    file: &PathBuf,
    approve: bool,
    out: &mut impl std::io::Write,
) -> anyhow::Result<serde_json::Value> {
    use std::io::IsTerminal;
    let path = format!("/v1/modules/{name}?approve={approve}");
    let (status, value, text) = api
        .send_raw(
            reqwest::Method::PUT,
            &path,
            Some(read_component(file)?),
            None,
        )
        .await?;
    if status.is_success() {
        return Ok(value);
    }
    let awaiting = value
        .get("awaiting_approval")
        .and_then(|a| serde_json::from_value::<crate::modules::registry::Awaiting>(a.clone()).ok());
    let Some(awaiting) = awaiting else {
        bail!("{}", error_of(&value, &text));
    };
    writeln!(
        out,
        "{} {} asks for more than the running version:",
        awaiting.name, awaiting.version
    )?;
    for line in awaiting.changes.lines() {
        writeln!(out, "  {}", crate::text::printable(&line, 300))?;
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "not swapped: approve with `botbox module approve {name}`, or swap again with --approve"
        );
    }
    write!(out, "Approve? [y/N] ")?;
    out.flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if !matches!(answer.trim(), "y" | "Y" | "yes") {
        bail!("not swapped: it awaits approval (`botbox module approve {name}`)");
    }
    let approve = format!("/v1/modules/{name}/approve");
    api.send(reqwest::Method::POST, &approve, None, None).await
}

/// What a change did, and how what the module asks for changed.
pub(super) fn done(v: &serde_json::Value) -> String {
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or_default();
    let hash = s("hash");
    let mut text = format!(
        "{}: {} {} ({})",
        s("action"),
        s("name"),
        s("version"),
        &hash[..hash.len().min(12)]
    );
    let changes: crate::modules::registry::Changes = v
        .get("changes")
        .and_then(|c| serde_json::from_value(c.clone()).ok())
        .unwrap_or_default();
    if s("action") != "unchanged" {
        for line in changes.lines() {
            text.push_str(&format!("\n  {}", crate::text::printable(&line, 300)));
        }
    }
    text
}
