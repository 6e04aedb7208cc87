//! The Ollama backend: jobs forwarded to an Ollama server (`/api/tags` for its models, `/api/generate` and `/api/chat` streamed as JSON lines, `/api/embed` for embeddings), with text passed on as it arrives and Ollama's own token counts reported.

use serde_json::{Value, json};

use crate::{
    backend::{Backend, BackendError, BoxFuture, Output, Progress, Usage},
    http::{self, Lines},
    task::{Sampling, Task},
};

const NAME: &str = "Ollama";

/// An Ollama server, by its root URL (`http://127.0.0.1:11434`).
#[derive(Clone, Debug)]
pub struct Ollama {
    base: String,
    http: reqwest::Client,
}

impl Ollama {
    pub fn new(base: &str) -> Self {
        Ollama {
            base: base.trim_end_matches('/').to_owned(),
            http: http::client(),
        }
    }

    async fn post(&self, path: &str, body: &Value) -> Result<reqwest::Response, BackendError> {
        let request = self.http.post(format!("{}{path}", self.base)).json(body);
        http::send(NAME, &self.base, request).await
    }

    /// Reads a streamed generate or chat answer, passing its text on; returns the whole text,
    /// why it stopped, and the usage Ollama counted.
    async fn stream(
        &self,
        path: &str,
        body: Value,
        progress: &Progress,
        text_of: fn(&Value) -> Option<&str>,
    ) -> Result<(String, String, Usage), BackendError> {
        let mut lines = Lines::new(NAME, self.post(path, &body).await?);
        let mut text = String::new();
        while let Some(line) = lines.next().await? {
            let chunk: Value =
                serde_json::from_str(&line).map_err(|_| http::garbled(NAME, &line))?;
            if let Some(error) = http::message_of(&chunk) {
                return Err(BackendError::new(
                    "BACKEND_ERROR",
                    format!("{NAME}: {error}"),
                ));
            }
            if let Some(delta) = text_of(&chunk).filter(|d| !d.is_empty()) {
                text.push_str(delta);
                progress.text(delta);
            }
            if chunk["done"].as_bool() == Some(true) {
                let usage = Usage {
                    prompt_tokens: chunk["prompt_eval_count"].as_u64().unwrap_or(0),
                    completion_tokens: chunk["eval_count"]
                        .as_u64()
                        .unwrap_or(progress.usage().completion_tokens),
                };
                let reason = chunk["done_reason"].as_str().unwrap_or("stop").to_owned();
                return Ok((text, reason, usage));
            }
        }
        Err(BackendError::new(
            "BACKEND_STREAM_BROKEN",
            format!("{NAME} ended its answer before saying it was done"),
        ))
    }
}

fn options(sampling: &Sampling) -> Value {
    let mut options = json!({});
    if let Some(t) = sampling.temperature {
        options["temperature"] = json!(t);
    }
    if let Some(n) = sampling.max_tokens {
        options["num_predict"] = json!(n);
    }
    options
}

impl Backend for Ollama {
    fn name(&self) -> &str {
        "ollama"
    }

    fn models(&self) -> BoxFuture<'_, Result<Vec<String>, BackendError>> {
        Box::pin(async move {
            let request = self.http.get(format!("{}/api/tags", self.base));
            let tags = http::json(NAME, http::send(NAME, &self.base, request).await?).await?;
            Ok(http::model_names(&tags["models"], &["name", "model"]))
        })
    }

    fn run<'a>(
        &'a self,
        task: &'a Task,
        progress: &'a Progress,
    ) -> BoxFuture<'a, Result<Output, BackendError>> {
        Box::pin(async move {
            match task {
                Task::Generate {
                    model,
                    prompt,
                    system,
                    sampling,
                } => {
                    let mut body = json!({
                        "model": model, "prompt": prompt, "stream": true, "options": options(sampling),
                    });
                    if let Some(system) = system {
                        body["system"] = json!(system);
                    }
                    let (text, reason, usage) = self
                        .stream("/api/generate", body, progress, |c| c["response"].as_str())
                        .await?;
                    Ok(Output::text(task, text, reason, usage))
                }
                Task::Chat {
                    model,
                    messages,
                    sampling,
                } => {
                    let body = json!({
                        "model": model, "messages": messages, "stream": true, "options": options(sampling),
                    });
                    let (text, reason, usage) = self
                        .stream("/api/chat", body, progress, |c| {
                            c["message"]["content"].as_str()
                        })
                        .await?;
                    Ok(Output::text(task, text, reason, usage))
                }
                Task::Embeddings { model, input } => {
                    let body = json!({ "model": model, "input": input });
                    let answer = http::json(NAME, self.post("/api/embed", &body).await?).await?;
                    let embeddings = crate::backend::vectors(&answer["embeddings"], input.len())
                        .ok_or_else(|| http::garbled(NAME, &answer.to_string()))?;
                    let usage = Usage {
                        prompt_tokens: answer["prompt_eval_count"].as_u64().unwrap_or(0),
                        completion_tokens: 0,
                    };
                    Ok(Output::embeddings(model, embeddings, usage))
                }
            }
        })
    }
}
