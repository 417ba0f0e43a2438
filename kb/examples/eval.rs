//! Cross-validates the answer engine on labelled text, printing the report (and JSON with --json).
//!
//! cargo run --release -p kb --example eval -- FILE [--folds 5] [--unknown-share 0.2] [--seed 42] [--lang en] [--json]

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut file: Option<PathBuf> = None;
    let mut opts = kb::eval::EvalOptions::default();
    let mut json = false;
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--folds" => opts.folds = value()?.parse()?,
            "--unknown-share" => opts.unknown_share = value()?.parse()?,
            "--seed" => opts.seed = value()?.parse()?,
            "--lang" => opts.language = value()?.parse()?,
            "--json" => json = true,
            _ if file.is_none() => file = Some(PathBuf::from(&arg)),
            _ => return Err(format!("unexpected argument {arg}").into()),
        }
    }
    let file =
        file.ok_or("usage: eval FILE [--folds N] [--unknown-share X] [--seed N] [--lang en]")?;
    let examples = kb::eval::load_labelled(&file)?;
    let report = kb::eval::run(&examples, &opts);
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{report}");
    }
    Ok(())
}
