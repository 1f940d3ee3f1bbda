//! A tiny deterministic PRNG (SplitMix64) and a keyed hash built on it.
//!
//! Does: reproducible streams from a seed, uniform integers and floats,
//! exponential samples for Poisson arrivals, and `hash_unit` for decisions that
//! must depend only on (seed, key) and not on the order records arrive in.
//! Does not: anything cryptographic, or statistically demanding work.

/// SplitMix64 (Steele, Lea, Flood 2014): one u64 of state, passes BigCrush,
/// and is good enough to drive a load generator.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// A stream for `seed`; `stream` separates the services so that they do
    /// not draw the same numbers from one seed.
    pub fn new(seed: u64, stream: u64) -> Rng {
        Rng { state: mix(seed ^ mix(stream.wrapping_add(GOLDEN))) }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN);
        mix(self.state)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi] (inclusive); `lo` when the range is empty.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        // Modulo bias is at most (hi-lo)/2^64: irrelevant here.
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.unit() < p
    }

    /// Exponentially distributed with the given mean (inter-arrival times of a
    /// Poisson process).
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }

    /// An index in [0, n) skewed towards 0 (density ~ 1/(2 sqrt(x))), so low
    /// numbered products are the best sellers.
    pub fn skewed_index(&mut self, n: u64) -> u64 {
        let u = self.unit();
        ((u * u * n as f64) as u64).min(n.saturating_sub(1))
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.range(0, items.len() as u64 - 1) as usize]
    }
}

/// FNV-1a over `key`, mixed with the seed: a stable u64 per (seed, key).
pub fn hash(seed: u64, key: &str) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for b in key.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01B3);
    }
    mix(h ^ mix(seed))
}

/// A uniform number in [0, 1) fixed by (seed, key): a service restarted from
/// the beginning of its input decides every order the same way again.
pub fn hash_unit(seed: u64, key: &str) -> f64 {
    (hash(seed, key) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_separated_streams() {
        let a: Vec<u64> = (0..5).scan(Rng::new(7, 1), |r, _| Some(r.next_u64())).collect();
        let b: Vec<u64> = (0..5).scan(Rng::new(7, 1), |r, _| Some(r.next_u64())).collect();
        let c: Vec<u64> = (0..5).scan(Rng::new(7, 2), |r, _| Some(r.next_u64())).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn ranges_and_rates() {
        let mut r = Rng::new(1, 0);
        let mut hits = 0;
        for _ in 0..100_000 {
            let x = r.range(1, 4);
            assert!((1..=4).contains(&x));
            assert!(r.skewed_index(10) < 10);
            hits += r.chance(0.1) as u32;
        }
        assert!((9_000..11_000).contains(&hits), "{}", hits);
        let mean: f64 = (0..100_000).map(|_| r.exponential(2.0)).sum::<f64>() / 100_000.0;
        assert!((mean - 2.0).abs() < 0.05, "{}", mean);
        assert_eq!(hash_unit(3, "o-1"), hash_unit(3, "o-1"));
        assert_ne!(hash_unit(3, "o-1"), hash_unit(4, "o-1"));
    }
}
