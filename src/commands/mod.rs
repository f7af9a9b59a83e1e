//! One module per subcommand.

pub mod bench;
pub mod pol;
pub mod prove;
pub mod train;
pub mod verify;
