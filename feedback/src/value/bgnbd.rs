//! The BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005, "Counting Your
//! Customers the Easy Way"): fit by maximum likelihood, and per-customer predictions.
//!
//! The likelihood is evaluated in log space (log-sum-exp of its two terms), so large
//! purchase counts cannot overflow; identical (x, t_x, T) rows are fitted once with a
//! weight, and the Γ-function terms, which depend on x only, once per distinct x.

use serde::{Deserialize, Serialize};

use super::error::ValueError;
use super::optim::bfgs;
use super::special::{digamma, hyp2f1, ln_gamma};
use super::summary::Rfm;

/// BG/NBD parameters: purchase rates λ ~ Gamma(r, α), dropout probabilities p ~ Beta(a, b).
/// α is in the time unit of the data (weeks for our summaries).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BgNbdParams {
    /// Shape of the purchase-rate distribution.
    pub r: f64,
    /// Scale of the purchase-rate distribution, in time units.
    pub alpha: f64,
    /// First shape of the dropout-probability distribution.
    pub a: f64,
    /// Second shape of the dropout-probability distribution.
    pub b: f64,
}

/// Distinct keys with their counts, in key order (sorting, not hashing: faster for a
/// million rows, and the likelihood's summation order is then deterministic).
pub(crate) fn group_counts<K: Ord + Copy>(mut keys: Vec<K>) -> Vec<(K, f64)> {
    keys.sort_unstable();
    let mut out: Vec<(K, f64)> = Vec::new();
    for k in keys {
        match out.last_mut() {
            Some((last, n)) if *last == k => *n += 1.0,
            _ => out.push((k, 1.0)),
        }
    }
    out
}

/// ln(e^u + e^v) without overflow.
fn log_add_exp(u: f64, v: f64) -> f64 {
    let m = u.max(v);
    m + ((u - m).exp() + (v - m).exp()).ln()
}

impl BgNbdParams {
    /// Log-likelihood of one customer's (x, t_x, T) (equation 6 of the paper, in logs).
    pub fn log_likelihood(&self, c: Rfm) -> f64 {
        let Self { r, alpha, a, b } = *self;
        let x = f64::from(c.frequency);
        let a1 = ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln();
        let a2 = ln_gamma(a + b) + ln_gamma(b + x) - ln_gamma(b) - ln_gamma(a + b + x);
        let a3 = -(r + x) * (alpha + c.t).ln();
        if c.frequency == 0 {
            return a1 + a2 + a3;
        }
        let a4 = a.ln() - (b + x - 1.0).ln() - (r + x) * (alpha + c.recency).ln();
        a1 + a2 + log_add_exp(a3, a4)
    }

    /// P(alive at T | x, t_x, T) (Fader, Hardie & Lee, note 021). Customers without a
    /// repeat purchase cannot have dropped out under the model, so theirs is 1.
    pub fn p_alive(&self, c: Rfm) -> f64 {
        if c.frequency == 0 {
            return 1.0;
        }
        let x = f64::from(c.frequency);
        let log_odds_dead = (self.r + x) * ((self.alpha + c.t) / (self.alpha + c.recency)).ln()
            + (self.a / (self.b + x - 1.0)).ln();
        1.0 / (1.0 + log_odds_dead.exp())
    }

    /// E[X(t)]: expected repeat purchases in (0, t] of a new customer (equation 9).
    pub fn expected_purchases(&self, t: f64) -> f64 {
        self.conditional_expected_purchases(
            t,
            Rfm {
                frequency: 0,
                recency: 0.0,
                t: 0.0,
            },
        )
    }

    /// E[Y(t) | x, t_x, T]: expected repeat purchases in (T, T + t] (equation 10).
    ///
    /// ₂F₁ is taken in its Euler-transformed form, whose parameters do not grow with x,
    /// so the series stays short and finite for any purchase count.
    pub fn conditional_expected_purchases(&self, t: f64, c: Rfm) -> f64 {
        if t <= 0.0 {
            return 0.0;
        }
        let Self { r, alpha, a, b } = *self;
        let x = f64::from(c.frequency);
        let z = t / (alpha + c.t + t);
        // ₂F₁(r+x, b+x; a+b+x−1; z)·(1−z)^(r+x) = ₂F₁(a+b−1−r, a−1; a+b+x−1; z)·(1−z)^(a−1)
        let hyp = hyp2f1(a + b - 1.0 - r, a - 1.0, a + b + x - 1.0, z) * (1.0 - z).powf(a - 1.0);
        let first = (a + b + x - 1.0) / (a - 1.0);
        first * (1.0 - hyp) * self.p_alive(c)
    }

