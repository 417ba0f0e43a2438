//! The Gamma-Gamma model of spend per purchase (Fader & Hardie 2013, note 025) and the
//! discounted customer lifetime value built on it, as `lifetimes` defines them.

use serde::{Deserialize, Serialize};

use super::bgnbd::{BgNbdParams, group_counts};
use super::error::ValueError;
use super::optim::bfgs;
use super::special::{digamma, ln_gamma};
use super::summary::Rfm;

/// Gamma-Gamma parameters: spend per purchase ~ Gamma(p, ν) with ν ~ Gamma(q, v).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GammaGammaParams {
    /// Shape of spend per purchase.
    pub p: f64,
    /// Shape of the customers' spend-rate distribution.
    pub q: f64,
    /// Scale of the customers' spend-rate distribution (the paper's γ).
    pub v: f64,
}

/// Repeat purchases and their mean spend, for customers with at least one repeat purchase.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spend {
    /// Repeat purchases (x ≥ 1).
    pub frequency: u32,
    /// Mean spend over those purchases (z̄ > 0).
    pub monetary_value: f64,
}

impl GammaGammaParams {
    /// Population mean spend per purchase, v·p/(q − 1) (infinite when q ≤ 1).
    pub fn population_mean(&self) -> f64 {
        if self.q <= 1.0 {
            f64::INFINITY
        } else {
            self.v * self.p / (self.q - 1.0)
        }
    }

    /// E[Z | x, z̄]: expected mean spend per future purchase (equation 5), a weighted mean
    /// of the customer's own mean and the population mean. For x = 0 it is the latter.
    pub fn conditional_expected_spend(&self, frequency: u32, monetary_value: f64) -> f64 {
        let px = self.p * f64::from(frequency);
        let w = px / (px + self.q - 1.0);
        (1.0 - w) * self.population_mean() + w * monetary_value
    }

    /// Log-likelihood of one customer's (x, z̄).
    pub fn log_likelihood(&self, s: Spend) -> f64 {
        let Self { p, q, v } = *self;
        let x = f64::from(s.frequency);
        let m = s.monetary_value;
        ln_gamma(p * x + q) - ln_gamma(p * x) - ln_gamma(q)
            + q * v.ln()
            + (p * x - 1.0) * m.ln()
            + p * x * x.ln()
            - (p * x + q) * (x * m + v).ln()
    }
}

/// A fitted Gamma-Gamma model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GammaGammaFit {
    /// The maximum-likelihood parameters.
    #[serde(flatten)]
    pub params: GammaGammaParams,
    /// Total log-likelihood at the optimum.
    pub log_likelihood: f64,
    /// Customers fitted (those with x ≥ 1 and spend > 0).
    pub customers: usize,
    /// Optimiser iterations.
    pub iterations: usize,
}

