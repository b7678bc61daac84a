//! The RIB thread: the single writer of routing state.
pub mod snapshot;
