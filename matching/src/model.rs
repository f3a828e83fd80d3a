//! The five collaboration models of the marketplace.
//!
//! Invariant: a model's name is exactly the `collaboration_model` enum value of the
//! `opportunity.posted` contract, so parsing a silver row never guesses.

use std::fmt;

/// A collaboration model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Model {
    /// `project`: roles to fill on a piece of work (standard, consortium, SPV, JV); teams too.
    Project,
    /// `strategic`: partners by complementary skills, reciprocal; the `mentorship` sub-model
    /// also feeds the stable assignment.
    Strategic,
    /// `resource_pooling`: offers matched to needs, reciprocal; barter cycles too.
    ResourcePooling,
    /// `hiring`: candidates for a job, reciprocal (the candidate's preferences count).
    Hiring,
    /// `competition`: candidates per role under the competition's eligibility rules (hard
    /// filters); teams too.
    Competition,
}

impl Model {
    /// Every model, in declaration (and `Ord`) order.
    pub const ALL: [Model; 5] = [
        Model::Project,
        Model::Strategic,
        Model::ResourcePooling,
        Model::Hiring,
        Model::Competition,
    ];

    /// The `collaboration_model` value of the contract, e.g. `resource_pooling`.
    pub fn name(self) -> &'static str {
        match self {
            Model::Project => "project",
            Model::Strategic => "strategic",
            Model::ResourcePooling => "resource_pooling",
            Model::Hiring => "hiring",
            Model::Competition => "competition",
        }
    }

    /// The model whose [`name`](Model::name) is exactly `text`; `None` for anything else.
    pub fn parse(text: &str) -> Option<Model> {
        Model::ALL.into_iter().find(|m| m.name() == text)
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
