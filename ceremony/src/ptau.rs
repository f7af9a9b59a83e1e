//! Powers of tau from a public ceremony: snarkjs's `.ptau` files (made by `snarkjs powersoftau`;
//! the Perpetual Powers of Tau and Hermez ceremonies publish theirs in this format), read into
//! an [`Accumulator`] that our own contributions and phase 2 build on.
//!
//! The format (iden3's binary file layout, version 1): the magic `ptau`, a version and a
//! section count, then sections of `(id: u32, length: u64, bytes)`, little-endian. Points are
//! affine, each coordinate 32 bytes of BN254's base field in Montgomery form (`R = 2^256`),
//! little-endian; G2 coordinates are `c0` then `c1`; all-zero bytes are the point at infinity.
//!
//! | id | section | points |
//! |----|---------|--------|
//! | 1 | header: field size 32, the base field's modulus, power `P`, ceremony power | |
//! | 2 | `[τ^i]₁` | `2^{P+1} − 1` |
//! | 3 | `[τ^i]₂` | `2^P` |
//! | 4, 5 | `[ατ^i]₁`, `[βτ^i]₁` | `2^P` each |
//! | 6 | `[β]₂` | 1 |
//! | 7 | contributions: a count, then per contribution `[τ]₁ [τ]₂ [α]₁ [β]₁ [β]₂`, its public key (6 G1 and 3 G2 points), a 216-byte partial hash, the 64-byte next challenge hash, a type and its parameters | |
//! | 12–15 | after `snarkjs powersoftau prepare phase2`: sections 2–5 in the Lagrange basis of every domain `2^p`, `p = 0..=P` (and `P + 1` for section 12), one after another | |
//!
//! The import checks what it reads as [`Accumulator::verify`] checks our own powers: every
//! point on the curve and in its subgroup, and the vectors consecutive powers of one τ with
//! consistent α and β, equal to the last contribution's. It does **not** replay the file's
//! contributions (their proofs of knowledge follow snarkjs's own hashing): run
//! `snarkjs powersoftau verify FILE`, which prints the same next challenge hash that
//! [`PtauOrigin::next_challenge`] records, or take the file from a ceremony whose transcript
//! you trust.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use ark_bn254::{Fq, Fq2, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_ec::short_weierstrass::{Affine, SWCurveConfig};
use ark_ff::{BigInt, PrimeField};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use rayon::prelude::*;

use crate::{Accumulator, CeremonyError, LagrangeBasis, MAX_POWER};

/// Where an imported accumulator's powers come from: a snarkjs `.ptau` file.
#[derive(Clone, Debug, PartialEq, Eq, CanonicalSerialize, CanonicalDeserialize)]
pub struct PtauOrigin {
    /// The file's power `P`: its ceremony served domains up to `2^P`.
    pub power: u32,
    /// How many contributions the file's ceremony had.
    pub contributions: u32,
    /// The BLAKE2b-512 next challenge hash after the file's last contribution, as
    /// `snarkjs powersoftau verify` prints it.
    pub next_challenge: [u8; 64],
    /// `[τ]₁` as the file left it: the start of this accumulator's own contributions.
    pub tau_g1: G1Affine,
    /// `[α]₁` as the file left it.
    pub alpha_g1: G1Affine,
    /// `[β]₁` as the file left it.
    pub beta_g1: G1Affine,
}

const G1_BYTES: usize = 64;
const G2_BYTES: usize = 128;
/// A contribution's fixed part: five points, its public key, the partial hash, the next
/// challenge hash, its type and the length of its parameters.
const CONTRIBUTION_BYTES: usize =
    3 * G1_BYTES + 2 * G2_BYTES + (6 * G1_BYTES + 3 * G2_BYTES) + 216 + 64 + 4 + 4;
/// More sections than any `.ptau` file has.
const MAX_SECTIONS: u32 = 64;

