//! Seeds that found real bugs (docs/simulation.md, "Findings"). Each passes now; with the fix
//! reverted it failed, at the simulator's version of the commit that added it. A change to
//! the simulator that moves the random draws changes what a seed does: the unit tests next to
//! each fix are the lasting regression tests, these seeds the end-to-end ones.

use menagerie_sim::{SimOptions, run_seed};

fn passes(seed: u64, voters: usize, observers: usize) {
    let report = run_seed(SimOptions {
        voters,
        observers,
        ..SimOptions::new(seed)
    });
    assert!(report.passed(), "{report}");
}

/// Finding 1: a leader's fast-forwarded proposals missing from its committed log
/// (DigestAtZxid at the first txn of an epoch).
#[test]
fn fast_forward_reaches_the_committed_log() {
    passes(0, 3, 0);
}

/// Finding 2: a learner leaving mid-DIFF-sync replayed out of order (DigestMismatch).
#[test]
fn a_sync_cut_short_replays_nothing_out_of_order() {
    passes(3, 3, 0);
}

/// Finding 3: a stale vote elected a member behind acknowledged writes, which then
/// truncated a learner holding them (UpToDateOnServe).
#[test]
fn a_leader_behind_a_learner_steps_down() {
    passes(57, 5, 1);
}

/// Finding 5: acks of a learner that came back and was truncated still counted
/// (CommitNeedsQuorum).
#[test]
fn acks_do_not_outlive_their_connection() {
    passes(40, 3, 0);
}
