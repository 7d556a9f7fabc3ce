//! Relevo's core: the domain of a migration-crisis response and the rules
//! every replica applies identically.
//!
//! This crate is pure. It never touches a file, a socket, the system clock or
//! the OS random source: callers pass wall-clock time and random bytes in, so
//! every rule here can be tested deterministically and runs the same on a
//! field laptop, a director's machine and the hub.

pub mod api;
pub mod domain;
pub mod enrol;
pub mod head;
pub mod hlc;
pub mod identity;
pub mod ids;
pub mod op;
pub mod payload;
pub mod permissions;
pub mod rules;
pub mod text;

pub use hlc::{Clock, Hlc};
pub use identity::{DeviceId, DeviceKey};
pub use ids::{EntityId, Reference};
pub use op::{Op, OpHash, OpRef, UnsignedOp};
