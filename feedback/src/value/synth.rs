//! Synthetic customers drawn from BG/NBD and Gamma-Gamma parameters, for tests and the
//! benchmark (`examples/value_synth.rs`). Deterministic for a given seed.
//!
//! Times are whole days expressed in weeks, as in real summaries, so identical
//! (x, t_x, T) patterns repeat the way they do in real data.

use super::bgnbd::BgNbdParams;
use super::gamma_gamma::GammaGammaParams;
use super::input::CustomerId;
use super::summary::CustomerSummary;

/// A small, fast generator (SplitMix64): statistical quality is ample for simulation,
/// and it keeps the crate free of a `rand` dependency.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// Seeded generator.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }

    /// Gamma(shape, scale) by Marsaglia & Tsang (2000), boosted for shape < 1.
    pub fn gamma(&mut self, shape: f64, scale: f64) -> f64 {
        if shape < 1.0 {
            let u = self.uniform();
            return self.gamma(shape + 1.0, scale) * u.powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = (1.0 + c * x).powi(3);
            if v <= 0.0 {
                continue;
            }
            let u = self.uniform();
            if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                return d * v * scale;
            }
        }
    }

    /// Beta(a, b).
    pub fn beta(&mut self, a: f64, b: f64) -> f64 {
        let x = self.gamma(a, 1.0);
        let y = self.gamma(b, 1.0);
        x / (x + y)
    }
}

/// How to draw a population.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Population {
    /// Purchase and dropout process.
    pub bgnbd: BgNbdParams,
    /// Spend per purchase.
    pub gamma_gamma: GammaGammaParams,
    /// Shortest customer age T, in days.
    pub min_age_days: u32,
    /// Longest customer age T, in days.
    pub max_age_days: u32,
}

impl Population {
    /// The CDNOW cohort: published parameters, first purchases spread over the first 12
    /// weeks of a 39-week calibration (T from 27 to 39 weeks).
    pub fn cdnow() -> Self {
        Self {
            bgnbd: BgNbdParams {
                r: 0.243,
                alpha: 4.414,
                a: 0.793,
                b: 2.426,
            },
            gamma_gamma: GammaGammaParams {
                p: 6.25,
                q: 3.74,
                v: 15.44,
            },
            min_age_days: 27 * 7,
            max_age_days: 39 * 7,
        }
    }

    /// Draw one customer's calibration summary.
    pub fn draw(&self, id: CustomerId, rng: &mut SplitMix64) -> CustomerSummary {
        let span = u64::from(self.max_age_days.saturating_sub(self.min_age_days)) + 1;
        let age_days = self.min_age_days + (rng.uniform() * span as f64) as u32;
        let t = f64::from(age_days) / 7.0;
        let BgNbdParams { r, alpha, a, b } = self.bgnbd;
        let lambda = rng.gamma(r, 1.0 / alpha);
        let p_drop = rng.beta(a, b);
        let (mut now, mut x, mut last) = (0.0, 0u32, 0.0);
        loop {
            now += -rng.uniform().ln() / lambda;
            if now > t {
                break;
            }
            x += 1;
            last = now;
            if rng.uniform() < p_drop {
                break;
            }
        }
        let recency_days = if x == 0 {
            0
        } else {
            ((last * 7.0).ceil() as u32).clamp(1, age_days)
        };
        let monetary_value = if x == 0 {
            0.0
        } else {
            let GammaGammaParams { p, q, v } = self.gamma_gamma;
            let nu = rng.gamma(q, 1.0 / v);
            let total: f64 = (0..x).map(|_| rng.gamma(p, 1.0 / nu)).sum();
            ((total / f64::from(x)) * 100.0).round().max(1.0) / 100.0
        };
        CustomerSummary {
            customer_id: id,
            frequency: x,
            recency: f64::from(recency_days) / 7.0,
            t,
            monetary_value: Some(monetary_value),
            holdout_frequency: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gamma_and_beta_draws_have_the_right_means() {
        let mut rng = SplitMix64::new(7);
        let n = 200_000;
        let g: f64 = (0..n).map(|_| rng.gamma(0.243, 1.0 / 4.414)).sum::<f64>() / f64::from(n);
        assert!((g - 0.243 / 4.414).abs() < 0.002, "{g}");
        let g: f64 = (0..n).map(|_| rng.gamma(6.25, 2.0)).sum::<f64>() / f64::from(n);
        assert!((g - 12.5).abs() < 0.05, "{g}");
        let bmean: f64 = (0..n).map(|_| rng.beta(0.793, 2.426)).sum::<f64>() / f64::from(n);
        assert!((bmean - 0.793 / (0.793 + 2.426)).abs() < 0.003, "{bmean}");
    }
}
