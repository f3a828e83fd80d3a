//! The matching engine of the marketplace. Over `silver.parties`, `silver.opportunities` and
//! `silver.match_feedback` it computes explained matches for the five collaboration models,
//! team suggestions, barter cycles and stable mentorship pairs; the job runner publishes each
//! as a gold table (see `jobs/defs/gold_matches.toml` and siblings).
//!
//! Pipeline: candidate generation through inverted indexes and hard constraints
//! ([`constraint`]), weighted sub-scores ([`score`], weights in [`config`]), top-k per role
//! ([`engine`]); then [`team`] (greedy set cover), [`mentorship`] (deferred acceptance) and
//! [`barter`] (2- and 3-cycles). [`evaluate`] measures quality against planted ground truth.
//!
//! Invariant: nothing here writes to the lake; each output is computed from the session's
//! registered tables and handed back as record batches for the runner to publish atomically.

#![warn(missing_docs)]

pub mod barter;
pub mod config;
pub mod constraint;
pub mod engine;
mod error;
pub mod evaluate;
pub mod feedback;
pub mod load;
pub mod mentorship;
mod model;
pub mod output;
pub mod profile;
mod run;
pub mod score;
pub mod team;

pub use config::{Config, Factor};
pub use engine::{Inputs, Match, Stats};
pub use error::{Error, Result};
pub use feedback::Feedback;
pub use model::Model;
pub use run::{Mentorship, Output, compute, match_rows, mentorship_instance};
