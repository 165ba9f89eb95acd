//! One integration-test binary that drives the real `accord` binary on
//! temporary ledgers. Modules by area; helpers in `support`.

mod support;

mod audit;
mod core;
// It reads /proc and signals processes.
#[cfg(target_os = "linux")]
mod crash;
mod damage;
mod durability;
mod help;
mod logshow;
mod numbers;
mod outputs_panel;
mod outputs_spells;
mod proofs;
// It runs accord in a pseudo-terminal (util-linux `script`).
#[cfg(target_os = "linux")]
mod progress;
mod projections;
mod torture;
mod trust;
