//! Write a summary CSV of synthetic customers drawn from the CDNOW parameters
//! (BG/NBD r 0.243, α 4.414, a 0.793, b 2.426; Gamma-Gamma p 6.25, q 3.74, v 15.44),
//! for the `hark value fit --summary` benchmark (`scripts/bench-value.sh`).
//!
//! ```text
//! cargo run --release -p feedback --example value_synth -- [N=1000000] [OUT=/tmp/value_synth_1000000.csv] [SEED=1]
//! ```

use std::io::{BufWriter, Write};

use feedback::value::CustomerId;
use feedback::value::synth::{Population, SplitMix64};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: u64 = args.first().map_or(Ok(1_000_000), |s| s.parse())?;
    let out = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| format!("/tmp/value_synth_{n}.csv"));
    let seed: u64 = args.get(2).map_or(Ok(1), |s| s.parse())?;

    let population = Population::cdnow();
    let mut rng = SplitMix64::new(seed);
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(&out)?);
    writeln!(w, "customer_id,frequency,recency,T,monetary_value")?;
    for i in 0..n {
        let c = population.draw(CustomerId::parse(&format!("c{i}"))?, &mut rng);
        // `{}` prints the shortest text that reads back as the same f64, in Rust and Python alike.
        writeln!(
            w,
            "{},{},{},{},{}",
            c.customer_id,
            c.frequency,
            c.recency,
            c.t,
            c.monetary_value.unwrap_or(0.0)
        )?;
    }
    w.flush()?;
    eprintln!("wrote {n} customers to {out}");
    Ok(())
}
