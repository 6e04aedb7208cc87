//! Which miner may run which job: the earlier constraint set (gpu, cuda, min_vram_gb, models, region, max_price) checked against a miner's registered capabilities, with the earlier GPU bug fixed (miners that describe one `gpu` object match as well as those that list `gpus`).

use serde::{Deserialize, Serialize};

/// What a job asks of the miner that runs it; every field is optional and an empty set matches
/// every miner.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Constraints {
    /// A GPU model name, compared without regard to case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<String>,
    /// A CUDA version prefix (`"12"` matches `12.4`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cuda: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_vram_gb: Option<f64>,
    /// Every one of these models must be advertised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The most the client pays per unit, in AITBC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_price: Option<f64>,
}

/// One GPU of a miner.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Gpu {
    pub name: String,
    /// Memory in MiB.
    #[serde(alias = "memory")]
    pub memory_mb: u64,
}

/// What a miner says it has when it registers (and refreshes in heartbeats).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Capabilities {
    #[serde(default)]
    pub gpus: Vec<Gpu>,
    /// The earlier miner's single GPU object; folded into `gpus` by [`Capabilities::normalized`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<Gpu>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cuda: Option<String>,
    #[serde(default)]
    pub models: Vec<String>,
    /// Price per unit in AITBC base units (6 decimals).
    #[serde(default)]
    pub price_per_unit: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

impl Capabilities {
    /// The same capabilities with a lone `gpu` moved into `gpus`.
    pub fn normalized(mut self) -> Capabilities {
        if let Some(gpu) = self.gpu.take()
            && !self.gpus.contains(&gpu)
        {
            self.gpus.push(gpu);
        }
        self
    }
}

/// Base units per AITBC.
const BASE: f64 = 1_000_000.0;

/// Whether a miner with `caps` may run a job with `constraints`.
pub fn matches(constraints: &Constraints, caps: &Capabilities) -> bool {
    let gpus = caps.gpus.iter().chain(caps.gpu.as_ref());
    if let Some(region) = &constraints.region
        && !caps
            .region
            .as_deref()
            .is_some_and(|r| r.eq_ignore_ascii_case(region))
    {
        return false;
    }
    if let Some(name) = &constraints.gpu
        && !gpus.clone().any(|g| g.name.eq_ignore_ascii_case(name))
    {
        return false;
    }
    if let Some(gb) = constraints.min_vram_gb
        && !gpus.clone().any(|g| g.memory_mb as f64 >= gb * 1024.0)
    {
        return false;
    }
    if let Some(cuda) = &constraints.cuda
        && !caps
            .cuda
            .as_deref()
            .is_some_and(|have| version_at_least_prefix(have, cuda))
    {
        return false;
    }
    if let Some(models) = &constraints.models
        && !models
            .iter()
            .all(|m| caps.models.iter().any(|have| have == m))
    {
        return false;
    }
    if let Some(max) = constraints.max_price
        && caps.price_per_unit as f64 > max * BASE
    {
        return false;
    }
    true
}

/// `have` starts with the version `want` names, by components (`12` matches `12.4`, `12.4`
/// matches `12.4.1`, but `1` does not match `12.4`).
fn version_at_least_prefix(have: &str, want: &str) -> bool {
    let have: Vec<&str> = have.trim().split('.').collect();
    let want: Vec<&str> = want.trim().split('.').collect();
    want.len() <= have.len() && want.iter().zip(&have).all(|(w, h)| w == h)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn caps() -> Capabilities {
        serde_json::from_value(json!({
            "gpus": [{"name": "NVIDIA RTX 4090", "memory_mb": 24564}],
            "cuda": "12.4",
            "models": ["llama3", "all-MiniLM-L6-v2"],
            "price_per_unit": 20000,
            "region": "eu-west"
        }))
        .expect("caps")
    }

    fn constraints(value: serde_json::Value) -> Constraints {
        serde_json::from_value(value).expect("constraints")
    }

    #[test]
    fn each_constraint_is_checked() {
        let caps = caps();
        let cases = [
            (json!({}), true),
            (json!({"gpu": "nvidia rtx 4090"}), true),
            (json!({"gpu": "A100"}), false),
            (json!({"min_vram_gb": 24}), false),
            (json!({"min_vram_gb": 23.9}), true),
            (json!({"cuda": "12"}), true),
            (json!({"cuda": "12.4"}), true),
            (json!({"cuda": "1"}), false),
            (json!({"cuda": "11"}), false),
            (json!({"models": ["llama3"]}), true),
            (json!({"models": ["llama3", "mistral"]}), false),
            (json!({"region": "EU-WEST"}), true),
            (json!({"region": "us-east"}), false),
            (json!({"max_price": 0.02}), true),
            (json!({"max_price": 0.019999}), false),
        ];
        for (c, want) in cases {
            assert_eq!(matches(&constraints(c.clone()), &caps), want, "{c}");
        }
    }

    #[test]
    fn a_single_gpu_object_matches_like_a_list() {
        let legacy: Capabilities = serde_json::from_value(json!({
            "gpu": {"name": "RTX 3060", "memory": 12288}, "models": []
        }))
        .expect("caps");
        assert!(matches(
            &constraints(json!({"gpu": "RTX 3060", "min_vram_gb": 12})),
            &legacy
        ));
        assert_eq!(legacy.normalized().gpus.len(), 1);
    }

    #[test]
    fn unknown_constraints_are_refused() {
        assert!(serde_json::from_value::<Constraints>(json!({"gpus": "x"})).is_err());
    }
}
