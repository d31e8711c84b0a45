//! Triage: does a restore request look like an emergency under the backup and restore policy?
//!
//! Triage advises; it never decides. The policy leaves the call to Element451's "sole
//! discretion", so an engineer always makes it: triage only sorts the queue and, above all,
//! says why, in the policy's own words, so that support can explain the outcome to a customer.

use serde::{Deserialize, Serialize};

use super::{Affected, Cause};

/// How a request looks against the policy's examples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    LikelyQualifies,
    LikelyNot,
    NeedsReview,
}

/// A verdict and the reasons for it; there is always at least one reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Triage {
    pub verdict: Verdict,
    pub reasons: Vec<String>,
}

/// What triage reads from a request.
pub struct Facts<'a> {
    pub cause: Cause,
    pub description: &'a str,
    pub affected: &'a Affected,
}

/// Records lost at or above which an integration's deletion counts as "a large volume".
pub const LARGE_VOLUME: u64 = 500;

/// Records lost at or above which an everyday cause is flagged for its scale. Scale alone never
/// turns a non-qualifying example into an emergency, but an engineer should not miss it.
const VERY_LARGE_VOLUME: u64 = 10 * LARGE_VOLUME;

/// Words in a description that suggest an infrastructure failure, matched case-insensitively
/// anywhere in the text. A support agent picking the cause from a list can pick the wrong
/// one; the customer's own words are a second opinion.
const INFRASTRUCTURE_SIGNALS: [&str; 6] = [
    "outage",
    "corrupt",
    "disk",
    "hardware",
    "database failure",
    "data center",
];

/// The policy's answer to every non-qualifying example.
const EVERYDAY_TOOLS: &str = "for these everyday situations the policy asks the customer to use the \
    product's built-in tools, audit logs and integration history to recover or rebuild the data";

/// Triage a restore request against the policy's qualifying and non-qualifying examples.
pub fn triage(facts: &Facts) -> Triage {
    let mut triage = by_cause(facts.cause, facts.affected.estimated_records);
    if facts.cause != Cause::InfrastructureFailure {
        let signals = infrastructure_signals(facts.description);
        if !signals.is_empty() {
            triage.reasons.push(wrong_cause(facts.cause, &signals));
            // A misfiled cause can hide an emergency but never invent one, so only a "likely
            // not" is reopened; a qualifying verdict keeps the signal as a note.
            if triage.verdict == Verdict::LikelyNot {
                triage.verdict = Verdict::NeedsReview;
            }
        }
    }
    if nothing_named(facts.affected) {
        triage.reasons.push(
            "Nothing affected was named: the policy asks for the records, objects or areas of the \
             platform affected, and an engineer needs them to scope any restore."
                .to_string(),
        );
    }
    triage
}

fn by_cause(cause: Cause, estimate: Option<u64>) -> Triage {
    match cause {
        Cause::InfrastructureFailure => likely_qualifies(
            "The policy's first qualifying example: \"an infrastructure failure results in data loss\".",
        ),
        Cause::IntegrationMassDeletion => integration_deletion(estimate),
        Cause::UserEdit => everyday(
            estimate,
            "reverting an individual user's edits or routine mistakes",
        ),
        Cause::WorkflowAsConfigured => everyday(
            estimate,
            "undoing a workflow, automation, or import that performed as configured",
        ),
        Cause::StandardProductDeletion => everyday(
            estimate,
            "recovering data deleted through standard product features, such as contact deletion, \
             segment-based deletion, or integrations",
        ),
        Cause::ConfigurationChange => everyday(
            estimate,
            "rolling back configuration changes that can be re-created manually",
        ),
        Cause::Other => needs_review(
            "The cause matches none of the policy's examples: an engineer must judge whether it is a \
             true emergency.",
        ),
    }
}

/// The policy's second qualifying example hinges on "a large volume of records that cannot be
/// recovered through normal product workflows"; only the volume is something triage can read.
fn integration_deletion(estimate: Option<u64>) -> Triage {
    match estimate {
        Some(n) if n >= LARGE_VOLUME => likely_qualifies(format!(
            "The policy's second qualifying example: a customer's API integration caused unintended \
             deletion of a large volume of records (about {n}, at least {LARGE_VOLUME}); an engineer \
             should still confirm they cannot be recovered through normal product workflows."
        )),
        Some(n) => needs_review(format!(
            "A customer's API integration deleted about {n} records, fewer than the {LARGE_VOLUME} \
             counted as a large volume: so few may be recoverable through normal product workflows \
             and the integration's history."
        )),
        None => needs_review(
            "A customer's API integration deleted records, but the scale is unknown: an engineer must \
             confirm it is a large volume of records that cannot be recovered through normal product \
             workflows.",
        ),
    }
}