    /// P(X(t) = n): probability that a new customer makes exactly n repeat purchases in
    /// (0, t] (equation 8), with every factor in logs.
    pub fn prob_purchases(&self, t: f64, n: u32) -> f64 {
        let Self { r, alpha, a, b } = *self;
        let nf = f64::from(n);
        let ln_beta = |p: f64, q: f64| ln_gamma(p) + ln_gamma(q) - ln_gamma(p + q);
        let ln_keep = (alpha / (alpha + t)).ln(); // ln(α/(α+t))
        let ln_buy = (t / (alpha + t)).ln(); // ln(t/(α+t))
        let ln_nbd =
            |j: f64| ln_gamma(r + j) - ln_gamma(r) - ln_gamma(j + 1.0) + r * ln_keep + j * ln_buy;
        let first = (ln_beta(a, b + nf) - ln_beta(a, b) + ln_nbd(nf)).exp();
        if n == 0 {
            return first;
        }
        // 1 − Σ_{j<n} NBD(j): the chance of at least n purchases had they stayed alive.
        let below: f64 = (0..n).map(|j| ln_nbd(f64::from(j)).exp()).sum();
        let second =
            (ln_beta(a + 1.0, b + nf - 1.0) - ln_beta(a, b)).exp() * (1.0 - below).max(0.0);
        first + second
    }

    /// P(no purchase in (T, T + t] | x, t_x, T): dead, or alive with a Gamma(r + x, α + T)
    /// rate and no purchase (an alive customer only drops out right after a purchase).
    pub fn p_no_purchase(&self, t: f64, c: Rfm) -> f64 {
        let alive = self.p_alive(c);
        let x = f64::from(c.frequency);
        let none_if_alive = ((self.alpha + c.t) / (self.alpha + c.t + t)).powf(self.r + x);
        (1.0 - alive) + alive * none_if_alive
    }
}

/// A fitted BG/NBD model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BgNbdFit {
    /// The maximum-likelihood parameters.
    #[serde(flatten)]
    pub params: BgNbdParams,
    /// Total log-likelihood at the optimum, in the data's time unit.
    pub log_likelihood: f64,
    /// Customers fitted.
    pub customers: usize,
    /// Distinct (x, t_x, T) patterns actually evaluated.
    pub patterns: usize,
    /// Optimiser iterations.
    pub iterations: usize,
}

/// Identical (x, t_x, T) rows, grouped with a weight, sorted by x.
struct Patterns {
    x: Vec<u32>,
    /// Per pattern, indexes into `times` of t_x and T: real data has few distinct times
    /// (whole days), so their logarithms are computed once per evaluation.
    recency_index: Vec<u32>,
    t_index: Vec<u32>,
    times: Vec<f64>,
    weight: Vec<f64>,
    /// Distinct x values and, per pattern, the index into them.
    distinct_x: Vec<u32>,
    x_index: Vec<usize>,
    total_weight: f64,
}

impl Patterns {
    fn new(customers: &[Rfm]) -> Self {
        let groups = group_counts(
            customers
                .iter()
                .map(|c| (c.frequency, c.recency.to_bits(), c.t.to_bits()))
                .collect(),
        );
        let mut time_bits: Vec<u64> = groups
            .iter()
            .flat_map(|((_, rec, t), _)| [*rec, *t])
            .collect();
        time_bits.sort_unstable();
        time_bits.dedup();
        let index = |bits: u64| time_bits.binary_search(&bits).unwrap_or(0) as u32;
        let mut p = Self {
            x: Vec::with_capacity(groups.len()),
            recency_index: Vec::with_capacity(groups.len()),
            t_index: Vec::with_capacity(groups.len()),
            times: time_bits.iter().map(|b| f64::from_bits(*b)).collect(),
            weight: Vec::with_capacity(groups.len()),
            distinct_x: Vec::new(),
            x_index: Vec::with_capacity(groups.len()),
            total_weight: customers.len() as f64,
        };
        for ((x, rec, t), w) in groups {
            if p.distinct_x.last() != Some(&x) {
                p.distinct_x.push(x);
            }
            p.x_index.push(p.distinct_x.len() - 1);
            p.x.push(x);
            p.recency_index.push(index(rec));
            p.t_index.push(index(t));
            p.weight.push(w);
        }
        p
    }

