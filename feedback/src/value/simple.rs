//! Simple CLTV as small businesses compute it: average purchase value × purchase
//! frequency × lifespan × margin, its discounted (DCF) variant, and the CLTV:CAC ratio.
//!
//! ```
//! use feedback::value::simple::{SimpleCltv, Margin};
//! // Revenue 100,000 over 5,000 purchases by 1,000 customers a year, 3 years, margin 20%.
//! let cltv = SimpleCltv::from_totals(100_000.0, 5_000, 1_000, 3.0, Margin::new(0.20)?)?;
//! assert!((cltv.profit() - 60.0).abs() < 1e-9);
//! # Ok::<(), feedback::value::ValueError>(())
//! ```

use serde::Serialize;

use super::error::ValueError;

/// Gross margin as a fraction in [0, 1] (0.2 for 20%).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize)]
#[serde(transparent)]
pub struct Margin(f64);

impl Margin {
    /// 100%: values in revenue terms.
    pub const FULL: Self = Self(1.0);

    /// Validate a margin fraction.
    pub fn new(fraction: f64) -> Result<Self, ValueError> {
        if (0.0..=1.0).contains(&fraction) {
            Ok(Self(fraction))
        } else {
            Err(ValueError::invalid(
                "margin must be a fraction between 0 and 1",
            ))
        }
    }

    /// The fraction.
    pub fn get(self) -> f64 {
        self.0
    }
}

/// Discount rate per period as a fraction (0.1 for 10% a year), from 0 up to 1.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize)]
#[serde(transparent)]
pub struct DiscountRate(f64);

impl DiscountRate {
    /// 1% (per month, the `lifetimes` default for CLV).
    pub const ONE_PERCENT: Self = Self(0.01);

    /// Validate a discount rate.
    pub fn new(rate: f64) -> Result<Self, ValueError> {
        if (0.0..=1.0).contains(&rate) {
            Ok(Self(rate))
        } else {
            Err(ValueError::invalid("discount rate must be between 0 and 1"))
        }
    }

    /// The rate.
    pub fn get(self) -> f64 {
        self.0
    }
}

fn non_negative(value: f64, what: &str) -> Result<f64, ValueError> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(ValueError::invalid(format!(
            "{what} must be a number not below 0"
        )))
    }
}

/// Inputs of the simple CLTV formula; all validated.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SimpleCltv {
    /// Average value of one purchase.
    pub average_purchase_value: f64,
    /// Purchases per customer per year.
    pub purchases_per_year: f64,
    /// Expected customer lifespan in years.
    pub lifespan_years: f64,
    /// Gross margin.
    pub margin: Margin,
}

impl SimpleCltv {
    /// Validate the inputs.
    pub fn new(
        average_purchase_value: f64,
        purchases_per_year: f64,
        lifespan_years: f64,
        margin: Margin,
    ) -> Result<Self, ValueError> {
        Ok(Self {
            average_purchase_value: non_negative(average_purchase_value, "average purchase value")?,
            purchases_per_year: non_negative(purchases_per_year, "purchase frequency")?,
            lifespan_years: non_negative(lifespan_years, "lifespan")?,
            margin,
        })
    }

    /// From a year's totals: revenue / purchases is the average purchase value,
    /// purchases / customers the purchase frequency.
    pub fn from_totals(
        yearly_revenue: f64,
        yearly_purchases: u64,
        customers: u64,
        lifespan_years: f64,
        margin: Margin,
    ) -> Result<Self, ValueError> {
        if yearly_purchases == 0 || customers == 0 {
            return Err(ValueError::invalid(
                "purchases and customers must be above 0",
            ));
        }
        let revenue = non_negative(yearly_revenue, "revenue")?;
        Self::new(
            revenue / yearly_purchases as f64,
            yearly_purchases as f64 / customers as f64,
            lifespan_years,
            margin,
        )
    }

    /// Revenue per customer per year.
    pub fn yearly_revenue(&self) -> f64 {
        self.average_purchase_value * self.purchases_per_year
    }

    /// Lifetime revenue per customer (no margin, no discounting).
    pub fn revenue(&self) -> f64 {
        self.yearly_revenue() * self.lifespan_years
    }

    /// Lifetime gross profit per customer: revenue × margin.
    pub fn profit(&self) -> f64 {
        self.revenue() * self.margin.get()
    }

