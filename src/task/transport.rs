//! How the owner talks to the providers: a request to several providers at once, and their
//! replies within a timeout.
//!
//! [`Transport`] is what the driver is written against; [`InProcess`] delivers requests to
//! provider objects in this process (in parallel), and can make chosen providers fall silent
//! from a chosen round on, as a provider whose machine went away would. The network transport
//! (libp2p) implements the same trait.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chain::SignedTransaction;
use chain::store::Hash;
use chain::task::LogPost;
use pol::LogEnds;
use rayon::prelude::*;

use super::clock::Clock;
use super::provider::Provider;
use super::setup::KeyParameters;

/// What the owner asks of a provider.
#[derive(Clone, Debug)]
pub enum Request {
    /// Join the task: stake, and register the commitment of your data; with `keys` (a task
    /// whose keys a ceremony makes), first check them and contribute to each, and hand back
    /// the signed transaction instead of submitting it.
    Join {
        /// The parameters of each ceremony key as the ledger's transcript stands.
        keys: Option<KeyParameters>,
    },
    /// Train round `round` from the global model `model`, post your log, send your update.
    Train {
        /// The round.
        round: u32,
        /// The global model it starts from (flat parameters).
        model: Arc<Vec<f32>>,
    },
    /// Prove the steps round `round`'s challenge drew for you, and submit the proofs.
    Prove {
        /// The round.
        round: u32,
    },
}

/// A provider's update for a round, with what lets the owner check it against the posted log.
#[derive(Clone, Debug)]
pub struct Update {
    /// The trained parameters.
    pub params: Vec<f32>,
    /// Rows it trained on (its FedAvg weight).
    pub samples: usize,
    /// Mean batch loss of its last local epoch.
    pub train_loss: f32,
    /// What it posted of its log.
    pub post: LogPost,
    /// The log's first record (the header) and last record (the entry holding the update's
    /// checkpoint), each with its path to the posted record root.
    pub ends: LogEnds,
}

/// A proof a provider submitted for a challenged step.
#[derive(Clone, Debug)]
pub struct SubmittedProof {
    /// The step.
    pub step: u64,
    /// The submission's transaction, or why there is none.
    pub tx: Result<Hash, String>,
    /// Seconds spent proving (0 for a proof kept from before).
    pub seconds: f64,
    /// Whether the proof was kept from an earlier run.
    pub reused: bool,
}

/// A provider's answer.
#[derive(Clone, Debug)]
pub enum Reply {
    /// It sent its registration: its transaction (`None`: it was registered already).
    Joined(Option<Hash>),
    /// It checked the ceremony parameters it was sent and contributed to each: the parameters
    /// after its contributions, and its contributions and registration as one signed
    /// transaction it has not submitted. The owner checks the parameters, gives it the turn
    /// (naming their transcript) and submits the transaction, so the ledger never moves to
    /// parameters the owner does not hold.
    Contributed {
        /// The parameters after its contributions.
        keys: KeyParameters,
        /// Its contributions and registration, signed.
        registration: Box<SignedTransaction>,
    },
    /// It trained and posted its log.
    Trained(Box<Update>),
    /// Its proofs of the challenged steps.
    Proved(Vec<SubmittedProof>),
    /// It could not do what was asked.
    Failed(String),
}

/// Delivers the owner's requests.
pub trait Transport: Send + Sync {
    /// Sends `request` to each provider of `to` and waits up to `timeout` for the replies: one
    /// per recipient, in order, `None` where none came in time.
    fn broadcast(&self, to: &[usize], request: &Request, timeout: Duration) -> Vec<Option<Reply>>;
}

/// Providers in this process.
pub struct InProcess {
    providers: BTreeMap<usize, Mutex<Provider>>,
    silent_from: BTreeMap<usize, u32>,
    clock: Arc<dyn Clock>,
}

impl InProcess {
    /// Delivers to `providers` (by client index), waiting on `clock`.
    pub fn new(providers: Vec<Provider>, clock: Arc<dyn Clock>) -> InProcess {
        InProcess {
            providers: providers
                .into_iter()
                .map(|p| (p.client(), Mutex::new(p)))
                .collect(),
            silent_from: BTreeMap::new(),
            clock,
        }
    }

    /// Makes provider `client` stop answering from round `round` on (requests of earlier
    /// rounds are answered; joining counts as round 0).
    pub fn silence_from(mut self, client: usize, round: u32) -> InProcess {
        self.silent_from.insert(client, round);
        self
    }

    fn answers(&self, client: usize, request: &Request) -> bool {
        let round = match request {
            Request::Join { .. } => 0,
            Request::Train { round, .. } | Request::Prove { round } => *round,
        };
        self.silent_from
            .get(&client)
            .is_none_or(|from| round < *from)
    }

    /// Provider `client`'s reply to `request`; `None` if it is silent by then (or there is
    /// no such provider).
    pub fn answer(&self, client: usize, request: &Request) -> Option<Reply> {
        if !self.answers(client, request) {
            return None;
        }
        self.with_provider(client, |p| p.handle(request))
    }

    /// Runs `f` on provider `client`.
    pub fn with_provider<R>(&self, client: usize, f: impl FnOnce(&mut Provider) -> R) -> Option<R> {
        let provider = self.providers.get(&client)?;
        Some(f(&mut provider.lock().unwrap_or_else(|e| e.into_inner())))
    }
}

impl Transport for InProcess {
    fn broadcast(&self, to: &[usize], request: &Request, timeout: Duration) -> Vec<Option<Reply>> {
        let replies: Vec<Option<Reply>> = to
            .par_iter()
            .map(|&client| self.answer(client, request))
            .collect();
        if replies.iter().any(Option::is_none) {
            self.clock.wait(timeout);
        }
        replies
    }
}
