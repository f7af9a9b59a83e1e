//! zkfl: verifiable federated learning. The command line (`zkfl`) is a thin layer over this
//! library:
//!
//! - [`task`]: the task driver, one federated-learning task in protocol order over a clock, a
//!   transport to the providers and a ledger client.
//! - [`proving`]: proofs of training for a run directory, off the ledger.
//! - [`valuation`]: the providers' contributions to a run, valued from its run directory.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod proving;
pub mod task;
pub mod valuation;