    /// Discounted lifetime profit: each year's profit discounted to today at the end of
    /// that year, Σ profit_year / (1 + d)^k; a part year at the end counts pro rata.
    pub fn discounted_profit(&self, rate: DiscountRate) -> f64 {
        let yearly = self.yearly_revenue() * self.margin.get();
        let whole = self.lifespan_years.floor();
        let mut total = 0.0;
        let mut k = 1.0;
        while k <= whole {
            total += yearly / (1.0 + rate.get()).powf(k);
            k += 1.0;
        }
        let part = self.lifespan_years - whole;
        if part > 0.0 {
            total += yearly * part / (1.0 + rate.get()).powf(whole + 1.0);
        }
        total
    }
}

/// How the CLTV:CAC ratio reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CacBand {
    /// Below 1: each customer costs more to win than they bring.
    LosingMoney,
    /// From 1 to 3: profitable, but thin once overheads are paid.
    Marginal,
    /// Above 3: healthy.
    Healthy,
}

/// The CLTV:CAC ratio and its band.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CacRatio {
    /// CLTV divided by customer acquisition cost.
    pub ratio: f64,
    /// Below 1, 1 to 3, or above 3.
    pub band: CacBand,
}

impl CacRatio {
    /// Compare a CLTV (profit terms) with the cost of acquiring a customer (> 0).
    pub fn new(cltv: f64, acquisition_cost: f64) -> Result<Self, ValueError> {
        let cltv = non_negative(cltv, "CLTV")?;
        if !(acquisition_cost.is_finite() && acquisition_cost > 0.0) {
            return Err(ValueError::invalid("acquisition cost must be above 0"));
        }
        let ratio = cltv / acquisition_cost;
        let band = if ratio < 1.0 {
            CacBand::LosingMoney
        } else if ratio <= 3.0 {
            CacBand::Marginal
        } else {
            CacBand::Healthy
        };
        Ok(Self { ratio, band })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn margin(f: f64) -> Margin {
        Margin::new(f).expect("valid margin")
    }

    #[test]
    fn worked_example_from_totals_gives_60() {
        let c = SimpleCltv::from_totals(100_000.0, 5_000, 1_000, 3.0, margin(0.2)).expect("valid");
        assert!((c.average_purchase_value - 20.0).abs() < 1e-12);
        assert!((c.purchases_per_year - 5.0).abs() < 1e-12);
        assert!((c.revenue() - 300.0).abs() < 1e-9);
        assert!((c.profit() - 60.0).abs() < 1e-9);
    }

    #[test]
    fn worked_example_subscription_box_gives_360() {
        let c = SimpleCltv::new(50.0, 12.0, 2.0, margin(0.3)).expect("valid");
        assert!((c.revenue() - 1_200.0).abs() < 1e-9);
        assert!((c.profit() - 360.0).abs() < 1e-9);
    }

    #[test]
    fn discounting_lowers_value_and_zero_rate_changes_nothing() {
        let c = SimpleCltv::new(50.0, 12.0, 2.0, margin(0.3)).expect("valid");
        let none = DiscountRate::new(0.0).expect("valid");
        assert!((c.discounted_profit(none) - 360.0).abs() < 1e-9);
        let ten = DiscountRate::new(0.1).expect("valid");
        // 180/1.1 + 180/1.21
        assert!((c.discounted_profit(ten) - (180.0 / 1.1 + 180.0 / 1.21)).abs() < 1e-9);
        let half = SimpleCltv::new(50.0, 12.0, 2.5, margin(0.3)).expect("valid");
        assert!((half.discounted_profit(none) - 450.0).abs() < 1e-9);
    }

    #[test]
    fn cac_bands() {
        let band = |cltv, cac| CacRatio::new(cltv, cac).expect("valid").band;
        assert_eq!(band(60.0, 80.0), CacBand::LosingMoney);
        assert_eq!(band(60.0, 60.0), CacBand::Marginal);
        assert_eq!(band(60.0, 20.0), CacBand::Marginal);
        assert_eq!(band(360.0, 100.0), CacBand::Healthy);
        assert!(CacRatio::new(60.0, 0.0).is_err());
    }

    #[test]
    fn invalid_inputs_are_rejected() {
        assert!(Margin::new(1.2).is_err());
        assert!(Margin::new(-0.1).is_err());
        assert!(DiscountRate::new(f64::NAN).is_err());
        assert!(SimpleCltv::new(-5.0, 1.0, 1.0, margin(0.1)).is_err());
        assert!(SimpleCltv::from_totals(100.0, 0, 10, 1.0, margin(0.1)).is_err());
    }
}
