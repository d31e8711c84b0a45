//! The point-in-time recovery check: is continuous backup on, with the policy's window?

use lifeboat::inventory::{ManagedResource, PitrStatus};
use lifeboat::ports::{BackupService, PortError};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum PitrCheck {
    /// The window matches the policy.
    Ok { window_days: u8 },
    /// The policy asks for no particular window.
    NotRequired,
    /// The window was wrong and has been set to the policy's.
    DriftCorrected { found: Option<u8>, set: u8 },
    /// The window is wrong; the policy says to report, not correct.
    DriftReported { found: Option<u8>, wanted: u8 },
    /// The check itself failed (see the resource's errors).
    Unknown,
}

pub async fn check(service: &dyn BackupService, resource: &ManagedResource) -> Result<PitrCheck, PortError> {
    let Some(wanted) = resource.policy.point_in_time else {
        return Ok(PitrCheck::NotRequired);
    };
    let status = match resource.pitr {
        Some(known) => known,
        None => service.pitr_status(&resource.key).await?,
    };
    let found = window(status);
    if found == Some(wanted.window_days) {
        return Ok(PitrCheck::Ok {
            window_days: wanted.window_days,
        });
    }
    tracing::warn!(resource = %resource.key, ?found, wanted = wanted.window_days, "point-in-time window drift");
    if !wanted.correct_drift {
        return Ok(PitrCheck::DriftReported {
            found,
            wanted: wanted.window_days,
        });
    }
    service.set_pitr_window(&resource.key, wanted.window_days).await?;
    Ok(PitrCheck::DriftCorrected {
        found,
        set: wanted.window_days,
    })
}

fn window(status: PitrStatus) -> Option<u8> {
    status.enabled.then_some(status.window_days).flatten()
}
