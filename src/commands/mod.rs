//! One module per subcommand.

pub mod bench;
pub mod blobs;
pub mod ceremony;
pub mod chain;
pub mod contrib;
pub mod party;
pub mod pol;
pub mod prove;
pub mod run;
pub mod train;
pub mod verify;
