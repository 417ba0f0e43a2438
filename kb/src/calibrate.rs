//! Calibration: from raw ranking scores to the probability that the top article is right.
//!
//! At every rebuild the engine holds out folds of the knowledge base's own example questions (and,
//! in each fold, a fifth of the articles entirely, so it also sees questions it cannot answer),
//! ranks them with a model trained without them, and fits two small logistic regressions on the
//! top score and the margin to the runner-up: P(top article is right) and P(the right article is
//! among the top three). The outcome thresholds are probabilities, so they mean the same thing on
//! every knowledge base, whatever its raw score scale.

/// What one held-out question looked like to a model that had not seen it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HeldOut {
    pub signal: Signal,
    /// The top article is the right one (always false for questions of dropped articles).
    pub top1: bool,
    /// The right article is among the top three.
    pub top3: bool,
}

/// The ranking's shape for one query: the score floor and the margin.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Signal {
    pub top: f32,
    pub margin: f32,
}

impl Signal {
    fn inputs(self) -> [f64; 3] {
        [1.0, f64::from(self.top), f64::from(self.margin)]
    }
}

/// Weight of the calibration prior, in pseudo-observations' worth of curvature: with 36 held-out
/// titles the prior dominates, with 2,000 held-out questions the data do.
const PRIOR_STRENGTH: f64 = 5.0;

/// `sigmoid(w · [1, top, margin])`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Logistic {
    w: [f64; 3],
}

impl Logistic {
    pub(crate) fn prob(&self, s: Signal) -> f32 {
        let x = s.inputs();
        let z: f64 = self.w.iter().zip(x).map(|(w, x)| w * x).sum();
        (1.0 / (1.0 + (-z).exp())) as f32
    }

    /// Maximum a posteriori fit by Newton's method, with a Gaussian prior centred on `prior`:
    /// a small knowledge base (a few dozen held-out questions) stays close to the prior, a large
    /// one is ruled by its own data. Returns None when one of the two classes is missing: then
    /// there is nothing to calibrate against.
    pub(crate) fn fit(data: &[(Signal, bool)], prior: Logistic) -> Option<Logistic> {
        let positives = data.iter().filter(|(_, y)| *y).count();
        if positives == 0 || positives == data.len() {
            return None;
        }
        let mut w = prior.w;
        for _ in 0..30 {
            let mut grad = [0.0_f64; 3];
            let mut hess = [[0.0_f64; 3]; 3];
            for (s, y) in data {
                let x = s.inputs();
                let z: f64 = w.iter().zip(x).map(|(w, x)| w * x).sum();
                let p = 1.0 / (1.0 + (-z).exp());
                let r = p - if *y { 1.0 } else { 0.0 };
                let v = (p * (1.0 - p)).max(1e-9);
                for i in 0..3 {
                    grad[i] += r * x[i];
                    for j in 0..3 {
                        hess[i][j] += v * x[i] * x[j];
                    }
                }
            }
            for i in 0..3 {
                grad[i] += PRIOR_STRENGTH * (w[i] - prior.w[i]);
                hess[i][i] += PRIOR_STRENGTH;
            }
            let step = solve3(hess, grad)?;
            // Damped Newton: halve the step until the penalised loss does not get worse, so a
            // prior far from the data cannot make the iteration overshoot and diverge.
            let before = objective(data, &w, &prior.w);
            let mut scale = 1.0;
            let mut next = w;
            for _ in 0..30 {
                for i in 0..3 {
                    next[i] = w[i] - scale * step[i];
                }
                if objective(data, &next, &prior.w) <= before {
                    break;
                }
                scale *= 0.5;
            }
            let change = (0..3).map(|i| (next[i] - w[i]).abs()).fold(0.0, f64::max);
            w = next;
            if change < 1e-7 {
                break;
            }
        }
        w.iter().all(|v| v.is_finite()).then_some(Logistic { w })
    }
}

