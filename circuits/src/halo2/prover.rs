//! Parameters, keys, proofs and verification for programs on the halo2 back end.
//!
//! - [`params`] reads the IPA parameters for `2^k` rows from a cache directory, or generates
//!   and stores them (generation is slow: minutes from `k = 16` up).
//! - [`keygen`] lays a program out and makes its proving key; [`verifier_key`] makes only the
//!   verifying side (the same for anyone holding the program, since halo2 keys are
//!   deterministic).
//! - [`prove`] refuses an assignment [`Program::check`] rejects, naming the op, and otherwise
//!   returns the proof bytes (Blake2b transcript).
//! - [`verify`] checks the proof against the public inputs in [`Program::public`] order. Wrong
//!   counts, garbage, truncated or over-long proofs are errors, never panics.

use std::fs;
use std::io::{BufReader, BufWriter, Write as _};
use std::path::{Path, PathBuf};

use halo2_proofs::pasta::EqAffine;
use halo2_proofs::plonk::Circuit as _;
use halo2_proofs::plonk::{
    ConstraintSystem, ProvingKey, SingleVerifier, VerifyingKey, create_proof, keygen_pk, keygen_vk,
    verify_proof,
};
use halo2_proofs::poly::commitment::Params;
use halo2_proofs::transcript::{Blake2bRead, Blake2bWrite, Challenge255};

use super::Halo2Error;
use super::circuit::ProgramCircuit;
use super::field::Fp;
use super::layout::Layout;
use crate::program::{Assignment, Program};

/// The IPA parameters over Vesta (scalar field Pasta `Fp`).
pub type Halo2Params = Params<EqAffine>;

/// The smallest `k` whose `2^k` rows hold the layout and halo2's blinding rows.
pub fn required_k(layout: &Layout) -> u32 {
    let mut cs = ConstraintSystem::default();
    ProgramCircuit::configure(&mut cs);
    let needed = layout.rows() + cs.blinding_factors() + 1;
    let needed = needed.max(cs.minimum_rows());
    needed.next_power_of_two().trailing_zeros()
}

/// Where the parameters for `k` are cached under `dir`.
pub fn params_path(dir: &Path, k: u32) -> PathBuf {
    dir.join(format!("halo2-ipa-vesta-k{k}.params"))
}

/// The parameters for `2^k` rows: read from `cache_dir` if stored there, else generated and
/// stored (written to a temporary file, then renamed, so readers never see half a file).
pub fn params(k: u32, cache_dir: &Path) -> Result<Halo2Params, Halo2Error> {
    let path = params_path(cache_dir, k);
    let io = |source| Halo2Error::ParamsIo {
        path: path.clone(),
        source,
    };
    if path.exists() {
        let file = fs::File::open(&path).map_err(io)?;
        let params = Halo2Params::read(&mut BufReader::new(file)).map_err(io)?;
        if params.k() != k {
            return Err(Halo2Error::ParamsMismatch {
                path,
                expected: k,
                found: params.k(),
            });
        }
        return Ok(params);
    }
    let params = Halo2Params::new(k);
    fs::create_dir_all(cache_dir).map_err(io)?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut out = BufWriter::new(fs::File::create(&tmp)?);
        params.write(&mut out)?;
        out.flush()?;
        fs::rename(&tmp, &path)
    };
    write().map_err(io)?;
    Ok(params)
}

/// What a verifier needs for one program: its verifying key and statement size.
#[derive(Debug)]
pub struct ProgramVerifier {
    vk: VerifyingKey<EqAffine>,
    num_public: usize,
    digest: [u8; 32],
}

impl ProgramVerifier {
    /// The digest of the program ([`Program::digest`]).
    pub fn digest(&self) -> [u8; 32] {
        self.digest
    }

    /// How many public inputs a proof is checked against.
    pub fn num_public(&self) -> usize {
        self.num_public
    }
}

/// A program's layout and proving key (which holds the verifying key).
#[derive(Debug)]
pub struct ProgramKeys {
    layout: Layout,
    pk: ProvingKey<EqAffine>,
    verifier: ProgramVerifier,
}

