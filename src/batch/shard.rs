//! `--shard K/N`: which recordings one of N independent processes takes. The choice hashes the
//! recording's key (its path relative to the folder scanned, or its manifest name), never a
//! machine-local path, so every machine that sees the same archive agrees on it.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// Shard `k` (1-based) of `n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub k: u32,
    pub n: u32,
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("{s:?} is not a shard: expected K/N with 1 <= K <= N, e.g. 3/8");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let k: u32 = k.trim().parse().map_err(|_| bad())?;
        let n: u32 = n.trim().parse().map_err(|_| bad())?;
        if k == 0 || n == 0 || k > n {
            return Err(bad());
        }
        Ok(Shard { k, n })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

impl Shard {
    /// Whether the recording with this key belongs to this shard.
    pub fn takes(&self, key: &str) -> bool {
        shard_of(key, self.n) == self.k
    }

    /// The file-name form, `shard-K-of-N`.
    pub fn file_tag(&self) -> String {
        format!("shard-{}-of-{}", self.k, self.n)
    }
}

/// The 1-based shard of `n` a key falls in: the first 8 bytes of its sha256, modulo `n`.
/// Fixed forever: changing it would make shards of one job disagree across versions.
pub fn shard_of(key: &str, n: u32) -> u32 {
    let digest = Sha256::digest(key.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) % u64::from(n)) as u32 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        assert_eq!("3/8".parse::<Shard>().unwrap(), Shard { k: 3, n: 8 });
        assert_eq!(" 1 / 1 ".parse::<Shard>().unwrap(), Shard { k: 1, n: 1 });
        for bad in ["0/4", "5/4", "1/0", "3", "a/b", "-1/4", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn every_key_falls_in_exactly_one_shard() {
        let keys: Vec<String> = (0..500).map(|i| format!("2024/session-{i}.wav")).collect();
        let n = 7;
        let shards: Vec<Shard> = (1..=n).map(|k| Shard { k, n }).collect();
        let mut sizes = vec![0; n as usize];
        for key in &keys {
            let owners: Vec<&Shard> = shards.iter().filter(|s| s.takes(key)).collect();
            assert_eq!(owners.len(), 1, "{key}");
            sizes[owners[0].k as usize - 1] += 1;
        }
        // Roughly balanced: 500/7 = 71 each.
        assert!(sizes.iter().all(|&s| (40..110).contains(&s)), "{sizes:?}");
    }

    #[test]
    fn the_assignment_is_stable() {
        // Pinned: shards of one job run by different versions must agree.
        assert_eq!(shard_of("a.wav", 8), shard_of("a.wav", 8));
        let pinned: Vec<u32> = ["a.wav", "b.wav", "2024/plenary.mp3", "Sitzung 3.flac"]
            .iter()
            .map(|k| shard_of(k, 5))
            .collect();
        assert_eq!(pinned, PINNED);
    }

    const PINNED: [u32; 4] = [4, 5, 3, 2];
}
