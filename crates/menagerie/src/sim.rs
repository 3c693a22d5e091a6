//! `menagerie sim`: runs seeds of the deterministic simulator (`menagerie-sim`) and reports
//! violations; the last line is `N seeds, M violations`.

use menagerie_sim::{Features, PlantedBug, RunReport, SimOptions};

/// What `menagerie sim` was asked.
#[derive(clap::Args, Debug)]
pub struct SimArgs {
    /// Number of seeds to run.
    #[arg(long, default_value_t = 100)]
    pub seeds: u64,
    /// Voting members: 3 or 5.
    #[arg(long, default_value = "3", value_parser = ["3", "5"])]
    pub nodes: String,
    /// Observers.
    #[arg(long, default_value_t = 0)]
    pub observers: usize,
    /// The first seed.
    #[arg(long, default_value_t = 0)]
    pub first: u64,
    /// Plant a known mistake in every member (`list` prints their names).
    #[arg(long)]
    pub bug: Option<String>,
    /// Seeds run at the same time.
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// Print a line for every seed, not only for violations.
    #[arg(long, short)]
    pub verbose: bool,
    /// No faults: the protocol on a quiet network and disk.
    #[arg(long)]
    pub no_faults: bool,
    /// Known open issues (listed in docs/testing.md) count as violations too.
    #[arg(long)]
    pub strict: bool,
    /// Leaders start their zxid counter near its end, so that rollover epoch changes
    /// (moves to a new epoch without an election) happen.
    #[arg(long)]
    pub counter_near_end: bool,
    /// Optional core features: `seed` (each seed's own mix, the default), `none`, or a
    /// comma-separated list of `linearizable`, `hierarchy` (5 voters), `read-only`,
    /// `local-sessions`, `upgrading`, `reconfig` (not with `hierarchy` on 5 voters).
    #[arg(long, default_value = "seed")]
    pub features: String,
    /// Events a seed may handle before it fails with `EventBudget` (a storm or a loop
    /// would otherwise stall the batch).
    #[arg(long, default_value_t = menagerie_sim::MAX_EVENTS)]
    pub max_events: u64,
}

/// Runs the seeds; returns the number of violations.
pub fn run(args: &SimArgs) -> anyhow::Result<usize> {
    let bug = match args.bug.as_deref() {
        None => PlantedBug::None,
        Some("list") => {
            for b in PlantedBug::ALL {
                println!("{}", b.name());
            }
            return Ok(0);
        }
        Some(name) => PlantedBug::from_name(name).ok_or_else(|| {
            anyhow::anyhow!("unknown --bug {name:?}; `--bug list` prints the names")
        })?,
    };
    let template = SimOptions {
        voters: if args.nodes == "5" { 5 } else { 3 },
        observers: args.observers,
        bug,
        faults: !args.no_faults,
        strict: args.strict,
        counter_near_end: args.counter_near_end,
        features: Features::parse(&args.features)
            .map_err(|e| anyhow::anyhow!("--features: {e}"))?,
        max_events: args.max_events,
        ..SimOptions::new(args.first)
    };
    let verbose = args.verbose;
    let print = move |r: &RunReport| {
        if verbose || !r.passed() {
            println!("{r}");
        } else {
            for k in &r.known {
                println!(
                    "seed {}: known issue {}: {}",
                    r.opts.seed, k.invariant, k.detail
                );
            }
        }
    };
    let summary = menagerie_sim::batch::run_seeds(&template, args.seeds, args.jobs, &print);
    let violations = summary.failed.len();
    println!("{} seeds, {violations} violations", summary.seeds);
    Ok(violations)
}
