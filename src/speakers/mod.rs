//! Speakers: the GE2E speaker encoder (candle) and, later, clustering and enrolled voices.

pub mod ge2e;
pub mod torch_legacy;