    /// Total log-likelihood and its gradient in (r, α, a, b), with times multiplied by `scale`.
    fn log_likelihood(&self, r: f64, alpha: f64, a: f64, b: f64, scale: f64) -> (f64, [f64; 4]) {
        struct PerX {
            ll: f64,
            d_r: f64,
            d_a: f64,
            d_b: f64,
            ln_a_term: f64,
        }
        let (lg_r, dg_r) = (ln_gamma(r), digamma(r));
        let (lg_ab, dg_ab) = (ln_gamma(a + b), digamma(a + b));
        let (lg_b, dg_b) = (ln_gamma(b), digamma(b));
        let per_x: Vec<PerX> = self
            .distinct_x
            .iter()
            .map(|&x| {
                let x = f64::from(x);
                let a2 = lg_ab + ln_gamma(b + x) - lg_b - ln_gamma(a + b + x);
                PerX {
                    ll: ln_gamma(r + x) - lg_r + r * alpha.ln() + a2,
                    d_r: digamma(r + x) - dg_r + alpha.ln(),
                    d_a: dg_ab - digamma(a + b + x),
                    d_b: dg_ab + digamma(b + x) - dg_b - digamma(a + b + x),
                    ln_a_term: a.ln() - (b + x.max(1.0) - 1.0).ln(),
                }
            })
            .collect();

        let time_terms: Vec<(f64, f64)> = self
            .times
            .iter()
            .map(|t| {
                let at = alpha + scale * t;
                (at.ln(), 1.0 / at)
            })
            .collect();
        let (mut ll, mut g_r, mut g_alpha, mut g_a, mut g_b) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for i in 0..self.x.len() {
            let k = &per_x[self.x_index[i]];
            let x = f64::from(self.x[i]);
            let w = self.weight[i];
            let (l3, inv_at) = time_terms[self.t_index[i] as usize];
            let a3 = -(r + x) * l3;
            let mut row = k.ll;
            let mut d_r = k.d_r;
            let mut d_alpha = r / alpha;
            let mut d_a = k.d_a;
            let mut d_b = k.d_b;
            if self.x[i] == 0 {
                row += a3;
                d_r -= l3;
                d_alpha -= (r + x) * inv_at;
            } else {
                let (l4, inv_ax) = time_terms[self.recency_index[i] as usize];
                let a4 = k.ln_a_term - (r + x) * l4;
                // log-sum-exp and the two terms' shares with one exp and one log.
                let d = a4 - a3;
                let e = (-d.abs()).exp();
                let (lse, w_big) = (a3.max(a4) + (1.0 + e).ln(), 1.0 / (1.0 + e));
                let (w3, w4) = if d > 0.0 {
                    (1.0 - w_big, w_big)
                } else {
                    (w_big, 1.0 - w_big)
                };
                row += lse;
                d_r -= w3 * l3 + w4 * l4;
                d_alpha -= (r + x) * (w3 * inv_at + w4 * inv_ax);
                d_a += w4 / a;
                d_b -= w4 / (b + x - 1.0);
            }
            ll += w * row;
            g_r += w * d_r;
            g_alpha += w * d_alpha;
            g_a += w * d_a;
            g_b += w * d_b;
        }
        (ll, [g_r, g_alpha, g_a, g_b])
    }
}

