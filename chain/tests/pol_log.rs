//! The log-tail evidence parser against logs written out from the documented layout.

mod common;

use chain::settlement::{LogError, logged_step};
use common::pol::{Log, commitment, entry, header, tagged};
use proptest::prelude::*;

fn c(i: u8) -> [u8; 32] {
    [i; 32]
}

fn log() -> Log {
    Log::new(3, 7, &[c(10), c(11), c(12), c(13)])
}

#[test]
fn every_step_reads_its_two_commitments() {
    let log = log();
    for t in 0..3 {
        let got = logged_step(&log.suffix(t), t as u64, &log.head()).unwrap();
        assert_eq!(got.commitment_before, c(10 + t as u8), "step {t}");
        assert_eq!(got.commitment_after, c(11 + t as u8), "step {t}");
        assert_eq!(got.header_origin, (t == 0).then_some((3, 7)));
    }
}

#[test]
fn wrong_claims_are_rejected() {
    let log = log();
    let head = log.head();
    // Evidence for step 1 claimed as step 2, and the other way round.
    assert!(matches!(
        logged_step(&log.suffix(1), 2, &head),
        Err(LogError::WrongStep { .. })
    ));
    assert!(logged_step(&log.suffix(2), 1, &head).is_err());
    // Another head.
    assert!(matches!(
        logged_step(&log.suffix(1), 1, &[0; 32]),
        Err(LogError::HeadMismatch { .. })
    ));
    // A tail cut short of the head, and a tail with an entry left out.
    let short = Log {
        header: log.header.clone(),
        entries: log.entries[..2].to_vec(),
    };
    assert!(matches!(
        logged_step(&short.suffix(0), 0, &head),
        Err(LogError::HeadMismatch { .. })
    ));
    let mut gap = log.entries[0].clone();
    gap.extend_from_slice(&log.entries[2]);
    assert!(matches!(
        logged_step(&gap, 1, &head),
        Err(LogError::BrokenLink(0))
    ));
    // The anchor alone.
    assert_eq!(logged_step(&log.header, 0, &head), Err(LogError::NoEntries));
    assert!(logged_step(&[], 0, &head).is_err());
}

#[test]
fn multi_step_entries_and_short_commitments_are_refused() {
    let h = header(0, 1, &commitment(c(1)));
    let two = entry(
        2,
        &[&[0], &[1]],
        &commitment(c(2)),
        tagged(b"zkfl-pol-header-v2", &h),
    );
    let head = tagged(b"zkfl-pol-entry-v2", &two);
    let tail = [h.clone(), two].concat();
    assert!(matches!(
        logged_step(&tail, 0, &head),
        Err(LogError::WrongStep { .. })
    ));
    let short = entry(1, &[&[0]], &c(2), tagged(b"zkfl-pol-header-v2", &h));
    let head = tagged(b"zkfl-pol-entry-v2", &short);
    assert_eq!(
        logged_step(&[h, short].concat(), 0, &head),
        Err(LogError::BadCommitment("entry"))
    );
}

#[test]
fn huge_length_prefixes_fail_without_panicking() {
    let log = log();
    let mut tail = log.suffix(1);
    // The anchor entry's first row count (after step u64, step count u32, lr u32).
    tail[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        logged_step(&tail, 1, &log.head()),
        Err(LogError::Truncated { .. })
    ));
    let mut tail = log.suffix(1);
    tail[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(logged_step(&tail, 1, &log.head()).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]
    #[test]
    fn any_bit_flip_or_cut_is_rejected(
        t in 0usize..3,
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let log = log();
        let mut tail = log.suffix(t);
        let i = at.index(tail.len());
        let cut = logged_step(&tail[..i], t as u64, &log.head());
        prop_assert!(cut.is_err());
        tail[i] ^= 1 << bit;
        prop_assert!(logged_step(&tail, t as u64, &log.head()).is_err());
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400), t in 0u64..3) {
        let _ = logged_step(&bytes, t, &[0; 32]);
    }
}