impl Accumulator {
    /// Reads the powers of tau for domains of `2^power` from a snarkjs `.ptau` file whose power
    /// is at least `power`, checked (see the module docs), with their Lagrange basis for
    /// `2^power` when the file was prepared for phase 2 (checked against the powers with
    /// [`LagrangeBasis::check`]). Only the points needed are read.
    ///
    /// Errors: [`CeremonyError::Power`] unless `1 ≤ power ≤ MAX_POWER`;
    /// [`CeremonyError::TooSmall`] if the file serves fewer points; [`CeremonyError::Io`] if
    /// it cannot be read; [`CeremonyError::NotA`] if it is not a `.ptau` file;
    /// [`CeremonyError::Rejected`] naming the first failed check (another curve, a section of
    /// the wrong size, a point off the curve, no contribution, powers that are not one τ's, a
    /// basis that is not the powers').
    pub fn from_ptau(
        path: &Path,
        power: u32,
    ) -> Result<(Self, Option<LagrangeBasis>), CeremonyError> {
        if !(1..=MAX_POWER).contains(&power) {
            return Err(CeremonyError::Power(power));
        }
        let mut file = PtauFile::open(path)?;
        let file_power = file.header()?;
        if file_power < power {
            return Err(CeremonyError::TooSmall {
                needed: 1 << power,
                available: 1usize.checked_shl(file_power).unwrap_or(usize::MAX),
            });
        }
        let (big, m) = (1usize << file_power, 1usize << power);
        file.expect_points(2, 2 * big - 1, G1_BYTES)?;
        file.expect_points(3, big, G2_BYTES)?;
        file.expect_points(4, big, G1_BYTES)?;
        file.expect_points(5, big, G1_BYTES)?;
        file.expect_points(6, 1, G2_BYTES)?;
        let mut powers = Self {
            tau_g1: file.g1(2, 0, 2 * m - 1)?,
            tau_g2: file.g2(3, 0, m)?,
            alpha_tau_g1: file.g1(4, 0, m)?,
            beta_tau_g1: file.g1(5, 0, m)?,
            beta_g2: file.g2(6, 0, 1)?[0],
            contributions: Vec::new(),
            imported: None,
        };
        let origin = file.origin(file_power)?;
        if (origin.tau_g1, origin.alpha_g1, origin.beta_g1)
            != (
                powers.tau_g1[1],
                powers.alpha_tau_g1[0],
                powers.beta_tau_g1[0],
            )
        {
            return Err(CeremonyError::Rejected(
                "the .ptau file's powers are not its last contribution's",
            ));
        }
        powers.imported = Some(origin);
        powers.verify()?;
        let basis = file.lagrange(&powers, file_power, power)?;
        Ok((powers, basis))
    }
}

/// An open `.ptau` file and where its sections are.
struct PtauFile {
    input: BufReader<File>,
    path: String,
    /// Section id → (offset, length).
    sections: HashMap<u32, (u64, u64)>,
}

impl PtauFile {
    fn open(path: &Path) -> Result<Self, CeremonyError> {
        let name = path.display().to_string();
        let io = |e: std::io::Error| CeremonyError::Io(name.clone(), e);
        let file = File::open(path).map_err(io)?;
        let size = file.metadata().map_err(io)?.len();
        let mut input = BufReader::new(file);
        let mut head = [0u8; 12];
        if input.read_exact(&mut head).is_err() || &head[..4] != b"ptau" {
            return Err(CeremonyError::NotA(".ptau file"));
        }
        let version = u32::from_le_bytes(head[4..8].try_into().expect("4 bytes"));
        let count = u32::from_le_bytes(head[8..12].try_into().expect("4 bytes"));
        if version != 1 {
            return Err(CeremonyError::Rejected(
                "a .ptau file of a version other than 1",
            ));
        }
        if count > MAX_SECTIONS {
            return Err(CeremonyError::Rejected(
                "a .ptau file with too many sections",
            ));
        }
        let mut sections = HashMap::new();
        let mut at = 12u64;
        for _ in 0..count {
            let mut entry = [0u8; 12];
            input.read_exact(&mut entry).map_err(|_| truncated())?;
            let id = u32::from_le_bytes(entry[..4].try_into().expect("4 bytes"));
            let len = u64::from_le_bytes(entry[4..].try_into().expect("8 bytes"));
            let start = at + 12;
            let end = start
                .checked_add(len)
                .filter(|&e| e <= size)
                .ok_or_else(truncated)?;
            if sections.insert(id, (start, len)).is_some() {
                return Err(CeremonyError::Rejected("a .ptau file with a section twice"));
            }
            input.seek(SeekFrom::Start(end)).map_err(io)?;
            at = end;
        }
        Ok(Self {
            input,
            path: name,
            sections,
        })
    }

