//! A sample of a table's keys, spread over one pass of a scan of unknown length, and what
//! reading them back found. A drill reads every item of a DynamoDB sandbox to count it;
//! keeping a few keys from across the whole pass costs nothing more, and reading those back
//! one by one proves the restored table answers by its keys, not only to a scan.

use super::checks::CheckResult;

/// Keeps every `stride`-th item seen and doubles the stride whenever twice the wanted
/// number are kept, so the kept ones stay spread evenly over the pass, however long.
#[derive(Debug, Clone)]
pub struct Sampler<T> {
    wanted: usize,
    stride: u64,
    seen: u64,
    kept: Vec<T>,
}

impl<T> Sampler<T> {
    pub fn new(wanted: usize) -> Self {
        Sampler {
            wanted: wanted.max(1),
            stride: 1,
            seen: 0,
            kept: Vec::new(),
        }
    }

    pub fn offer(&mut self, item: T) {
        if self.seen.is_multiple_of(self.stride) {
            self.kept.push(item);
            if self.kept.len() >= 2 * self.wanted {
                let mut i = 0;
                self.kept.retain(|_| {
                    i += 1;
                    i % 2 == 1
                });
                self.stride *= 2;
            }
        }
        self.seen += 1;
    }

    /// At most the wanted number, spread over the pass.
    pub fn finish(self) -> Vec<T> {
        let len = self.kept.len();
        if len <= self.wanted {
            return self.kept;
        }
        let wanted = self.wanted;
        let mut picks = (0..wanted).map(|i| i * len / wanted).peekable();
        (self.kept.into_iter().enumerate())
            .filter_map(|(i, item)| (picks.next_if_eq(&i)).map(|_| item))
            .collect()
    }
}

/// The check of a sample read back from `sandbox`: every key must be found there. How many
/// are also in production is reported, not judged (items deleted since the point are
/// expected).
pub fn sample_read_back(
    sandbox: &str,
    sampled: usize,
    read_back: usize,
    in_production: usize,
) -> CheckResult {
    CheckResult {
        name: format!("sample of keys read back from {sandbox}"),
        passed: read_back == sampled,
        detail: if sampled == 0 {
            "the sandbox is empty: no key to read back".into()
        } else {
            format!(
                "{read_back} of {sampled} sampled keys read back; {in_production} of them also in production now"
            )
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_is_spread_over_the_whole_pass_and_never_larger_than_wanted() {
        for n in [0u64, 1, 5, 19, 20, 21, 100, 1000, 12345] {
            let mut s = Sampler::new(20);
            (0..n).for_each(|i| s.offer(i));
            let kept = s.finish();
            assert_eq!(kept.len() as u64, n.min(20), "{n}: {kept:?}");
            if n >= 40 {
                assert!(kept[0] < n / 10, "the start is sampled: {n}: {kept:?}");
                assert!(
                    *kept.last().unwrap() >= n / 2,
                    "the second half too: {n}: {kept:?}"
                );
            }
            assert!(kept.windows(2).all(|w| w[0] < w[1]), "in order, no repeats");
        }
    }

    #[test]
    fn a_sample_passes_only_when_every_key_reads_back() {
        assert!(sample_read_back("lbd-x-orders", 20, 20, 3).passed);
        let missing = sample_read_back("lbd-x-orders", 20, 19, 20);
        assert!(!missing.passed && missing.detail.starts_with("19 of 20"));
        assert!(sample_read_back("lbd-x-orders", 0, 0, 0).passed);
    }
}