fn everyday(estimate: Option<u64>, example: &str) -> Triage {
    let mut reasons = vec![format!(
        "The policy says restorations are not intended for {example}; {EVERYDAY_TOOLS}."
    )];
    if let Some(n) = estimate.filter(|&n| n >= VERY_LARGE_VOLUME) {
        reasons.push(format!(
            "About {n} records are affected, at least {VERY_LARGE_VOLUME}: the scale alone does not \
             make this an emergency under the policy, but an engineer should see it."
        ));
    }
    Triage {
        verdict: Verdict::LikelyNot,
        reasons,
    }
}

fn likely_qualifies(reason: impl Into<String>) -> Triage {
    Triage {
        verdict: Verdict::LikelyQualifies,
        reasons: vec![reason.into()],
    }
}

fn needs_review(reason: impl Into<String>) -> Triage {
    Triage {
        verdict: Verdict::NeedsReview,
        reasons: vec![reason.into()],
    }
}

fn infrastructure_signals(description: &str) -> Vec<&'static str> {
    let description = description.to_lowercase();
    INFRASTRUCTURE_SIGNALS
        .into_iter()
        .filter(|s| description.contains(s))
        .collect()
}

fn wrong_cause(cause: Cause, signals: &[&str]) -> String {
    let quoted: Vec<String> = signals.iter().map(|s| format!("\"{s}\"")).collect();
    format!(
        "The description mentions {}, which suggests an infrastructure failure, yet the cause given is \
         {}: support may have picked the wrong cause.",
        quoted.join(", "),
        cause.as_str()
    )
}