/// Fit the BG/NBD model by maximum likelihood.
///
/// BFGS over log-parameters on the mean log-likelihood, with time rescaled so the
/// oldest customer has T = 1 (as `lifetimes` does) for a well-conditioned start.
pub fn fit_bgnbd(customers: &[Rfm]) -> Result<BgNbdFit, ValueError> {
    if customers.is_empty() {
        return Err(ValueError::NoCustomers);
    }
    if customers.iter().all(|c| c.frequency == 0) {
        // The likelihood then grows without bound as r → 0: there is no estimate.
        return Err(ValueError::invalid(
            "no customer has a repeat purchase, so purchase rates cannot be estimated",
        ));
    }
    let patterns = Patterns::new(customers);
    let max_t = customers.iter().fold(0.0f64, |m, c| m.max(c.t));
    let scale = if max_t > 0.0 { 1.0 / max_t } else { 1.0 };
    let n = patterns.total_weight;
    let objective = |theta: &[f64; 4]| {
        let [r, alpha, a, b] = theta.map(f64::exp);
        let (ll, g) = patterns.log_likelihood(r, alpha, a, b, scale);
        let grad = [
            -g[0] * r / n,
            -g[1] * alpha / n,
            -g[2] * a / n,
            -g[3] * b / n,
        ];
        (-ll / n, grad)
    };
    let min = bfgs(objective, [0.0; 4], 1e-10, 500);
    if !min.converged {
        return Err(ValueError::NotConverged {
            model: "BG/NBD",
            iterations: min.iterations,
        });
    }
    let [r, alpha_scaled, a, b] = min.x.map(f64::exp);
    let params = BgNbdParams {
        r,
        alpha: alpha_scaled / scale,
        a,
        b,
    };
    let (log_likelihood, _) = patterns.log_likelihood(r, params.alpha, a, b, 1.0);
    Ok(BgNbdFit {
        params,
        log_likelihood,
        customers: customers.len(),
        patterns: patterns.x.len(),
        iterations: min.iterations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUBLISHED: BgNbdParams = BgNbdParams {
        r: 0.243,
        alpha: 4.414,
        a: 0.793,
        b: 2.426,
    };

    #[test]
    fn analytic_gradient_matches_finite_differences() {
        let rows = [
            Rfm {
                frequency: 0,
                recency: 0.0,
                t: 38.86,
            },
            Rfm {
                frequency: 2,
                recency: 30.43,
                t: 38.86,
            },
            Rfm {
                frequency: 7,
                recency: 29.43,
                t: 35.0,
            },
            Rfm {
                frequency: 1,
                recency: 1.71,
                t: 27.0,
            },
        ];
        let p = Patterns::new(&rows);
        let base = [0.5, 3.0, 0.9, 2.0];
        let (_, g) = p.log_likelihood(base[0], base[1], base[2], base[3], 0.1);
        for i in 0..4 {
            let h = 1e-6;
            let mut up = base;
            let mut down = base;
            up[i] += h;
            down[i] -= h;
            let f = |q: [f64; 4]| p.log_likelihood(q[0], q[1], q[2], q[3], 0.1).0;
            let numeric = (f(up) - f(down)) / (2.0 * h);
            assert!(
                (numeric - g[i]).abs() < 1e-6 * numeric.abs().max(1.0),
                "param {i}: {numeric} vs {}",
                g[i]
            );
        }
    }

    #[test]
    fn grouped_likelihood_equals_per_customer_sum() {
        let rows = [
            Rfm {
                frequency: 0,
                recency: 0.0,
                t: 38.86,
            },
            Rfm {
                frequency: 0,
                recency: 0.0,
                t: 38.86,
            },
            Rfm {
                frequency: 3,
                recency: 20.0,
                t: 30.0,
            },
        ];
        let p = Patterns::new(&rows);
        assert_eq!(p.x.len(), 2);
        let (grouped, _) =
            p.log_likelihood(PUBLISHED.r, PUBLISHED.alpha, PUBLISHED.a, PUBLISHED.b, 1.0);
        let single: f64 = rows.iter().map(|c| PUBLISHED.log_likelihood(*c)).sum();
        assert!((grouped - single).abs() < 1e-10);
    }

    #[test]
    fn purchase_count_probabilities_match_r_btyd_and_sum_to_one() {
        // R BTYD at the published parameters: P(X(2) = 10) = 1.07869e-07.
        let p10 = PUBLISHED.prob_purchases(2.0, 10);
        assert!((p10 - 1.07869e-07).abs() < 1e-11, "{p10}");
        let total: f64 = (0..200).map(|n| PUBLISHED.prob_purchases(39.0, n)).sum();
        assert!((total - 1.0).abs() < 1e-9, "{total}");
        let mean: f64 = (0..400)
            .map(|n| f64::from(n) * PUBLISHED.prob_purchases(39.0, n))
            .sum();
        assert!((mean - PUBLISHED.expected_purchases(39.0)).abs() < 1e-7);
    }

    #[test]
    fn fitting_without_repeat_purchases_is_an_error_not_a_wild_estimate() {
        let rows = [Rfm {
            frequency: 0,
            recency: 0.0,
            t: 10.0,
        }; 5];
        assert!(matches!(
            fit_bgnbd(&rows),
            Err(ValueError::InvalidArgument(_))
        ));
        assert!(matches!(fit_bgnbd(&[]), Err(ValueError::NoCustomers)));
    }

    #[test]
    fn fit_survives_very_heavy_buyers() {
        let mut rows: Vec<Rfm> = (0..500)
            .map(|i| {
                let x = [0, 0, 1, 2, 0, 4, 0, 1][i % 8];
                let t = 20.0 + (i % 19) as f64;
                Rfm {
                    frequency: x,
                    recency: if x == 0 { 0.0 } else { t * 0.6 },
                    t,
                }
            })
            .collect();
        rows.push(Rfm {
            frequency: 5_000,
            recency: 38.0,
            t: 38.5,
        });
        rows.push(Rfm {
            frequency: 250_000,
            recency: 30.0,
            t: 38.5,
        });
        let fit = fit_bgnbd(&rows).expect("fit");
        assert!(fit.log_likelihood.is_finite());
        let BgNbdParams { r, alpha, a, b } = fit.params;
        assert!(
            [r, alpha, a, b].iter().all(|v| v.is_finite() && *v > 0.0),
            "{:?}",
            fit.params
        );
    }

    #[test]
    fn huge_frequencies_stay_finite() {
        let c = Rfm {
            frequency: 1_000_000,
            recency: 39.0,
            t: 39.0,
        };
        assert!(PUBLISHED.log_likelihood(c).is_finite());
        let p = Patterns::new(&[c]);
        let (ll, g) = p.log_likelihood(PUBLISHED.r, PUBLISHED.alpha, PUBLISHED.a, PUBLISHED.b, 1.0);
        assert!(ll.is_finite() && g.iter().all(|v| v.is_finite()));
        let e = PUBLISHED.conditional_expected_purchases(39.0, c);
        assert!(e.is_finite() && e > 0.0, "{e}");
        let pa = PUBLISHED.p_alive(c);
        assert!((0.0..=1.0).contains(&pa));
    }

    #[test]
    fn recovers_the_parameters_it_simulated_from() {
        let population = crate::value::synth::Population::cdnow();
        let mut rng = crate::value::synth::SplitMix64::new(42);
        let rows: Vec<Rfm> = (0..20_000)
            .map(|i| {
                let id = crate::value::CustomerId::parse(&i.to_string()).expect("id");
                population.draw(id, &mut rng).rfm()
            })
            .collect();
        let fit = fit_bgnbd(&rows).expect("fit");
        let p = Patterns::new(&rows);
        let BgNbdParams { r, alpha, a, b } = fit.params;
        let (_, g) = p.log_likelihood(r, alpha, a, b, 1.0);
        let n = rows.len() as f64;
        let scaled = [g[0] * r / n, g[1] * alpha / n, g[2] * a / n, g[3] * b / n];
        assert!(
            scaled.iter().all(|v| v.abs() < 1e-8),
            "gradient at the optimum {scaled:?}"
        );
        // Sampling error at n = 20,000 is a few percent for r and α, more for a and b.
        assert!(
            (r - 0.243).abs() < 0.03 && (alpha - 4.414).abs() < 0.8,
            "{:?}",
            fit.params
        );
        assert!(fit.patterns < rows.len(), "identical rows are grouped");
    }
}
