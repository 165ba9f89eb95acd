//! One integration-test binary that drives the real `accord` binary on
//! temporary ledgers. Modules by area; helpers in `support`.

mod support;

mod audit;
mod core;
mod damage;
mod durability;
mod projections;
mod torture;
