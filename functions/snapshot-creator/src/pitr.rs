//! The point-in-time recovery check: is continuous backup on, with at least the policy's
//! window?
//!
//! The policy's window is a minimum. A longer window is recovery history someone chose to
//! keep: shortening it deletes that history at once, so it is reported (`exceeds`) and never
//! touched. Only a window that is shorter, or off, is corrected (when the policy says so).

use lifeboat::inventory::{ManagedResource, PitrStatus};
use lifeboat::ports::{BackupService, PortError};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum PitrCheck {
    /// The window is the policy's.
    Ok { window_days: u8 },
    /// The window is longer than the policy's minimum: kept as it is.
    Exceeds { window_days: u8, minimum: u8 },
    /// The policy asks for no particular window.
    NotRequired,
    /// The window was shorter than the policy's, or off, and has been raised to it.
    DriftCorrected { found: Option<u8>, set: u8 },
    /// The window is shorter than the policy's, or off; the policy says to report, not correct.
    DriftReported { found: Option<u8>, wanted: u8 },
    /// The check itself failed (see the resource's errors).
    Unknown,
}

/// What a found window means against the policy's minimum, before anything is changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judgement {
    Meets,
    Exceeds,
    /// Shorter than the minimum, or continuous backups are off (`None`).
    Short,
}

/// Judges `found` (days, `None` when continuous backups are off) against `minimum`.
pub fn judge(found: Option<u8>, minimum: u8) -> Judgement {
    match found {
        Some(days) if days == minimum => Judgement::Meets,
        Some(days) if days > minimum => Judgement::Exceeds,
        _ => Judgement::Short,
    }
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
    let minimum = wanted.window_days;
    match (judge(found, minimum), found) {
        (Judgement::Meets, _) => return Ok(PitrCheck::Ok { window_days: minimum }),
        (Judgement::Exceeds, Some(days)) => {
            tracing::info!(resource = %resource.key, window_days = days, minimum, "point-in-time window longer than the policy's: kept");
            return Ok(PitrCheck::Exceeds {
                window_days: days,
                minimum,
            });
        }
        _ => {}
    }
    tracing::warn!(resource = %resource.key, ?found, minimum, "point-in-time window shorter than the policy's");
    if !wanted.correct_drift {
        return Ok(PitrCheck::DriftReported {
            found,
            wanted: minimum,
        });
    }
    service.raise_pitr_window(&resource.key, minimum).await?;
    Ok(PitrCheck::DriftCorrected { found, set: minimum })
}

fn window(status: PitrStatus) -> Option<u8> {
    status.enabled.then_some(status.window_days).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_shorter_or_disabled_window_is_short() {
        assert_eq!(judge(Some(3), 3), Judgement::Meets);
        assert_eq!(judge(Some(14), 3), Judgement::Exceeds);
        assert_eq!(judge(Some(35), 7), Judgement::Exceeds);
        assert_eq!(judge(Some(1), 3), Judgement::Short);
        assert_eq!(judge(Some(0), 3), Judgement::Short);
        assert_eq!(judge(None, 3), Judgement::Short);
    }
}
