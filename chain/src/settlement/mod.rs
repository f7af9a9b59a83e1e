//! Paying data providers for verified training: the task's native functions.
//!
//! # Protocol (record layout and rules in [`crate::task`])
//! 1. **Creation.** The owner fixes the reward rule, the challenge parameters
//!    ([`crate::task::ChallengeParams`]: steps per audited provider-round `q`, the audit rate,
//!    the deadline in blocks) and the verifier config ([`config::ProofConfig`]: Groth16, the
//!    training-step shape with its ε, the program digest, the verifying key, the allowed
//!    learning rates) at `/tasks/<id>/config`, and funds the escrow.
//! 2. **Joining** (status `open`; the config is frozen from the first registration or key
//!    contribution on). When a key config names a `ceremony`, the owner and then each provider
//!    contribute a δ to that key first (`_acceptKeyContribution`, [`setup`]), and the
//!    registration rule requires it. A
//!    provider stakes and registers `/tasks/<id>/providers/<addr>` =
//!    `{"client": n, "data_root": hex, "samples": n}` (its training rows: its FedAvg weight),
//!    claiming the client index at `clients/<n>` and the data root at `data_roots/<root>` (each
//!    once per task, so no one else can register the same root and be paid for a proof about
//!    it).
//! 3. **Rounds** (status `running`). The owner starts round `r` by posting the
//!    global model's digest at `rounds/<r>/model`; each provider trains and posts its log at
//!    `rounds/<r>/logs/<addr>` (head, record root, step count, update digest); the owner
//!    aggregates and seals the round with `rounds/<r>/aggregate`, and `_sealRound`
//!    ([`challenge::seal_round`]) records the block. Round `r + 1` can start only then.
//! 4. **Challenge.** Once the block after the seal exists, anyone writes `rounds/<r>/draw`;
//!    `_drawChallenge` ([`challenge::draw_challenge`]) draws from that block's hash which
//!    steps each provider must prove ([`pol::ChallengeRule`]) and by which block.
//! 5. **Proofs** (status `running`). A provider writes `/tasks/<id>/proofs/<proof id>` =
//!    `{"proof": hex(ProofFile::encode()), "evidence": hex(pol::StepEvidence::encode())}`.
//!    `_verifyTrainingProof` ([`verify_proof::Groth16TaskVerifier`]) checks, in order: the file
//!    and the evidence decode; the task is running and its verifier config is valid; the
//!    writer is registered; back end, relation, shape and program digest are the task's;
//!    `origin.client` is the writer's client index; the step is one the round's challenge drew
//!    for the writer, not yet proven, and the challenge is not past due; `origin.log_head` is
//!    the head the writer posted for the round; the evidence opens the records around the step
//!    against the posted record root (any step of any round: `O(log n)`); the statement was
//!    not proven before in the task; the proof verifies under the task's key; and its public
//!    inputs are what was posted ([`verifier::check_binding`]: the logged commitments, the
//!    writer's data root, the logged learning rate, the task's ε), with a learning rate the
//!    task allows. Then it replaces the submission with `{"provider", "round", "step",
//!    "verified": true}`, marks `rounds/<r>/proven/<addr>/<step>` and
//!    `statements/<sha256 of the inputs>` with the proof id, and adds 1 to `verified/<addr>`.
//!    Any failure is a [`crate::FunctionError`] with a one-line reason: the transaction's op
//!    rolls back and only its fee and nonce remain ([`crate::execute`]).
//! 6. **Contributions** (`shapley` tasks, status `running`). The owner seals each round with
//!    its `valuation` (the commitments of the exact fixed-point FedAvg aggregate and of the
//!    round's utility table) and, once the challenge is drawn, writes its proof of the round's
//!    Shapley values at `rounds/<r>/contribution`; `_verifyContributionProof`
//!    ([`contribution::verify`]) assembles the statement from the ledger alone (the players'
//!    logs opened at both ends, their registered sample counts, the task's validation root,
//!    the valuation, the coalitions drawn from the challenge's seed) and verifies it under the
//!    task's contribution key ([`config::ContributionConfig`]).
//! 7. **Settlement.** The owner sets `status` to `closed`; `_settle` ([`payout::settle`]), in
//!    the same transaction, refuses while a challenge is open or a round with logs has none;
//!    credits each provider with every round in which it posted a log and proved each step
//!    drawn for it; slashes every provider that left a challenge unanswered past its due
//!    block (its stake moves to the escrow, `slashed/<addr>`, and it is credited nothing);
//!    splits the whole escrow by the reward rule ([`payout::split`]) among credited providers:
//!    `even` equal shares, `proportional` by credited rounds, `shapley` by each provider's
//!    proven task value `max(Σ_t φ_t, 0)` (rounds below the task's `min_gain` counted only for
//!    harm, `contribution::payout`; values recorded at `values`), each rounded down; a
//!    `shapley` task with a round left unproven pays `proportional` instead, and `paid_by`
//!    says which rule paid and why; the remainder
//!    (all of it when nobody is credited) goes back to the owner. It records `credited/<addr>`,
//!    `payouts/<addr>` and `refund`, pays through [`crate::functions::builtin::escrow_payout`]
//!    and returns every other stake.
//!
//! # What is not checked on the ledger
//! That the posted log belongs to an honest run beyond the challenged steps (that is what the
//! challenge samples; its detection probability is in [`pol::challenge`]), that the posted
//! head and record root describe the same log (the owner checks the log's ends when it takes a
//! provider's update), and that the key was made for the program digest (the owner's promise,
//! checkable off the ledger).

pub mod challenge;
pub mod config;
pub mod contribution;
pub mod payout;
pub mod setup;
pub mod verify_proof;

pub use config::{ContributionConfig, ProofConfig, ProofConfigError};
pub use payout::{Split, settle, split};
pub use setup::TaskKey;
pub use verify_proof::Groth16TaskVerifier;
