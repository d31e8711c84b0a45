//! Headless Chromium (Debian's `chromium`, which `scripts/bootstrap` installs), to open a
//! page as an engineer would: the DOM after rendering, and a screenshot.
//!
//! Started with the flags this machine's closed network needs (no background networking,
//! component updates or sync, whose connections it would refuse) and a fresh profile per
//! run, so nothing is shared between tests running side by side.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use crate::StackError;

/// How long one Chromium run may take before it is killed.
const DEADLINE: Duration = Duration::from_secs(60);

/// The DOM of the local HTML file `page` once rendered (Chromium's `--dump-dom`).
pub async fn rendered_dom(page: &Path, work: &Path) -> Result<String, StackError> {
    let out = run(page, work, &["--dump-dom".to_string()]).await?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// A PNG screenshot of the local HTML file `page`, `width` by `height`, written to `png`.
pub async fn screenshot(
    page: &Path,
    png: &Path,
    (width, height): (u32, u32),
    work: &Path,
) -> Result<(), StackError> {
    run(
        page,
        work,
        &[
            format!("--screenshot={}", png.display()),
            format!("--window-size={width},{height}"),
            "--hide-scrollbars".to_string(),
        ],
    )
    .await?;
    if png.exists() {
        Ok(())
    } else {
        Err(StackError::Setup(format!(
            "chromium wrote no screenshot at {}",
            png.display()
        )))
    }
}

async fn run(page: &Path, work: &Path, extra: &[String]) -> Result<Vec<u8>, StackError> {
    let profile = work.join(format!("chromium-profile-{}", uuid::Uuid::new_v4().simple()));
    let mut command = Command::new("chromium");
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command
        .spawn()
        .map_err(|e| StackError::Setup(format!("starting chromium (scripts/bootstrap installs it): {e}")))?;
    let out = tokio::time::timeout(DEADLINE, child.wait_with_output())
        .await
        .map_err(|_| {
            StackError::Setup(format!(
                "chromium did not finish {} within {DEADLINE:?}",
                page.display()
            ))
        })?
        .map_err(|e| StackError::Setup(format!("chromium on {}: {e}", page.display())))?;
    let _ = std::fs::remove_dir_all(&profile);
    if !out.status.success() {
        return Err(StackError::Setup(format!(
            "chromium on {} exited with {}: {}",
            page.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(out.stdout)
}
