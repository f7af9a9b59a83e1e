//! Federated learning on burn: real data sets, non-IID partitions, models, local SGD, server
//! strategies, and proof-of-learning logs that let a verifier replay sampled training steps.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod attack;
pub mod backend;
pub mod blob;
pub mod blob_ttl;
pub mod data;
pub mod error;
pub mod federation;
pub mod model;
pub mod partition;
pub mod pol;
pub mod strategy;
pub mod train;
