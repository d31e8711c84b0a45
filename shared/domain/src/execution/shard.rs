//! Work a restore step hands to the state machine to spread over parallel tasks (its
//! `RunShards` Map state): the segments of a DynamoDB copy-back, each run to its end one
//! bounded invocation at a time, resuming from its own checkpoint.
//!
//! A copy-back brings a target table (production's live table) to a source table's content
//! (staging's, or for an undo the table the pre-swap backup was restored into), or compares
//! the two (after the swap, and after an undo), in two
//! sides that never touch the same items: the source's items are put where the target
//! lacks them or differs, and the target's items the source lacks are deleted. Each side is
//! split into the segments of a parallel scan, so no invocation ever holds a whole table and
//! none needs more than its time budget: the size of a table bounds only how many shards it
//! takes, not whether it can be copied.

use serde::{Deserialize, Serialize};

use crate::catalog::ResourceKey;

/// Why a copy-back runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// The swap: production's items become staging's.
    Swap,
    /// The check after the swap: compares, writes nothing.
    Verify,
    /// The undo of a swap that failed part-way: production's items become the pre-swap
    /// backup's again.
    Undo,
    /// The check after an undo: compares production with the pre-swap content, writes
    /// nothing.
    UndoCheck,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Swap => "swap",
            Purpose::Verify => "verify",
            Purpose::Undo => "undo",
            Purpose::UndoCheck => "undo_check",
        }
    }

    /// Whether shards of this purpose write to the target.
    pub fn writes(self) -> bool {
        matches!(self, Purpose::Swap | Purpose::Undo)
    }

    /// Whether shards of this purpose belong to an undo (they copy from its fallback).
    pub fn undoes(self) -> bool {
        matches!(self, Purpose::Undo | Purpose::UndoCheck)
    }
}

/// Which table a shard scans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The source's items, put into the target where it lacks them or differs.
    Source,
    /// The target's items, deleted where the source lacks them.
    Target,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Source => "source",
            Side::Target => "target",
        }
    }
}

/// One segment of one side of a copy-back. It travels through the state machine as its
/// label (`dynamodb:orders#swap#source#3of8`), a few dozen bytes: hundreds of shards stay far
/// inside Step Functions' 256 KB state.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Shard {
    pub resource: ResourceKey,
    pub purpose: Purpose,
    pub side: Side,
    pub segment: u32,
    pub segments: u32,
}

impl Shard {
    /// Every shard of a copy-back of `resource` in `segments` segments.
    pub fn all(resource: &ResourceKey, purpose: Purpose, segments: u32) -> Vec<Shard> {
        [Side::Source, Side::Target]
            .into_iter()
            .flat_map(|side| {
                (0..segments).map(move |segment| Shard {
                    resource: resource.clone(),
                    purpose,
                    side,
                    segment,
                    segments,
                })
            })
            .collect()
    }

    /// Its name among the other shards of the request (where its checkpoint is kept).
    pub fn label(&self) -> String {
        format!(
            "{}#{}#{}#{}of{}",
            self.resource,
            self.purpose.as_str(),
            self.side.as_str(),
            self.segment,
            self.segments
        )
    }
}

impl From<Shard> for String {
    fn from(shard: Shard) -> String {
        shard.label()
    }
}

impl TryFrom<String> for Shard {
    type Error = String;

    /// A shard from its label; resource names never hold `#` (neither RDS identifiers nor
    /// DynamoDB table names may).
    fn try_from(label: String) -> Result<Shard, String> {
        let bad = || format!("{label:?} is not a shard (resource#purpose#side#NofM)");
        let mut parts = label.rsplitn(4, '#');
        let (Some(position), Some(side), Some(purpose), Some(resource)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let (segment, segments) = position.split_once("of").ok_or_else(bad)?;
        let purpose = [Purpose::Swap, Purpose::Verify, Purpose::Undo, Purpose::UndoCheck]
            .into_iter()
            .find(|p| p.as_str() == purpose)
            .ok_or_else(bad)?;
        let side = [Side::Source, Side::Target]
            .into_iter()
            .find(|s| s.as_str() == side)
            .ok_or_else(bad)?;
        let (segment, segments): (u32, u32) = (
            segment.parse().map_err(|_| bad())?,
            segments.parse().map_err(|_| bad())?,
        );
        if segment >= segments {
            return Err(bad());
        }
        Ok(Shard {
            resource: ResourceKey::try_from(resource.to_string()).map_err(|_| bad())?,
            purpose,
            side,
            segment,
            segments,
        })
    }
}

/// How many segments a copy-back of a source table of `bytes` takes: one per 256 MiB (a few
/// minutes of one invocation's work), at least [`MIN_SEGMENTS`], at most [`MAX_SEGMENTS`]
/// (DynamoDB's parallel scan allows a million; the Map state runs a handful at once).
pub fn segments_for(bytes: u64) -> u32 {
    const PER_SEGMENT: u64 = 256 * 1024 * 1024;
    let wanted = bytes.div_ceil(PER_SEGMENT);
    u32::try_from(wanted)
        .unwrap_or(MAX_SEGMENTS)
        .clamp(MIN_SEGMENTS, MAX_SEGMENTS)
}

/// Even a small table is copied in a few segments: the work is spread from the start.
pub const MIN_SEGMENTS: u32 = 2;
/// 128 segments of 256 MiB: 32 GiB per side before a segment grows past its share; 256
/// shards in all, whose labels stay far inside Step Functions' 256 KB state.
pub const MAX_SEGMENTS: u32 = 128;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_back_has_both_sides_of_every_segment() {
        let shards = Shard::all(&ResourceKey::dynamodb("orders"), Purpose::Swap, 3);
        assert_eq!(shards.len(), 6);
        assert_eq!(shards[0].label(), "dynamodb:orders#swap#source#0of3");
        assert_eq!(shards[5].label(), "dynamodb:orders#swap#target#2of3");
        let json = serde_json::to_value(&shards[5]).unwrap();
        assert_eq!(json, serde_json::json!("dynamodb:orders#swap#target#2of3"));
        assert_eq!(serde_json::from_value::<Shard>(json).unwrap(), shards[5]);
        for bad in [
            "orders#swap#source#0of3",
            "dynamodb:orders#swap#source#3of3",
            "dynamodb:orders#copy#source#0of3",
            "x",
        ] {
            assert!(Shard::try_from(bad.to_string()).is_err(), "{bad}");
        }
    }

    #[test]
    fn segments_grow_with_the_table_within_bounds() {
        assert_eq!(segments_for(0), MIN_SEGMENTS);
        assert_eq!(segments_for(300 * 1024 * 1024), 2);
        assert_eq!(segments_for(10 * 1024 * 1024 * 1024), 40);
        assert_eq!(segments_for(u64::MAX), MAX_SEGMENTS);
        assert!(!Purpose::Verify.writes() && Purpose::Undo.writes());
        assert!(!Purpose::UndoCheck.writes());
        let check = Shard::all(&ResourceKey::dynamodb("orders"), Purpose::UndoCheck, 2);
        assert_eq!(Shard::try_from(check[3].label()).unwrap(), check[3]);
    }
}
