//! The three special functions the models need, for positive real arguments only.
//!
//! Why not a crate: `statrs` (maintained, 0.19) has `ln_gamma` and `digamma` but no
//! Gauss hypergeometric function, and its default features pull in `nalgebra`, a long
//! build on our shared 2-core machines; `special` has no `hyp2f1` either. These are
//! short, standard algorithms, tested below against reference values to 1e-13.

use std::f64::consts::PI;

/// Lanczos coefficients (g = 7, n = 9), as in Numerical Recipes and Boost's `lanczos9`.
const LANCZOS_G: f64 = 7.0;
const LANCZOS: [f64; 9] = [
    0.999_999_999_999_809_9,
    676.520_368_121_885_1,
    -1_259.139_216_722_402_8,
    771.323_428_777_653_1,
    -176.615_029_162_140_6,
    12.507_343_278_686_905,
    -0.138_571_095_265_720_12,
    9.984_369_578_019_572e-6,
    1.505_632_735_149_311_6e-7,
];

/// ln Γ(x) for x > 0 (NaN otherwise).
pub fn ln_gamma(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return f64::NAN;
    }
    if x < 0.5 {
        // Reflection keeps the Lanczos sum in its accurate range.
        return (PI / (PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    if x > 20.0 {
        // Stirling series: accurate to full precision here and cheaper.
        let inv = 1.0 / x;
        let inv2 = inv * inv;
        let series = inv
            * (1.0 / 12.0
                - inv2
                    * (1.0 / 360.0
                        - inv2 * (1.0 / 1260.0 - inv2 * (1.0 / 1680.0 - inv2 / 1188.0))));
        return (x - 0.5) * x.ln() - x + 0.5 * (2.0 * PI).ln() + series;
    }
    let x = x - 1.0;
    let mut sum = LANCZOS[0];
    for (i, c) in LANCZOS.iter().enumerate().skip(1) {
        sum += c / (x + i as f64);
    }
    let t = x + LANCZOS_G + 0.5;
    0.5 * (2.0 * PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// The digamma function ψ(x) = d/dx ln Γ(x), for x > 0 (NaN otherwise).
pub fn digamma(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return f64::NAN;
    }
    let mut x = x;
    let mut acc = 0.0;
    // Recurrence ψ(x) = ψ(x + 1) − 1/x up to where the asymptotic series is exact to 1e-16.
    while x < 15.0 {
        acc -= 1.0 / x;
        x += 1.0;
    }
    let inv2 = 1.0 / (x * x);
    let series = inv2
        * (1.0 / 12.0
            - inv2 * (1.0 / 120.0 - inv2 * (1.0 / 252.0 - inv2 * (1.0 / 240.0 - inv2 / 132.0))));
    acc + x.ln() - 0.5 / x - series
}

/// Gauss hypergeometric ₂F₁(a, b; c; z) by its power series, for 0 ≤ z < 1 and c not
/// 0, −1, −2, …
///
/// The callers pass the Euler-transformed form whose parameters do not grow with a
/// customer's purchase count, so the series converges in a few dozen terms for the
/// horizons we use (z ≈ 0.5) and in a few thousand as z nears 1.
pub fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> f64 {
    if !(0.0..1.0).contains(&z) || (c <= 0.0 && c.fract() == 0.0) {
        return f64::NAN;
    }
    let mut term = 1.0;
    let mut sum = 1.0;
    let mut k = 0.0;
    // Enough for z = 0.9999 to reach the tolerance; a hard cap keeps it bounded.
    for _ in 0..1_000_000 {
        term *= (a + k) * (b + k) / ((c + k) * (k + 1.0)) * z;
        sum += term;
        k += 1.0;
        if term.abs() <= 1e-17 * sum.abs() || term == 0.0 {
            break;
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1.0)
    }

    #[test]
    fn ln_gamma_matches_reference_values() {
        // Γ(n) = (n−1)!, Γ(1/2) = √π, and values from Abramowitz & Stegun / mpmath.
        assert!(close(ln_gamma(1.0), 0.0, 1e-14));
        assert!(close(ln_gamma(2.0), 0.0, 1e-14));
        assert!(close(ln_gamma(5.0), 24f64.ln(), 1e-14));
        assert!(close(ln_gamma(0.5), PI.sqrt().ln(), 1e-14));
        assert!(close(ln_gamma(0.243), 1.318_043_584_699_669_9, 1e-13));
        assert!(close(ln_gamma(30.5), 72.953_471_184_169_4, 1e-13));
        assert!(close(ln_gamma(20.0), 39.339_884_187_199_495, 1e-13));
        assert!(close(ln_gamma(1e6), 12_815_504.569_147_611, 1e-14));
        assert!(ln_gamma(0.0).is_nan());
    }

    #[test]
    fn digamma_matches_reference_values() {
        let euler = 0.577_215_664_901_532_9;
        assert!(close(digamma(1.0), -euler, 1e-14));
        assert!(close(digamma(0.5), -euler - 2.0 * 2f64.ln(), 1e-14));
        assert!(close(digamma(0.243), -4.351_093_864_423_211, 1e-13));
        assert!(close(digamma(100.0), 4.600_161_852_738_088, 1e-14));
        // ψ is the derivative of ln Γ.
        let h = 1e-5;
        let x = 3.7;
        let numeric = (ln_gamma(x + h) - ln_gamma(x - h)) / (2.0 * h);
        assert!(close(digamma(x), numeric, 1e-9));
    }

    #[test]
    fn hyp2f1_matches_closed_forms() {
        // ₂F₁(1, 1; 2; z) = −ln(1 − z)/z.
        for z in [0.1f64, 0.5, 0.9, 0.99] {
            let want = -(1.0 - z).ln() / z;
            assert!(close(hyp2f1(1.0, 1.0, 2.0, z), want, 1e-12), "z={z}");
        }
        // ₂F₁(a, b; b; z) = (1 − z)^−a.
        assert!(close(hyp2f1(0.3, 2.5, 2.5, 0.7), 0.3f64.powf(-0.3), 1e-13));
        assert!(hyp2f1(1.0, 1.0, 2.0, 1.0).is_nan());
    }
}