/// Negative log-likelihood plus the prior's penalty.
fn objective(data: &[(Signal, bool)], w: &[f64; 3], prior: &[f64; 3]) -> f64 {
    let mut loss = 0.0;
    for (s, y) in data {
        let z: f64 = w.iter().zip(s.inputs()).map(|(w, x)| w * x).sum();
        // log(1 + e^-z) for positives, log(1 + e^z) for negatives, computed stably.
        let m = if *y { -z } else { z };
        loss += m.max(0.0) + (-m.abs()).exp().ln_1p();
    }
    let penalty: f64 = w.iter().zip(prior).map(|(a, b)| (a - b) * (a - b)).sum();
    loss + 0.5 * PRIOR_STRENGTH * penalty
}

// Index loops read like the textbook elimination they implement.
#[allow(clippy::needless_range_loop)]
/// Solves a 3×3 system by Gaussian elimination with partial pivoting.
fn solve3(mut a: [[f64; 3]; 3], mut b: [f64; 3]) -> Option<[f64; 3]> {
    for col in 0..3 {
        let pivot = (col..3).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        for row in col + 1..3 {
            let f = a[row][col] / a[col][col];
            for k in col..3 {
                a[row][k] -= f * a[col][k];
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = [0.0; 3];
    for row in (0..3).rev() {
        let mut s = b[row];
        for k in row + 1..3 {
            s -= a[row][k] * x[k];
        }
        x[row] = s / a[row][row];
    }
    Some(x)
}

/// The thresholds are probabilities of being right. Answering wrongly costs more trust than
/// handing over, so the bot answers only when it is more likely right than not by a clear margin;
/// it offers choices when the right article is very likely among the top three.
pub(crate) const ANSWER_AT: f32 = 0.65;
pub(crate) const CLARIFY_AT: f32 = 0.6;

/// Fitted (or fallback) mappings from a query's [`Signal`] to probabilities.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Calibration {
    pub answer: Logistic,
    pub top3: Logistic,
    /// False when the knowledge base was too small to calibrate itself (fallback curves).
    pub fitted: bool,
}

impl Calibration {
    /// The prior, and the mapping used when a knowledge base is too small to calibrate itself:
    /// close to what knowledge bases with a few hundred to a few thousand example questions fit
    /// for themselves (the 44-article demo shop and banking77), rounded towards caution.
    pub(crate) fn fallback() -> Self {
        Calibration {
            answer: Logistic {
                w: [-3.5, 4.5, 2.0],
            },
            top3: Logistic {
                w: [-4.0, 6.0, 0.5],
            },
            fitted: false,
        }
    }

    pub(crate) fn fit(held_out: &[HeldOut]) -> Self {
        let fallback = Self::fallback();
        // Fewer than this and a fitted curve is noise; the fallback is the safer guess.
        if held_out.len() < 20 {
            return fallback;
        }
        let top1: Vec<(Signal, bool)> = held_out.iter().map(|h| (h.signal, h.top1)).collect();
        let top3: Vec<(Signal, bool)> = held_out.iter().map(|h| (h.signal, h.top3)).collect();
        match (
            Logistic::fit(&top1, fallback.answer),
            Logistic::fit(&top3, fallback.top3),
        ) {
            (Some(answer), Some(top3)) => Calibration {
                answer,
                top3,
                fitted: true,
            },
            (Some(answer), None) => Calibration {
                answer,
                top3: fallback.top3,
                fitted: true,
            },
            _ => fallback,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logistic_learns_that_higher_scores_are_more_often_right() {
        let mut data = Vec::new();
        for i in 0..200 {
            let top = i as f32 / 100.0 - 1.0;
            let right = (i * 7919) % 200 < i;
            data.push((Signal { top, margin: 0.0 }, right));
        }
        let flat = Logistic { w: [0.0; 3] };
        let fit = Logistic::fit(&data, flat).expect("both classes present");
        let low = fit.prob(Signal {
            top: -0.8,
            margin: 0.0,
        });
        let high = fit.prob(Signal {
            top: 0.8,
            margin: 0.0,
        });
        assert!(low < 0.3 && high > 0.7, "low {low} high {high}");
        assert!(Logistic::fit(&data[..1], flat).is_none());
    }
}
