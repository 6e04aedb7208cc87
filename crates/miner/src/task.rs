//! The AI jobs a miner runs, read from a job's payload: `generate` (a prompt; the earlier `{"type":"inference", prompt, model}` is the same job), `chat` (messages) and `embeddings` (texts). A payload that says too little or too much is refused here, before any backend is called.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::backend::BackendError;

/// The most texts one embeddings job may carry: 64 vectors of 1,024 numbers still fit the
/// coordinator's 1 MiB limit on a result.
pub const MAX_EMBEDDING_INPUTS: usize = 64;

/// One message of a chat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: String,
    pub content: String,
}

/// Sampling settings a job may give; a backend's defaults apply to what it leaves out.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Sampling {
    pub max_tokens: Option<u32>,
    pub temperature: Option<f64>,
}

/// A job as a backend runs it.
#[derive(Clone, Debug, PartialEq)]
pub enum Task {
    Generate {
        model: String,
        prompt: String,
        system: Option<String>,
        sampling: Sampling,
    },
    Chat {
        model: String,
        messages: Vec<Message>,
        sampling: Sampling,
    },
    Embeddings {
        model: String,
        input: Vec<String>,
    },
}

fn invalid(message: impl Into<String>) -> BackendError {
    BackendError::new("INVALID_PAYLOAD", message)
}

fn text<'a>(payload: &'a Value, name: &str) -> Result<Option<&'a str>, BackendError> {
    match payload.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(format!("`{name}` must be a string"))),
    }
}

fn sampling(payload: &Value) -> Result<Sampling, BackendError> {
    let max_tokens = match payload.get("max_tokens") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|n| (1..=1_000_000).contains(n))
                .ok_or_else(|| invalid("`max_tokens` must be a whole number from 1 to 1000000"))?
                as u32,
        ),
    };
    let temperature = match payload.get("temperature") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_f64()
                .filter(|t| (0.0..=2.0).contains(t))
                .ok_or_else(|| invalid("`temperature` must be a number from 0 to 2"))?,
        ),
    };
    Ok(Sampling {
        max_tokens,
        temperature,
    })
}