    /// Reads `len` bytes of section `id` from `offset` within it.
    fn read(&mut self, id: u32, offset: u64, len: usize) -> Result<Vec<u8>, CeremonyError> {
        let &(start, size) = self.sections.get(&id).ok_or(CeremonyError::Rejected(
            "the .ptau file lacks a section of powers of tau",
        ))?;
        if offset + len as u64 > size {
            return Err(truncated());
        }
        let mut bytes = vec![0u8; len];
        let path = self.path.clone();
        let io = |e: std::io::Error| CeremonyError::Io(path.clone(), e);
        self.input
            .seek(SeekFrom::Start(start + offset))
            .map_err(io)?;
        self.input.read_exact(&mut bytes).map_err(io)?;
        Ok(bytes)
    }

    /// Checks the header (BN254's base field) and returns the file's power.
    fn header(&mut self) -> Result<u32, CeremonyError> {
        let bytes = self.read(1, 0, 44)?;
        let modulus = Fq::MODULUS.0.iter().flat_map(|l| l.to_le_bytes());
        let bn254 =
            bytes[..4] == 32u32.to_le_bytes()[..] && bytes[4..36].iter().copied().eq(modulus);
        if !bn254 || self.sections[&1].1 != 44 {
            return Err(CeremonyError::Rejected(
                "a .ptau file of another curve than BN254",
            ));
        }
        Ok(u32::from_le_bytes(
            bytes[36..40].try_into().expect("4 bytes"),
        ))
    }

    /// Section `id` holds exactly `count` points of `size` bytes.
    fn expect_points(&self, id: u32, count: usize, size: usize) -> Result<(), CeremonyError> {
        match self.sections.get(&id) {
            Some(&(_, len)) if len == (count * size) as u64 => Ok(()),
            _ => Err(CeremonyError::Rejected(
                "a .ptau section of powers of tau has the wrong size",
            )),
        }
    }

    fn g1(&mut self, id: u32, first: usize, count: usize) -> Result<Vec<G1Affine>, CeremonyError> {
        let bytes = self.read(id, (first * G1_BYTES) as u64, count * G1_BYTES)?;
        bytes.par_chunks(G1_BYTES).map(g1).collect()
    }

    fn g2(&mut self, id: u32, first: usize, count: usize) -> Result<Vec<G2Affine>, CeremonyError> {
        let bytes = self.read(id, (first * G2_BYTES) as u64, count * G2_BYTES)?;
        bytes.par_chunks(G2_BYTES).map(g2).collect()
    }

    /// The contributions section: their count, and the last one's points and hash.
    fn origin(&mut self, power: u32) -> Result<PtauOrigin, CeremonyError> {
        let len = self.sections.get(&7).map_or(0, |&(_, len)| len) as usize;
        let malformed = || CeremonyError::Rejected("the .ptau file's contributions are malformed");
        if len < 4 {
            return Err(malformed());
        }
        let bytes = self.read(7, 0, len)?;
        let count = u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes"));
        if count == 0 {
            return Err(CeremonyError::Rejected(
                "the .ptau file has no contribution: τ = 1, known to everyone",
            ));
        }
        let mut at = 4usize;
        let mut last = None;
        for _ in 0..count {
            let fixed = bytes
                .get(at..at + CONTRIBUTION_BYTES)
                .ok_or_else(malformed)?;
            let params = u32::from_le_bytes(fixed[CONTRIBUTION_BYTES - 4..].try_into().expect("4"));
            last = Some(fixed);
            at = (at + CONTRIBUTION_BYTES)
                .checked_add(params as usize)
                .filter(|&end| end <= bytes.len())
                .ok_or_else(malformed)?;
        }
        if at != bytes.len() {
            return Err(malformed());
        }
        let last = last.expect("count ≥ 1");
        let point = |k: usize| g1(&last[k..k + G1_BYTES]);
        let hash_at = 3 * G1_BYTES + 2 * G2_BYTES + 6 * G1_BYTES + 3 * G2_BYTES + 216;
        Ok(PtauOrigin {
            power,
            contributions: count,
            next_challenge: last[hash_at..hash_at + 64].try_into().expect("64 bytes"),
            tau_g1: point(0)?,
            alpha_g1: point(G1_BYTES + G2_BYTES)?,
            beta_g1: point(2 * G1_BYTES + G2_BYTES)?,
        })
    }

