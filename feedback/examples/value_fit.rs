//! The code path of `hark value fit` and `hark value score`, until the CLI is wired:
//!
//! ```text
//! value_fit --summary CSV                                      # FitReport JSON
//! value_fit --transactions CSV --calibration-end 1997-09-30 [--holdout-end 1998-06-30]
//! value_fit --summary CSV --score                              # one CustomerScore JSON line each
//! value_fit --cdnow ../shared/data/cdnow/CDNOW_sample.txt --calibration-end 1997-09-30 --holdout-end 1998-06-30
//! ```
//!
//! `--cdnow` reads Fader and Hardie's CDNOW file format instead of our CSV, to
//! reproduce the published figures.

use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use feedback::value::cli::{self, ScoreOptions};
use feedback::value::{Periods, TimeUnit, parse_date, read_cdnow, summarise};

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let score = args.iter().any(|a| a == "--score");
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if let Some(path) = flag(&args, "--summary") {
        let path = PathBuf::from(path);
        if score {
            let (_, scores) = cli::score_summary(&path, &HashMap::new(), &ScoreOptions::default())?;
            for s in scores {
                serde_json::to_writer(&mut out, &s)?;
                writeln!(out)?;
            }
        } else {
            serde_json::to_writer_pretty(&mut out, &cli::fit_summary(&path)?)?;
            writeln!(out)?;
        }
    } else if let Some(path) = flag(&args, "--transactions") {
        let path = PathBuf::from(path);
        let cal =
            parse_date(&flag(&args, "--calibration-end").ok_or("--calibration-end is required")?)?;
        let holdout = flag(&args, "--holdout-end")
            .map(|d| parse_date(&d))
            .transpose()?;
        if score {
            let (_, scores) =
                cli::score_transactions(&path, cal, &HashMap::new(), &ScoreOptions::default())?;
            for s in scores {
                serde_json::to_writer(&mut out, &s)?;
                writeln!(out)?;
            }
        } else {
            serde_json::to_writer_pretty(&mut out, &cli::fit_transactions(&path, cal, holdout)?)?;
            writeln!(out)?;
        }
    } else if let Some(path) = flag(&args, "--cdnow") {
        let cal =
            parse_date(&flag(&args, "--calibration-end").ok_or("--calibration-end is required")?)?;
        let holdout = flag(&args, "--holdout-end")
            .map(|d| parse_date(&d))
            .transpose()?;
        let periods = Periods::new(cal, holdout, TimeUnit::Week)?;
        let summaries = summarise(&read_cdnow(&PathBuf::from(path))?, &periods);
        let report = cli::fit(&summaries, holdout.map(|_| periods.holdout_length()))?;
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        return Err("usage: value_fit (--summary CSV | --transactions CSV --calibration-end DATE [--holdout-end DATE] | --cdnow FILE --calibration-end DATE [--holdout-end DATE]) [--score]".into());
    }
    out.flush()?;
    Ok(())
}