impl Task {
    /// Reads a job's payload; `default_model` stands in where the payload names none.
    pub fn parse(payload: &Value, default_model: Option<&str>) -> Result<Task, BackendError> {
        if !payload.is_object() {
            return Err(invalid("the payload must be a JSON object"));
        }
        let kind = text(payload, "type")?.unwrap_or("generate");
        let model = match text(payload, "model")?.or(default_model) {
            Some(m) if !m.trim().is_empty() => m.trim().to_owned(),
            _ => return Err(invalid("name a `model`: this miner serves no default one")),
        };
        match kind {
            "generate" | "inference" | "completion" => {
                let prompt = text(payload, "prompt")?
                    .ok_or_else(|| invalid("a generate job needs a `prompt`"))?;
                Ok(Task::Generate {
                    model,
                    prompt: prompt.to_owned(),
                    system: text(payload, "system")?
                        .or(text(payload, "system_prompt")?)
                        .map(str::to_owned),
                    sampling: sampling(payload)?,
                })
            }
            "chat" => {
                let messages: Vec<Message> = payload
                    .get("messages")
                    .cloned()
                    .map(serde_json::from_value)
                    .transpose()
                    .map_err(|e| {
                        invalid(format!(
                            "`messages` must be a list of {{role, content}}: {e}"
                        ))
                    })?
                    .unwrap_or_default();
                if messages.is_empty() {
                    return Err(invalid("a chat job needs at least one message"));
                }
                if let Some(m) = messages
                    .iter()
                    .find(|m| !matches!(m.role.as_str(), "system" | "user" | "assistant"))
                {
                    return Err(invalid(format!(
                        "message role `{}` is not system, user or assistant",
                        m.role
                    )));
                }
                Ok(Task::Chat {
                    model,
                    messages,
                    sampling: sampling(payload)?,
                })
            }
            "embeddings" | "embedding" | "embed" => {
                let input = match payload.get("input") {
                    Some(Value::String(s)) => vec![s.clone()],
                    Some(Value::Array(items)) => items
                        .iter()
                        .map(|i| i.as_str().map(str::to_owned))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| invalid("`input` must be a string or a list of strings"))?,
                    _ => return Err(invalid("an embeddings job needs an `input`")),
                };
                if input.is_empty() || input.len() > MAX_EMBEDDING_INPUTS {
                    return Err(invalid(format!(
                        "`input` must hold 1 to {MAX_EMBEDDING_INPUTS} texts"
                    )));
                }
                Ok(Task::Embeddings { model, input })
            }
            other => Err(BackendError::new(
                "UNSUPPORTED_JOB_TYPE",
                format!("job type `{other}` is not generate, chat or embeddings"),
            )),
        }
    }

    pub fn model(&self) -> &str {
        match self {
            Task::Generate { model, .. }
            | Task::Chat { model, .. }
            | Task::Embeddings { model, .. } => model,
        }
    }

    /// The name results and metrics give the job's type.
    pub fn kind(&self) -> &'static str {
        match self {
            Task::Generate { .. } => "generate",
            Task::Chat { .. } => "chat",
            Task::Embeddings { .. } => "embeddings",
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_earlier_inference_payload_is_a_generate_job() {
        let task = Task::parse(
            &json!({"type": "inference", "prompt": "hi", "model": "llama3.2"}),
            None,
        )
        .expect("parses");
        assert_eq!(
            task,
            Task::Generate {
                model: "llama3.2".into(),
                prompt: "hi".into(),
                system: None,
                sampling: Sampling::default()
            }
        );
    }

    #[test]
    fn chat_and_embeddings_are_read_with_their_settings() {
        let chat = Task::parse(
            &json!({"type": "chat", "messages": [{"role": "user", "content": "2+2?"}], "max_tokens": 8, "temperature": 0.2}),
            Some("qwen2.5:1.5b"),
        )
        .expect("parses");
        let Task::Chat {
            model,
            messages,
            sampling,
        } = chat
        else {
            panic!("not a chat: {chat:?}");
        };
        assert_eq!(model, "qwen2.5:1.5b");
        assert_eq!(messages.len(), 1);
        assert_eq!(
            sampling,
            Sampling {
                max_tokens: Some(8),
                temperature: Some(0.2)
            }
        );
        let embeddings = Task::parse(
            &json!({"type": "embeddings", "model": "m", "input": "one"}),
            None,
        )
        .expect("parses");
        assert_eq!(
            embeddings,
            Task::Embeddings {
                model: "m".into(),
                input: vec!["one".into()]
            }
        );
    }

    #[test]
    fn bad_payloads_are_refused_with_the_reason() {
        for (payload, says) in [
            (json!("text"), "JSON object"),
            (json!({"prompt": "hi"}), "model"),
            (json!({"model": "m"}), "prompt"),
            (
                json!({"type": "chat", "model": "m", "messages": []}),
                "at least one message",
            ),
            (
                json!({"type": "chat", "model": "m", "messages": [{"role": "root", "content": "x"}]}),
                "role",
            ),
            (
                json!({"type": "embeddings", "model": "m", "input": [1, 2]}),
                "list of strings",
            ),
            (
                json!({"model": "m", "prompt": "x", "temperature": 9}),
                "temperature",
            ),
            (
                json!({"model": "m", "prompt": "x", "max_tokens": 0}),
                "max_tokens",
            ),
        ] {
            let error = Task::parse(&payload, None).expect_err("refused");
            assert_eq!(error.code, "INVALID_PAYLOAD", "{payload}");
            assert!(error.message.contains(says), "{payload}: {}", error.message);
        }
        let error =
            Task::parse(&json!({"type": "train", "model": "m"}), None).expect_err("refused");
        assert_eq!(error.code, "UNSUPPORTED_JOB_TYPE");
    }
}
