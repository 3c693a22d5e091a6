//! Runs seeds without the `menagerie` binary: `cargo run --release -p menagerie-sim
//! --example seeds -- FIRST COUNT [VOTERS] [OBSERVERS] [BUG] [JOBS]`; `SIM_CALM=1` for no
//! faults, `SIM_STRICT=1` to fail on known open issues too, `SIM_VERBOSE=1` for every seed.

use menagerie_sim::{PlantedBug, SimOptions};

fn main() {
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .without_time()
            .with_ansi(false)
            .init();
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, d: u64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(d);
    let bug = args
        .get(4)
        .and_then(|b| PlantedBug::from_name(b))
        .unwrap_or(PlantedBug::None);
    let template = SimOptions {
        voters: num(2, 3) as usize,
        observers: num(3, 0) as usize,
        bug,
        faults: std::env::var_os("SIM_CALM").is_none(),
        strict: std::env::var_os("SIM_STRICT").is_some(),
        ..SimOptions::new(num(0, 0))
    };
    let verbose = std::env::var_os("SIM_VERBOSE").is_some();
    let started = std::time::Instant::now();
    let summary =
        menagerie_sim::batch::run_seeds(&template, num(1, 10), num(5, 1) as usize, &|r| {
            if verbose || !r.passed() {
                println!("{r}");
            }
        });
    eprintln!("{:.1} s", started.elapsed().as_secs_f64());
    println!(
        "{} seeds, {} violations",
        summary.seeds,
        summary.failed.len()
    );
}
