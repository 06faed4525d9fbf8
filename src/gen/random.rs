//! Seeded random streams and the few distributions the generator draws from.
//!
//! Invariant: every block of work draws from its own stream, derived from the seed, a
//! domain and the block's index only, so output never depends on thread scheduling.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What a stream is used for; streams of different domains never overlap.
#[derive(Debug, Clone, Copy)]
pub enum Domain {
    Clients = 1,
    Orders = 2,
    Products = 3,
}

/// The random stream of one block of work.
pub fn stream(seed: u64, domain: Domain, index: u64) -> ChaCha8Rng {
    let mut rng =
        ChaCha8Rng::seed_from_u64(seed ^ (domain as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    rng.set_stream(index);
    rng
}

/// A standard normal draw (Box-Muller).
pub fn normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A log-normal draw with the given parameters of the underlying normal.
pub fn lognormal(rng: &mut impl Rng, mu: f64, sigma: f64) -> f64 {
    (mu + sigma * normal(rng)).exp()
}

/// The number of failures before the first success, success having probability `p`.
pub fn geometric(rng: &mut impl Rng, p: f64) -> u32 {
    let u: f64 = 1.0 - rng.random::<f64>();
    (u.ln() / (1.0 - p).ln()).floor().min(f64::from(u32::MAX)) as u32
}

/// An index in `0..len`, skewed towards 0: the higher `skew`, the more popular the head.
pub fn skewed_index(rng: &mut impl Rng, len: usize, skew: f64) -> usize {
    let u: f64 = rng.random();
    ((len as f64 * u.powf(skew)) as usize).min(len - 1)
}

/// A weighted choice among `items`, each with its weight.
pub fn weighted<'a, T>(rng: &mut impl Rng, items: &'a [(T, f64)]) -> &'a T {
    let total: f64 = items.iter().map(|(_, w)| w).sum();
    let mut left = rng.random::<f64>() * total;
    for (item, weight) in items {
        if left < *weight {
            return item;
        }
        left -= weight;
    }
    &items[items.len() - 1].0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_repeat_per_seed_domain_and_index() {
        let draw = |seed, domain, index| stream(seed, domain, index).random::<u64>();
        assert_eq!(draw(7, Domain::Clients, 3), draw(7, Domain::Clients, 3));
        assert_ne!(draw(7, Domain::Clients, 3), draw(7, Domain::Clients, 4));
        assert_ne!(draw(7, Domain::Clients, 3), draw(7, Domain::Orders, 3));
        assert_ne!(draw(7, Domain::Clients, 3), draw(8, Domain::Clients, 3));
    }

    #[test]
    fn geometric_has_the_expected_mean() {
        let mut rng = stream(1, Domain::Orders, 0);
        let mean = (0..100_000)
            .map(|_| f64::from(geometric(&mut rng, 0.4)))
            .sum::<f64>()
            / 1e5;
        assert!((mean - 1.5).abs() < 0.05, "{mean}");
    }
}
