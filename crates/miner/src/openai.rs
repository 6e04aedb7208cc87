//! The OpenAI-compatible backend: jobs forwarded to a server that speaks OpenAI's API (vLLM, llama.cpp's server, and others): `/v1/models`, `/v1/completions` and `/v1/chat/completions` streamed as server-sent events, `/v1/embeddings`; text passed on as it arrives and the server's token counts reported.

use serde_json::{Value, json};

use crate::{
    backend::{Backend, BackendError, BoxFuture, Output, Progress, Usage},
    http::{self, Lines},
    task::{Sampling, Task},
};

const NAME: &str = "the OpenAI-compatible server";

/// An OpenAI-compatible server, by its root URL (the part before `/v1`), with an optional API
/// key sent as a bearer token.
#[derive(Clone, Debug)]
pub struct OpenAi {
    base: String,
    api_key: Option<String>,
    http: reqwest::Client,
}

impl OpenAi {
    pub fn new(base: &str, api_key: Option<String>) -> Self {
        let base = base.trim_end_matches('/');
        OpenAi {
            base: base.strip_suffix("/v1").unwrap_or(base).to_owned(),
            api_key,
            http: http::client(),
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, format!("{}/v1{path}", self.base));
        match &self.api_key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    async fn post(&self, path: &str, body: &Value) -> Result<reqwest::Response, BackendError> {
        let request = self.request(reqwest::Method::POST, path).json(body);
        http::send(NAME, &self.base, request).await
    }

    /// Reads a streamed completion, passing its text on; returns the whole text, why it
    /// stopped, and the usage the server counted (or, where it sends none, the chunks seen).
    async fn stream(
        &self,
        path: &str,
        body: Value,
        progress: &Progress,
        text_of: fn(&Value) -> Option<&str>,
    ) -> Result<(String, String, Usage), BackendError> {
        let mut lines = Lines::new(
            "the OpenAI-compatible server",
            self.post(path, &body).await?,
        );
        let mut text = String::new();
        let mut reason = None;
        let mut usage = None;
        while let Some(line) = lines.next().await? {
            // Server-sent events: `data: …` lines; comments and other fields are skipped.
            let Some(data) = line.strip_prefix("data:").map(str::trim) else {
                continue;
            };
            if data == "[DONE]" {
                let usage = usage.unwrap_or_else(|| progress.usage());
                return Ok((text, reason.unwrap_or_else(|| "stop".to_owned()), usage));
            }
            let chunk: Value = serde_json::from_str(data).map_err(|_| http::garbled(NAME, data))?;
            if let Some(error) = http::message_of(&chunk) {
                return Err(BackendError::new(
                    "BACKEND_ERROR",
                    format!("{NAME}: {error}"),
                ));
            }
            if let Some(choice) = chunk["choices"].get(0) {
                if let Some(delta) = text_of(choice).filter(|d| !d.is_empty()) {
                    text.push_str(delta);
                    progress.text(delta);
                }
                if let Some(r) = choice["finish_reason"].as_str() {
                    reason = Some(r.to_owned());
                }
            }
            if chunk["usage"].is_object() {
                usage = Some(usage_of(&chunk["usage"]));
            }
        }
        Err(BackendError::new(
            "BACKEND_STREAM_BROKEN",
            format!("{NAME} ended its stream without [DONE]"),
        ))
    }
}

fn usage_of(usage: &Value) -> Usage {
    Usage {
        prompt_tokens: usage["prompt_tokens"].as_u64().unwrap_or(0),
        completion_tokens: usage["completion_tokens"].as_u64().unwrap_or(0),
    }
}

fn with_sampling(mut body: Value, sampling: &Sampling) -> Value {
    if let Some(t) = sampling.temperature {
        body["temperature"] = json!(t);
    }
    if let Some(n) = sampling.max_tokens {
        body["max_tokens"] = json!(n);
    }
    body
}

impl Backend for OpenAi {
    fn name(&self) -> &str {
        "openai"
    }

    fn models(&self) -> BoxFuture<'_, Result<Vec<String>, BackendError>> {
        Box::pin(async move {
            let request = self.request(reqwest::Method::GET, "/models");
            let list = http::json(NAME, http::send(NAME, &self.base, request).await?).await?;
            Ok(http::model_names(&list["data"], &["id"]))
        })
    }

    fn run<'a>(
        &'a self,
        task: &'a Task,
        progress: &'a Progress,
    ) -> BoxFuture<'a, Result<Output, BackendError>> {
        Box::pin(async move {
            let stream_options = json!({ "include_usage": true });
            match task {
                Task::Generate {
                    model,
                    prompt,
                    system,
                    sampling,
                } => {
                    let prompt = match system {
                        Some(system) => format!("{system}\n\n{prompt}"),
                        None => prompt.clone(),
                    };
                    let body = with_sampling(
                        json!({ "model": model, "prompt": prompt, "stream": true, "stream_options": stream_options }),
                        sampling,
                    );
                    let (text, reason, usage) = self
                        .stream("/completions", body, progress, |c| c["text"].as_str())
                        .await?;
                    Ok(Output::text(task, text, reason, usage))
                }
                Task::Chat {
                    model,
                    messages,
                    sampling,
                } => {
                    let body = with_sampling(
                        json!({ "model": model, "messages": messages, "stream": true, "stream_options": stream_options }),
                        sampling,
                    );
                    let (text, reason, usage) = self
                        .stream("/chat/completions", body, progress, |c| {
                            c["delta"]["content"].as_str()
                        })
                        .await?;
                    Ok(Output::text(task, text, reason, usage))
                }
                Task::Embeddings { model, input } => {
                    let body = json!({ "model": model, "input": input });
                    let answer = http::json(NAME, self.post("/embeddings", &body).await?).await?;
                    // The data may come in any order; each item names its index.
                    let mut items: Vec<&Value> = answer["data"]
                        .as_array()
                        .map(|d| d.iter().collect())
                        .unwrap_or_default();
                    items.sort_by_key(|i| i["index"].as_u64().unwrap_or(u64::MAX));
                    let vectors: Value = items.iter().map(|i| i["embedding"].clone()).collect();
                    let embeddings = crate::backend::vectors(&vectors, input.len())
                        .ok_or_else(|| http::garbled(NAME, &answer.to_string()))?;
                    let usage = usage_of(&answer["usage"]);
                    Ok(Output::embeddings(model, embeddings, usage))
                }
            }
        })
    }
}