/// Fit the Gamma-Gamma model on customers with at least one repeat purchase and a
/// positive mean spend; others are skipped, as the model is defined only for them.
pub fn fit_gamma_gamma(customers: &[Spend]) -> Result<GammaGammaFit, ValueError> {
    let keys: Vec<(u32, u64)> = customers
        .iter()
        .filter(|s| s.frequency > 0 && s.monetary_value > 0.0 && s.monetary_value.is_finite())
        .map(|s| (s.frequency, s.monetary_value.to_bits()))
        .collect();
    let fitted = keys.len();
    if fitted == 0 {
        return Err(ValueError::NoCustomers);
    }
    let groups = group_counts(keys);
    // Rows sorted by x; the Γ and ψ terms depend on x only, so they are computed once
    // per distinct x and each row adds only logarithms.
    let rows: Vec<(f64, f64, f64)> = groups
        .iter()
        .map(|&((x, m), w)| (f64::from(x), f64::from_bits(m), w))
        .collect();
    struct Run {
        x: f64,
        rows: std::ops::Range<usize>,
        weight: f64,
        weighted_ln_m: f64,
    }
    let mut runs: Vec<Run> = Vec::new();
    for (i, &(x, m, w)) in rows.iter().enumerate() {
        match runs.last_mut() {
            Some(run) if run.x == x => run.rows.end = i + 1,
            _ => runs.push(Run {
                x,
                rows: i..i + 1,
                weight: 0.0,
                weighted_ln_m: 0.0,
            }),
        }
        if let Some(run) = runs.last_mut() {
            run.weight += w;
            run.weighted_ln_m += w * m.ln();
        }
    }
    let n = fitted as f64;
    let mean_spend = rows.iter().map(|(_, m, w)| m * w).sum::<f64>() / n;

    let total = |p: f64, q: f64, v: f64| -> (f64, [f64; 3]) {
        let (lg_q, dg_q, ln_v) = (ln_gamma(q), digamma(q), v.ln());
        let (mut ll, mut gp, mut gq, mut gv) = (0.0, 0.0, 0.0, 0.0);
        for run in &runs {
            let (x, w_sum, w_ln_m) = (run.x, run.weight, run.weighted_ln_m);
            let px = p * x;
            let (lg_pxq, lg_px) = (ln_gamma(px + q), ln_gamma(px));
            let (dg_pxq, dg_px) = (digamma(px + q), digamma(px));
            let ln_x = x.ln();
            let (mut w_lxm, mut w_inv) = (0.0, 0.0);
            for &(_, m, w) in &rows[run.rows.clone()] {
                let xm_v = x * m + v;
                w_lxm += w * xm_v.ln();
                w_inv += w / xm_v;
            }
            ll += w_sum * (lg_pxq - lg_px - lg_q + q * ln_v + px * ln_x) + (px - 1.0) * w_ln_m
                - (px + q) * w_lxm;
            gp += x * (w_sum * (dg_pxq - dg_px + ln_x) + w_ln_m - w_lxm);
            gq += w_sum * (dg_pxq - dg_q + ln_v) - w_lxm;
            gv += w_sum * q / v - (px + q) * w_inv;
        }
        (ll, [gp, gq, gv])
    };
    // Start where the population mean spend matches the data (p = 1, q = 2 ⇒ mean = v).
    let start = [0.0, 2f64.ln(), mean_spend.ln()];
    let objective = |theta: &[f64; 3]| {
        let [p, q, v] = theta.map(f64::exp);
        let (ll, g) = total(p, q, v);
        (-ll / n, [-g[0] * p / n, -g[1] * q / n, -g[2] * v / n])
    };
    let min = bfgs(objective, start, 1e-10, 500);
    if !min.converged {
        return Err(ValueError::NotConverged {
            model: "Gamma-Gamma",
            iterations: min.iterations,
        });
    }
    let [p, q, v] = min.x.map(f64::exp);
    Ok(GammaGammaFit {
        params: GammaGammaParams { p, q, v },
        log_likelihood: total(p, q, v).0,
        customers: fitted,
        iterations: min.iterations,
    })
}

/// Discounted CLV over `months`, exactly as `lifetimes.utils._customer_lifetime_value`:
/// for each month i, the expected purchases in month i (BG/NBD conditional expectation
/// differences) × expected spend, discounted by (1 + monthly rate)^i.
///
/// `per_month` is the number of model time units in a month (4.345 for weeks).
/// `expected_spend` is usually [`GammaGammaParams::conditional_expected_spend`]; multiply
/// the result by a margin for profit.
pub fn customer_lifetime_value(
    model: &BgNbdParams,
    customer: Rfm,
    expected_spend: f64,
    months: u32,
    monthly_discount_rate: f64,
    per_month: f64,
) -> f64 {
    let mut clv = 0.0;
    let mut previous = 0.0;
    for i in 1..=months {
        let cumulative = model.conditional_expected_purchases(f64::from(i) * per_month, customer);
        clv +=
            expected_spend * (cumulative - previous) / (1.0 + monthly_discount_rate).powi(i as i32);
        previous = cumulative;
    }
    clv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradient_matches_finite_differences_at_the_optimum() {
        let data: Vec<Spend> = [
            (1, 20.0),
            (2, 35.5),
            (5, 12.0),
            (3, 80.0),
            (1, 9.99),
            (7, 41.0),
        ]
        .iter()
        .map(|&(f, m)| Spend {
            frequency: f,
            monetary_value: m,
        })
        .collect();
        let fit = fit_gamma_gamma(&data).expect("fit");
        let ll = |p: GammaGammaParams| data.iter().map(|s| p.log_likelihood(*s)).sum::<f64>();
        assert!((ll(fit.params) - fit.log_likelihood).abs() < 1e-9);
        for bump in [1.001, 0.999] {
            let GammaGammaParams { p, q, v } = fit.params;
            assert!(ll(GammaGammaParams { p: p * bump, q, v }) <= fit.log_likelihood + 1e-9);
            assert!(ll(GammaGammaParams { p, q: q * bump, v }) <= fit.log_likelihood + 1e-9);
            assert!(ll(GammaGammaParams { p, q, v: v * bump }) <= fit.log_likelihood + 1e-9);
        }
    }

    #[test]
    fn zero_frequency_spend_is_the_population_mean() {
        let gg = GammaGammaParams {
            p: 6.25,
            q: 3.74,
            v: 15.44,
        };
        assert!((gg.conditional_expected_spend(0, 0.0) - gg.population_mean()).abs() < 1e-12);
    }

    #[test]
    fn no_repeat_buyers_is_an_error() {
        let only_new = [Spend {
            frequency: 0,
            monetary_value: 0.0,
        }];
        assert!(matches!(
            fit_gamma_gamma(&only_new),
            Err(ValueError::NoCustomers)
        ));
    }
}
