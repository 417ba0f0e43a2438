//! A small BFGS minimiser for the 3- and 4-parameter likelihoods.
//!
//! Why not `argmin`: the problems are tiny and smooth with analytic gradients, and a
//! hundred lines we can read beat a generic framework's build time and indirection.
//! The search runs over log-parameters, so every trial point is a valid model.

/// Where the minimiser stopped.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Minimum<const N: usize> {
    pub x: [f64; N],
    pub iterations: usize,
    pub converged: bool,
}

fn dot<const N: usize>(a: &[f64; N], b: &[f64; N]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Minimise `f`, which returns the value and gradient, from `x0`.
///
/// Stops when the largest gradient component is below `gtol`, or when neither the
/// value nor the point moves any more at machine precision.
pub(crate) fn bfgs<const N: usize>(
    mut f: impl FnMut(&[f64; N]) -> (f64, [f64; N]),
    x0: [f64; N],
    gtol: f64,
    max_iterations: usize,
) -> Minimum<N> {
    // Largest step in any log-parameter per iteration: a factor e^3; keeps the first
    // steps, taken before the curvature is known, from jumping into overflow.
    const MAX_STEP: f64 = 3.0;
    let mut x = x0;
    let (mut fx, mut g) = f(&x);
    let mut h = identity::<N>();
    let mut first = true;
    let mut stalled = 0;
    for iteration in 0..max_iterations {
        let gmax = g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if gmax < gtol {
            return Minimum {
                x,
                iterations: iteration,
                converged: true,
            };
        }
        let mut d = [0.0; N];
        for i in 0..N {
            d[i] = -h[i].iter().zip(&g).map(|(a, b)| a * b).sum::<f64>();
        }
        let mut slope = dot(&d, &g);
        if slope.is_nan() || slope >= 0.0 {
            // Lost positive definiteness: restart from steepest descent.
            h = identity::<N>();
            d = g.map(|v| -v);
            slope = dot(&d, &g);
        }
        let longest = d.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let mut step = if longest > MAX_STEP {
            MAX_STEP / longest
        } else {
            1.0
        };
        // Backtracking line search on the Armijo condition; non-finite values count as failures.
        let mut accepted = None;
        for _ in 0..60 {
            let mut xn = x;
            for i in 0..N {
                xn[i] += step * d[i];
            }
            let (fn_, gn) = f(&xn);
            let finite = fn_.is_finite() && gn.iter().all(|v| v.is_finite());
            let armijo = fn_ <= fx + 1e-4 * step * slope;
            // Near the optimum, decreases fall below f64 resolution of f (a sum over a
            // million rows) while the analytic gradient is still exact: there, accept a
            // step that keeps f level and shrinks the gradient.
            let level = (fn_ - fx).abs() <= 1e-13 * fx.abs().max(1.0);
            let gnmax = gn.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            if finite && (armijo || (level && gnmax < 0.5 * gmax)) {
                accepted = Some((xn, fn_, gn));
                break;
            }
            step *= 0.5;
        }
        let Some((xn, fn_, gn)) = accepted else {
            // No descent left at this precision: we are at the optimum as far as f64 can tell.
            let converged = gmax < gtol * 1e3;
            return Minimum {
                x,
                iterations: iteration,
                converged,
            };
        };
        let s: [f64; N] = std::array::from_fn(|i| xn[i] - x[i]);
        let y: [f64; N] = std::array::from_fn(|i| gn[i] - g[i]);
        let sy = dot(&s, &y);
        if sy > 1e-300 {
            if first {
                // Scale the initial inverse Hessian to the observed curvature (Nocedal & Wright 6.20).
                let scale = sy / dot(&y, &y);
                h = identity::<N>().map(|row| row.map(|v| v * scale));
                first = false;
            }
            h = bfgs_update(&h, &s, &y, sy);
        }
        let moved = (fx - fn_).abs() <= 1e-15 * fx.abs().max(1.0);
        stalled = if moved { stalled + 1 } else { 0 };
        x = xn;
        fx = fn_;
        g = gn;
        if stalled >= 3 {
            let gmax = g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            return Minimum {
                x,
                iterations: iteration + 1,
                converged: gmax < gtol * 1e3,
            };
        }
    }
    Minimum {
        x,
        iterations: max_iterations,
        converged: false,
    }
}

fn identity<const N: usize>() -> [[f64; N]; N] {
    std::array::from_fn(|i| std::array::from_fn(|j| if i == j { 1.0 } else { 0.0 }))
}

/// H⁺ = (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ with ρ = 1 / (yᵀ s).
fn bfgs_update<const N: usize>(
    h: &[[f64; N]; N],
    s: &[f64; N],
    y: &[f64; N],
    sy: f64,
) -> [[f64; N]; N] {
    let rho = 1.0 / sy;
    let hy: [f64; N] = std::array::from_fn(|i| dot(&h[i], y));
    let yhy = dot(y, &hy);
    std::array::from_fn(|i| {
        std::array::from_fn(|j| {
            h[i][j] - rho * (hy[i] * s[j] + s[i] * hy[j]) + (rho * rho * yhy + rho) * s[i] * s[j]
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_rosenbrock_minimum() {
        let rosen = |p: &[f64; 2]| {
            let (x, y) = (p[0], p[1]);
            let f = (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2);
            let g = [
                -2.0 * (1.0 - x) - 400.0 * x * (y - x * x),
                200.0 * (y - x * x),
            ];
            (f, g)
        };
        let m = bfgs(rosen, [-1.2, 1.0], 1e-10, 1000);
        assert!(m.converged);
        assert!(
            (m.x[0] - 1.0).abs() < 1e-6 && (m.x[1] - 1.0).abs() < 1e-6,
            "{:?}",
            m.x
        );
    }
}