impl ProgramKeys {
    /// The verifying side of these keys.
    pub fn verifier(&self) -> &ProgramVerifier {
        &self.verifier
    }

    /// The program's layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }
}

fn backend(stage: &'static str) -> impl Fn(halo2_proofs::plonk::Error) -> Halo2Error {
    move |source| Halo2Error::Backend {
        stage,
        message: source.to_string(),
    }
}

fn check_size(params: &Halo2Params, layout: &Layout) -> Result<(), Halo2Error> {
    let needed = required_k(layout);
    if params.k() < needed {
        return Err(Halo2Error::ParamsTooSmall {
            needed,
            have: params.k(),
        });
    }
    Ok(())
}

fn make_verifier(
    params: &Halo2Params,
    layout: &Layout,
) -> Result<VerifyingKey<EqAffine>, Halo2Error> {
    check_size(params, layout)?;
    keygen_vk(params, &ProgramCircuit::new(layout, None)).map_err(backend("keygen_vk"))
}

/// The verifying key of a program (no proving key).
pub fn verifier_key(
    params: &Halo2Params,
    program: &Program,
) -> Result<ProgramVerifier, Halo2Error> {
    let layout = Layout::new(program)?;
    Ok(ProgramVerifier {
        vk: make_verifier(params, &layout)?,
        num_public: program.public.len(),
        digest: layout.digest(),
    })
}

/// Lays out a program and makes its proving and verifying keys.
pub fn keygen(params: &Halo2Params, program: &Program) -> Result<ProgramKeys, Halo2Error> {
    let layout = Layout::new(program)?;
    let vk = make_verifier(params, &layout)?;
    let pk = keygen_pk(params, vk.clone(), &ProgramCircuit::new(&layout, None))
        .map_err(backend("keygen_pk"))?;
    let verifier = ProgramVerifier {
        vk,
        num_public: program.public.len(),
        digest: layout.digest(),
    };
    Ok(ProgramKeys {
        layout,
        pk,
        verifier,
    })
}

/// Proves that `assignment` satisfies `program` (whose keys these are), with the blinding
/// randomness drawn from `rng`.
pub fn prove<R: rand_core::CryptoRng>(
    params: &Halo2Params,
    keys: &ProgramKeys,
    program: &Program,
    assignment: &Assignment<Fp>,
    rng: R,
) -> Result<Vec<u8>, Halo2Error> {
    if program.digest() != keys.layout.digest() {
        return Err(Halo2Error::WrongProgram);
    }
    program.check(assignment)?;
    let circuit = ProgramCircuit::new(&keys.layout, Some(assignment));
    let public = assignment.public_inputs(program);
    let mut transcript = Blake2bWrite::<_, EqAffine, Challenge255<_>>::init(Vec::new());
    create_proof(
        params,
        &keys.pk,
        &[circuit],
        &[&[&public]],
        rng,
        &mut transcript,
    )
    .map_err(backend("create_proof"))?;
    Ok(transcript.finalize())
}

/// Checks a proof against the public inputs (in [`Program::public`] order).
pub fn verify(
    params: &Halo2Params,
    verifier: &ProgramVerifier,
    public: &[Fp],
    proof: &[u8],
) -> Result<(), Halo2Error> {
    if public.len() != verifier.num_public {
        return Err(Halo2Error::PublicCount {
            expected: verifier.num_public,
            got: public.len(),
        });
    }
    let mut rest = proof;
    let verdict = {
        let mut transcript = Blake2bRead::<_, EqAffine, Challenge255<_>>::init(&mut rest);
        let strategy = SingleVerifier::new(params);
        verify_proof(
            params,
            &verifier.vk,
            strategy,
            &[&[public]],
            &mut transcript,
        )
    };
    verdict.map_err(|e| Halo2Error::Rejected {
        reason: e.to_string(),
    })?;
    if !rest.is_empty() {
        return Err(Halo2Error::Rejected {
            reason: format!("{} bytes after the proof", rest.len()),
        });
    }
    Ok(())
}
