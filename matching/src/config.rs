//! Matching configuration: per collaboration model, the sub-score weights, the list length and
//! whether the match is reciprocal. The built-in file is `weights.toml` beside this module.
//!
//! Invariant: a loaded [`Config`] has every model, at least one positive weight per model, no
//! negative weight, and weights normalised to sum to 1, so every score stays in [0, 1].

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::model::Model;

/// The built-in configuration text.
pub const BUILTIN: &str = include_str!("weights.toml");

/// The sub-scores a match is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Factor {
    /// Coverage of the role's required skills, weighted by the required level.
    Skills,
    /// Required skills the candidate brings that the poster lacks (strategic).
    Complement,
    /// Share of the needed resources the candidate offers (resource pooling).
    Resources,
    /// Share of the opportunity's sectors the candidate works in.
    Sectors,
    /// Exponential decay with distance; 1 for remote work.
    Distance,
    /// 1 within the budget per head, falling to 0 at 25 % over it.
    Budget,
    /// Share of the opportunity's dates the candidate is available.
    Availability,
    /// Capacity against the headcount the role needs.
    Capacity,
    /// Share of suggestions accepted, with a prior of 0.6 worth 4 decisions.
    Reputation,
    /// 1 if verified by the marketplace, 0.3 otherwise.
    Verified,
    /// Share of the poster's working languages the candidate speaks.
    Language,
}

impl Factor {
    /// Every factor, in declaration order; `factor as usize` indexes this array.
    pub const ALL: [Factor; 11] = [
        Factor::Skills,
        Factor::Complement,
        Factor::Resources,
        Factor::Sectors,
        Factor::Distance,
        Factor::Budget,
        Factor::Availability,
        Factor::Capacity,
        Factor::Reputation,
        Factor::Verified,
        Factor::Language,
    ];

    /// The sub-score's key in `weights.toml` and its `factor` in published reasons.
    pub fn name(self) -> &'static str {
        match self {
            Factor::Skills => "skills",
            Factor::Complement => "complement",
            Factor::Resources => "resources",
            Factor::Sectors => "sectors",
            Factor::Distance => "distance",
            Factor::Budget => "budget",
            Factor::Availability => "availability",
            Factor::Capacity => "capacity",
            Factor::Reputation => "reputation",
            Factor::Verified => "verified",
            Factor::Language => "language",
        }
    }
}

/// How one collaboration model is matched.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    /// Candidates kept per opportunity and role.
    pub top_k: usize,
    /// Whether the candidate's own fit counts (harmonic mean of both sides).
    pub reciprocal: bool,
    /// Normalised weights, indexed like [`Factor::ALL`].
    pub weights: [f64; 11],
}

impl ModelConfig {
    /// The normalised weight of `factor`, in [0, 1]; 0 when the model does not use it.
    pub fn weight(&self, factor: Factor) -> f64 {
        self.weights[factor as usize]
    }
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    models: BTreeMap<Model, ModelConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelFile {
    top_k: usize,
    reciprocal: bool,
    weights: BTreeMap<String, f64>,
}

impl Config {
    /// The configuration in `weights.toml`.
    pub fn builtin() -> Config {
        Config::parse(BUILTIN).expect("the built-in weights.toml is valid")
    }

    /// Parses and validates a configuration file's text.
    pub fn parse(text: &str) -> Result<Config> {
        let bad = |reason: String| Error::Config(reason);
        let files: BTreeMap<String, ModelFile> =
            toml::from_str(text).map_err(|e| bad(e.message().to_owned()))?;
        let mut models = BTreeMap::new();
        for (name, file) in files {
            let model = Model::parse(&name)
                .ok_or_else(|| bad(format!("`{name}` is not a collaboration model")))?;
            if file.top_k == 0 || file.top_k > 1000 {
                return Err(bad(format!("{name}: top_k must be within 1..=1000")));
            }
            let mut weights = [0.0; 11];
            for (factor, w) in &file.weights {
                let f = Factor::ALL
                    .into_iter()
                    .find(|f| f.name() == factor)
                    .ok_or_else(|| bad(format!("{name}: unknown sub-score `{factor}`")))?;
                if !w.is_finite() || *w < 0.0 {
                    return Err(bad(format!("{name}: weight of {factor} must be ≥ 0")));
                }
                weights[f as usize] = *w;
            }
            let total: f64 = weights.iter().sum();
            if total <= 0.0 {
                return Err(bad(format!("{name}: no positive weight")));
            }
            weights.iter_mut().for_each(|w| *w /= total);
            models.insert(
                model,
                ModelConfig {
                    top_k: file.top_k,
                    reciprocal: file.reciprocal,
                    weights,
                },
            );
        }
        if let Some(missing) = Model::ALL.iter().find(|m| !models.contains_key(m)) {
            return Err(bad(format!("model {missing} is not configured")));
        }
        Ok(Config { models })
    }

    /// The configuration of `model`; every model has one (checked by [`Config::parse`]).
    pub fn model(&self, model: Model) -> &ModelConfig {
        &self.models[&model]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_weights_are_normalised() {
        let config = Config::builtin();
        for m in Model::ALL {
            let sum: f64 = config.model(m).weights.iter().sum();
            assert!((sum - 1.0).abs() < 1e-9, "{m}: {sum}");
        }
    }

    #[test]
    fn a_missing_model_or_unknown_factor_is_refused() {
        let one = "[project]\ntop_k = 5\nreciprocal = false\nweights = { skills = 1 }\n";
        assert!(matches!(Config::parse(one), Err(Error::Config(r)) if r.contains("strategic")));
        let typo = one.replace("skills", "skils");
        assert!(matches!(Config::parse(&typo), Err(Error::Config(r)) if r.contains("skils")));
    }
}
