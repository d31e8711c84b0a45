//! An undo that meets a refusal no retry can cure (a tag policy refusing the marks that keep
//! what served production, the pre-swap backup gone, a resource under one of its names that
//! is not the one it made and pinned): it stops where it stands instead of being retried
//! without end, and the failure path ends the restore in bounded time, with what now holds
//! production's name on record for the engineer who takes over. Nothing is deleted and
//! nothing more is renamed.

use lifeboat::execution::error::StepError;
use lifeboat::execution::run::{Phase, ResourceRun};
use lifeboat::ports::restorer::{Holder, Restorer, Target};

/// What the run says of a resource whose undo stopped on `refusal`, and the phase it stands
/// in: production holding the rollback counts as swapped (the restore's data stays, and its
/// data-loss window is announced), the original back as undone; anything else stays undoing.
pub async fn stop(
    restorer: &dyn Restorer,
    target: &Target<'_>,
    r: &ResourceRun,
    refusal: &StepError,
) -> (Phase, String) {
    let holder = restorer.holder(target).await;
    let resource = &r.resource;
    let stopped = format!("{resource}: the undo could not go on ({refusal}); nothing was deleted");
    // Where the swap set the original aside, and which it is where it was pinned: the name
    // may hold a look-alike since (the refusal says so).
    let original = match &r.fallback_identity {
        Some(pinned) => format!(
            "the original was set aside as {} (it is {})",
            r.fallback, pinned.id
        ),
        None => format!("the original was set aside as {}", r.fallback),
    };
    match holder {
        Ok(Holder::Restored) => (
            Phase::Swapped,
            format!(
                "{stopped}; production stays the restored instance, which serves with the recovery point's data and every write since the swap; {original}"
            ),
        ),
        Ok(Holder::Original) => (
            Phase::Undone,
            format!(
                "{stopped}; the original is production again, with what the undo had still to do (its marks, its settings) left for an engineer to check"
            ),
        ),
        Ok(Holder::Nobody) => (
            Phase::Undoing,
            format!(
                "{stopped}; URGENT: no resource holds production's name: {original}, rename it back to {} by hand",
                resource.name
            ),
        ),
        Ok(Holder::Other) => (
            Phase::Undoing,
            format!(
                "{stopped}; URGENT: production's name {} is held by a resource that is neither this restore's nor the original, left as it is: {original}",
                resource.name
            ),
        ),
        Ok(Holder::Unknown) => (
            Phase::Undoing,
            format!("{stopped}; production's state could not be told: an engineer checks it before anything else"),
        ),
        Err(e) => (
            Phase::Undoing,
            format!("{stopped}; what holds production's name could not be read ({e}): an engineer checks it before anything else"),
        ),
    }
}
