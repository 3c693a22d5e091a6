//! Runs of the simulator itself: the same seed gives the same run; runs without faults and
//! with faults pass and check something; 5 voters with observers work.

use menagerie_sim::{RunReport, SimOptions, run_seed};

fn run(opts: SimOptions) -> RunReport {
    let report = run_seed(opts);
    assert!(report.passed(), "{report}");
    report
}

#[test]
fn a_seed_replays_bit_for_bit() {
    for seed in [3, 11] {
        let a = run_seed(SimOptions::new(seed));
        let b = run_seed(SimOptions::new(seed));
        assert_eq!(a.trace_hash, b.trace_hash, "seed {seed}");
        assert_eq!((a.events, a.sim_ms), (b.events, b.sim_ms), "seed {seed}");
        assert_eq!(a.coverage, b.coverage, "seed {seed}");
    }
    let c = run_seed(SimOptions::new(4));
    let d = run_seed(SimOptions::new(5));
    assert_ne!(
        c.trace_hash, d.trace_hash,
        "different seeds, different runs"
    );
}

#[test]
fn a_quiet_run_checks_every_kind_of_property() {
    let report = run(SimOptions {
        faults: false,
        ..SimOptions::new(1)
    });
    let c = report.coverage;
    assert!(c.committed > 100, "{c:?}");
    assert!(c.writes > 100 && c.reads > 100 && c.syncs > 10, "{c:?}");
    assert!(c.events > 10, "{c:?}");
}

#[test]
fn runs_with_faults_pass() {
    let mut expiries = 0;
    for seed in 0..4 {
        let report = run(SimOptions::new(seed));
        assert!(report.coverage.writes > 0, "{report}");
        expiries += report.coverage.expiries;
    }
    assert!(expiries > 0, "some session expired");
}

#[test]
fn five_voters_and_two_observers() {
    for seed in 0..2 {
        run(SimOptions {
            voters: 5,
            observers: 2,
            ..SimOptions::new(seed)
        });
    }
}

#[test]
fn reconfiguration_seeds_commit_reconfigurations_and_pass() {
    let features = menagerie_sim::Features {
        reconfig: true,
        ..Default::default()
    };
    let mut reconfigs = 0;
    // 1507: a two-voter configuration flapped through the calm phase on delay spikes.
    for seed in [0, 1, 1507] {
        let report = run(SimOptions {
            features: Some(features),
            ..SimOptions::new(seed)
        });
        reconfigs += report.coverage.reconfigs;
    }
    assert!(reconfigs > 5, "reconfigurations committed: {reconfigs}");
}

/// A seed that runs past its event budget (a storm, a loop) stops with a violation that
/// names it, at once, and says how to replay it.
#[test]
fn a_run_past_its_event_budget_fails_fast() {
    let report = run_seed(SimOptions {
        max_events: 5_000,
        ..SimOptions::new(2)
    });
    let v = report.violation.as_ref().expect("a violation");
    assert_eq!(v.invariant, "EventBudget", "{report}");
    assert_eq!(report.events, 5_000);
    assert!(
        report.opts.replay_command().contains("--max-events 5000"),
        "{report}"
    );
}