fn nothing_named(affected: &Affected) -> bool {
    affected.objects.is_empty()
        && affected.records.is_empty()
        && affected.areas.is_empty()
        && affected.estimated_records.is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn contacts(estimate: Option<u64>) -> Affected {
        Affected {
            objects: vec!["contacts".into()],
            estimated_records: estimate,
            ..Affected::default()
        }
    }

    fn run(cause: Cause, description: &str, affected: &Affected) -> Triage {
        triage(&Facts {
            cause,
            description,
            affected,
        })
    }

    fn mentions(triage: &Triage, needle: &str) -> bool {
        triage.reasons.iter().any(|r| r.contains(needle))
    }

    // The policy's qualifying examples.

    #[test]
    fn an_infrastructure_failure_with_data_loss_likely_qualifies() {
        let t = run(
            Cause::InfrastructureFailure,
            "Storage outage on the primary cluster; applications submitted since 09:00 are gone.",
            &contacts(Some(40)),
        );
        assert_eq!(t.verdict, Verdict::LikelyQualifies);
        assert_eq!(t.reasons.len(), 1, "{:?}", t.reasons);
        assert!(mentions(&t, "an infrastructure failure results in data loss"));
    }

    #[test]
    fn an_integration_deleting_a_large_volume_likely_qualifies() {
        let t = run(
            Cause::IntegrationMassDeletion,
            "The customer's SIS sync sent delete calls for every contact in the fall cohort.",
            &contacts(Some(12_000)),
        );
        assert_eq!(t.verdict, Verdict::LikelyQualifies);
        assert!(mentions(&t, "large volume of records (about 12000"));
        assert!(mentions(
            &t,
            "cannot be recovered through normal product workflows"
        ));
    }

    // The policy's non-qualifying examples.

    fn assert_likely_not(t: &Triage, example: &str) {
        assert_eq!(t.verdict, Verdict::LikelyNot);
        assert_eq!(t.reasons.len(), 1, "{:?}", t.reasons);
        assert!(mentions(t, example), "{:?}", t.reasons);
        assert!(mentions(t, "built-in tools, audit logs and integration history"));
    }

    #[test]
    fn reverting_a_users_edits_likely_does_not_qualify() {
        let t = run(
            Cause::UserEdit,
            "A counselor overwrote the decision notes on three applications by mistake.",
            &contacts(Some(3)),
        );
        assert_likely_not(&t, "reverting an individual user's edits or routine mistakes");
    }

    #[test]
    fn undoing_a_workflow_that_performed_as_configured_likely_does_not_qualify() {
        let t = run(
            Cause::WorkflowAsConfigured,
            "An import mapped the wrong column into the major field, exactly as it was set up.",
            &contacts(Some(800)),
        );
        assert_likely_not(
            &t,
            "undoing a workflow, automation, or import that performed as configured",
        );
    }

    #[test]
    fn recovering_a_standard_product_deletion_likely_does_not_qualify() {
        let t = run(
            Cause::StandardProductDeletion,
            "An admin ran a segment-based deletion on the wrong segment.",
            &contacts(Some(1_200)),
        );
        assert_likely_not(&t, "recovering data deleted through standard product features");
    }

    #[test]
    fn rolling_back_a_configuration_change_likely_does_not_qualify() {
        let t = run(
            Cause::ConfigurationChange,
            "Someone removed two steps from the application form and wants the old version back.",
            &Affected {
                areas: vec!["admissions portal".into()],
                ..Affected::default()
            },
        );
        assert_likely_not(
            &t,
            "rolling back configuration changes that can be re-created manually",
        );
    }

    #[test]
    fn a_cause_outside_the_policys_examples_needs_review() {
        let t = run(
            Cause::Other,
            "Event registrations look wrong since yesterday.",
            &contacts(None),
        );
        assert_eq!(t.verdict, Verdict::NeedsReview);
        assert!(mentions(&t, "matches none of the policy's examples"));
    }

    // Scale.

    #[test]
    fn an_integration_deleting_just_under_a_large_volume_needs_review() {
        let t = run(
            Cause::IntegrationMassDeletion,
            "A sync deleted some contacts.",
            &contacts(Some(499)),
        );
        assert_eq!(t.verdict, Verdict::NeedsReview);
        assert!(mentions(&t, "recoverable through normal product workflows"));
    }

    #[test]
    fn an_integration_deleting_exactly_a_large_volume_likely_qualifies() {
        let t = run(
            Cause::IntegrationMassDeletion,
            "A sync deleted contacts.",
            &contacts(Some(LARGE_VOLUME)),
        );
        assert_eq!(t.verdict, Verdict::LikelyQualifies);
    }

    #[test]
    fn an_integration_deletion_of_unknown_scale_needs_review() {
        let t = run(
            Cause::IntegrationMassDeletion,
            "A sync deleted contacts.",
            &contacts(None),
        );
        assert_eq!(t.verdict, Verdict::NeedsReview);
        assert!(mentions(&t, "the scale is unknown"));
        assert!(mentions(&t, "large volume of records that cannot be recovered"));
    }

    #[test]
    fn a_very_large_everyday_loss_stays_likely_not_but_shows_its_scale() {
        let t = run(
            Cause::StandardProductDeletion,
            "Bulk contact deletion.",
            &contacts(Some(5_000)),
        );
        assert_eq!(t.verdict, Verdict::LikelyNot);
        assert_eq!(t.reasons.len(), 2, "{:?}", t.reasons);
        assert!(mentions(&t, "About 5000 records are affected"));
    }

    #[test]
    fn an_everyday_loss_just_under_very_large_does_not_mention_scale() {
        let t = run(
            Cause::StandardProductDeletion,
            "Bulk contact deletion.",
            &contacts(Some(4_999)),
        );
        assert_eq!(t.reasons.len(), 1, "{:?}", t.reasons);
    }

    // The description as a second opinion on the cause.

    #[test]
    fn an_everyday_cause_with_an_infrastructure_signal_needs_review() {
        let t = run(
            Cause::UserEdit,
            "Records vanished during the Tuesday OUTAGE; the data looks Corrupted.",
            &contacts(Some(20)),
        );
        assert_eq!(t.verdict, Verdict::NeedsReview);
        assert!(mentions(&t, "\"outage\", \"corrupt\""));
        assert!(mentions(&t, "the cause given is user_edit"));
        assert!(mentions(&t, "reverting an individual user's edits"));
    }

    #[test]
    fn an_infrastructure_signal_does_not_lower_a_qualifying_verdict() {
        let t = run(
            Cause::IntegrationMassDeletion,
            "The sync retried after a database failure and deleted every contact.",
            &contacts(Some(900)),
        );
        assert_eq!(t.verdict, Verdict::LikelyQualifies);
        assert!(mentions(&t, "\"database failure\""));
    }

    #[test]
    fn an_infrastructure_failure_is_not_flagged_for_its_own_signals() {
        let t = run(
            Cause::InfrastructureFailure,
            "Disk failure in the data center.",
            &contacts(None),
        );
        assert_eq!(t.reasons.len(), 1, "{:?}", t.reasons);
    }

    #[test]
    fn a_request_naming_nothing_affected_says_so_without_changing_the_verdict() {
        let t = run(
            Cause::InfrastructureFailure,
            "Hardware fault.",
            &Affected::default(),
        );
        assert_eq!(t.verdict, Verdict::LikelyQualifies);
        assert!(mentions(&t, "Nothing affected was named"));
    }

    #[test]
    fn verdicts_serialize_in_snake_case() {
        let json = serde_json::to_string(&Verdict::LikelyQualifies).unwrap();
        assert_eq!(json, "\"likely_qualifies\"");
    }

    proptest! {
        #[test]
        fn every_triage_gives_at_least_one_reason(
            cause in prop::sample::select(Cause::ALL.to_vec()),
            description in ".*",
            estimate in prop::option::of(prop_oneof![0u64..20_000, any::<u64>()]),
            named in any::<bool>(),
        ) {
            let mut affected = contacts(estimate);
            if !named {
                affected.objects.clear();
            }
            let t = run(cause, &description, &affected);
            prop_assert!(!t.reasons.is_empty());
        }
    }
}