    /// The Lagrange basis for `2^power` from sections 12–15, checked against `powers`, if the
    /// file was prepared for phase 2.
    fn lagrange(
        &mut self,
        powers: &Accumulator,
        file_power: u32,
        power: u32,
    ) -> Result<Option<LagrangeBasis>, CeremonyError> {
        if !(12..=15).all(|id| self.sections.contains_key(&id)) {
            return Ok(None);
        }
        let all = (1usize << (file_power + 1)) - 1;
        self.expect_points(12, 2 * all + 1, G1_BYTES)?;
        self.expect_points(13, all, G2_BYTES)?;
        self.expect_points(14, all, G1_BYTES)?;
        self.expect_points(15, all, G1_BYTES)?;
        let (m, first) = (1usize << power, (1usize << power) - 1);
        let basis = LagrangeBasis::from_evaluations(
            powers,
            self.g1(12, first, m)?,
            self.g2(13, first, m)?,
            self.g1(14, first, m)?,
            self.g1(15, first, m)?,
        );
        basis.check(powers).map_err(|_| {
            CeremonyError::Rejected("the .ptau file's Lagrange basis is not its powers'")
        })?;
        Ok(Some(basis))
    }
}

fn truncated() -> CeremonyError {
    CeremonyError::Rejected("a .ptau file cut short")
}

/// A base field element from 32 bytes of Montgomery form, little-endian.
fn fq(bytes: &[u8]) -> Result<Fq, CeremonyError> {
    let limbs = std::array::from_fn(|i| {
        u64::from_le_bytes(bytes[8 * i..8 * i + 8].try_into().expect("8 bytes"))
    });
    let raw = BigInt::new(limbs);
    if raw < Fq::MODULUS {
        Ok(Fq::new_unchecked(raw))
    } else {
        Err(off_curve())
    }
}

fn g1(bytes: &[u8]) -> Result<G1Affine, CeremonyError> {
    if bytes.iter().all(|&b| b == 0) {
        return Ok(G1Affine::zero());
    }
    in_subgroup(G1Affine::new_unchecked(
        fq(&bytes[..32])?,
        fq(&bytes[32..64])?,
    ))
}

fn g2(bytes: &[u8]) -> Result<G2Affine, CeremonyError> {
    if bytes.iter().all(|&b| b == 0) {
        return Ok(G2Affine::zero());
    }
    let x = Fq2::new(fq(&bytes[..32])?, fq(&bytes[32..64])?);
    let y = Fq2::new(fq(&bytes[64..96])?, fq(&bytes[96..128])?);
    in_subgroup(G2Affine::new_unchecked(x, y))
}

/// `p` if it is on its curve and in the prime-order subgroup.
fn in_subgroup<C: SWCurveConfig>(p: Affine<C>) -> Result<Affine<C>, CeremonyError> {
    if p.is_on_curve() && p.is_in_correct_subgroup_assuming_on_curve() {
        Ok(p)
    } else {
        Err(off_curve())
    }
}

fn off_curve() -> CeremonyError {
    CeremonyError::Rejected("a .ptau point is not on the curve or not in its subgroup")
}
