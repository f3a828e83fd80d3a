//! The five collaboration models of the marketplace.
//!
//! Invariant: a model's name is exactly the `collaboration_model` enum value of the
//! `opportunity.posted` contract, so parsing a silver row never guesses.

use std::fmt;

/// A collaboration model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Model {
    Project,
    Strategic,
    ResourcePooling,
    Hiring,
    Competition,
}

impl Model {
    pub const ALL: [Model; 5] = [
        Model::Project,
        Model::Strategic,
        Model::ResourcePooling,
        Model::Hiring,
        Model::Competition,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Model::Project => "project",
            Model::Strategic => "strategic",
            Model::ResourcePooling => "resource_pooling",
            Model::Hiring => "hiring",
            Model::Competition => "competition",
        }
    }

    pub fn parse(text: &str) -> Option<Model> {
        Model::ALL.into_iter().find(|m| m.name() == text)
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
