//! One module per subcommand.

pub mod bench;
pub mod pol;
pub mod train;
