//! Protocol test servers for the miner's backends: small HTTP servers on loopback that answer as Ollama's and OpenAI's API documentation says (streamed JSON lines and server-sent events included), scripted to stream slowly, break off or fail, and recording what they were asked and whether a client went away midway.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{
    Json, Router,
    body::Body,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::{Value, json};

/// What a protocol test server was asked and how it should answer.
#[derive(Default)]
pub struct Script {
    /// Streamed pieces of every answer.
    pub pieces: Vec<&'static str>,
    /// Wait before each piece (none by default: the pieces go at once).
    pub delay: Duration,
    /// Stop streaming after this many pieces, without the final message (a broken stream).
    pub break_after: Option<usize>,
    /// Answer 500 with this error.
    pub fail_with: Option<&'static str>,
    /// The key an OpenAI-compatible server requires.
    pub api_key: Option<&'static str>,
    /// Set when a client went away before the stream ended.
    pub aborted: AtomicBool,
    /// Pieces sent.
    pub sent: AtomicUsize,
    /// The last request body.
    pub last_body: std::sync::Mutex<Value>,
    /// Every generate or chat request body, in order.
    pub requests: std::sync::Mutex<Vec<Value>>,
}

/// The one model the protocol test servers serve.
pub const MODEL: &str = "tiny-llm";

/// Sets `aborted` if dropped before `done` (the client closed the connection midway).
struct Guard {
    script: Arc<Script>,
    done: bool,
}

impl Guard {
    /// The stream ended as it should.
    fn finish(mut self) {
        self.done = true;
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !self.done {
            self.script.aborted.store(true, Ordering::SeqCst);
        }
    }
}

/// A streamed body: `line(i)` for each piece, then `last`.
fn streamed(
    script: Arc<Script>,
    line: impl Fn(&str) -> String + Send + 'static,
    last: Vec<String>,
) -> Body {
    let count = script.pieces.len();
    let guard = Guard {
        script,
        done: false,
    };
    let stream = futures::stream::unfold(
        (guard, 0usize, line, last),
        move |(guard, i, line, mut last)| async move {
            let script = guard.script.clone();
            if script.break_after.is_some_and(|n| i >= n) {
                guard.finish();
                return None;
            }
            if i < count {
                // Not even a zero wait when there is none: tokio's timer rounds every sleep
                // up to its next millisecond tick, which would make each piece take ~1 ms.
                if !script.delay.is_zero() {
                    tokio::time::sleep(script.delay).await;
                }
                script.sent.fetch_add(1, Ordering::SeqCst);
                let out = line(script.pieces[i]);
                return Some((Ok::<_, std::io::Error>(out), (guard, i + 1, line, last)));
            }
            if last.is_empty() {
                guard.finish();
                return None;
            }
            let out = last.remove(0);
            Some((Ok(out), (guard, i + 1, line, last)))
        },
    );
    Body::from_stream(stream)
}

fn failure(script: &Script) -> Option<Response> {
    script.fail_with.map(|message| {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({ "error": message })),
        )
            .into_response()
    })
}

fn unknown_model(body: &Value) -> Option<Response> {
    (body["model"] != MODEL).then(|| {
        (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": format!("model '{}' not found", body["model"].as_str().unwrap_or("")) })),
        )
            .into_response()
    })
}

// --- Ollama --------------------------------------------------------------------------------

async fn ollama_tags() -> Json<Value> {
    Json(json!({ "models": [{ "name": MODEL, "model": MODEL, "size": 1_000 }] }))
}

async fn ollama_generate(State(script): State<Arc<Script>>, Json(body): Json<Value>) -> Response {
    *script.last_body.lock().expect("lock") = body.clone();
    script.requests.lock().expect("lock").push(body.clone());
    if let Some(r) = failure(&script).or_else(|| unknown_model(&body)) {
        return r;
    }
    let chat = body.get("messages").is_some();
    let done = json!({
        "model": MODEL, "done": true, "done_reason": "stop",
        "prompt_eval_count": 7, "eval_count": script.pieces.len(), "total_duration": 1_000_000,
    });
    let line = move |piece: &str| {
        let chunk = if chat {
            json!({ "model": MODEL, "message": { "role": "assistant", "content": piece }, "done": false })
        } else {
            json!({ "model": MODEL, "response": piece, "done": false })
        };
        format!("{chunk}\n")
    };
    Response::builder()
        .header("content-type", "application/x-ndjson")
        .body(streamed(script.clone(), line, vec![format!("{done}\n")]))
        .expect("response")
}

async fn ollama_embed(State(script): State<Arc<Script>>, Json(body): Json<Value>) -> Response {
    if let Some(r) = failure(&script).or_else(|| unknown_model(&body)) {
        return r;
    }
    let inputs = body["input"].as_array().cloned().unwrap_or_default();
    let embeddings: Vec<Value> = inputs
        .iter()
        .map(|i| json!([i.as_str().map_or(0, str::len) as f64, 1.0, 0.5]))
        .collect();
    Json(json!({ "model": MODEL, "embeddings": embeddings, "prompt_eval_count": inputs.len() * 3 }))
        .into_response()
}

async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    // As Ollama (Go) and the Python servers do: streamed pieces are sent at once, not held
    // back by Nagle's algorithm until the client's delayed ACK (about 40 ms).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    address
}

/// An Ollama protocol test server on a free loopback port: its URL and its script.
pub async fn ollama_server(script: Script) -> (String, Arc<Script>) {
    let script = Arc::new(script);
    let router = Router::new()
        .route("/api/tags", get(ollama_tags))
        .route("/api/generate", post(ollama_generate))
        .route("/api/chat", post(ollama_generate))
        .route("/api/embed", post(ollama_embed))
        .with_state(script.clone());
    (format!("http://{}", serve(router).await), script)
}

// --- OpenAI-compatible ----------------------------------------------------------------------

fn authorized(script: &Script, headers: &HeaderMap) -> Option<Response> {
    let key = script.api_key?;
    let sent = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    (sent != Some(key)).then(|| {
        (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": { "message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key" } })),
        )
            .into_response()
    })
}

async fn openai_models(State(script): State<Arc<Script>>, headers: HeaderMap) -> Response {
    if let Some(r) = authorized(&script, &headers) {
        return r;
    }
    Json(json!({ "object": "list", "data": [{ "id": MODEL, "object": "model", "created": 0, "owned_by": "test" }] }))
        .into_response()
}

async fn openai_completion(
    State(script): State<Arc<Script>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    *script.last_body.lock().expect("lock") = body.clone();
    script.requests.lock().expect("lock").push(body.clone());
    if let Some(r) = authorized(&script, &headers)
        .or_else(|| failure(&script))
        .or_else(|| unknown_model(&body))
    {
        return r;
    }
    let chat = body.get("messages").is_some();
    let object = if chat {
        "chat.completion.chunk"
    } else {
        "text_completion"
    };
    let line = move |piece: &str| {
        let choice = if chat {
            json!({ "index": 0, "delta": { "content": piece }, "finish_reason": null })
        } else {
            json!({ "index": 0, "text": piece, "finish_reason": null })
        };
        format!(
            "data: {}\n\n",
            json!({ "id": "cmpl-1", "object": object, "model": MODEL, "choices": [choice] })
        )
    };
    let finish = if chat {
        json!({ "index": 0, "delta": {}, "finish_reason": "length" })
    } else {
        json!({ "index": 0, "text": "", "finish_reason": "length" })
    };
    let usage = json!({ "prompt_tokens": 5, "completion_tokens": script.pieces.len(), "total_tokens": 5 + script.pieces.len() });
    let last = vec![
        format!(
            "data: {}\n\n",
            json!({ "id": "cmpl-1", "object": object, "choices": [finish] })
        ),
        format!(
            "data: {}\n\n",
            json!({ "id": "cmpl-1", "object": object, "choices": [], "usage": usage })
        ),
        "data: [DONE]\n\n".to_owned(),
    ];
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(streamed(script.clone(), line, last))
        .expect("response")
}

async fn openai_embeddings(
    State(script): State<Arc<Script>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Some(r) = authorized(&script, &headers)
        .or_else(|| failure(&script))
        .or_else(|| unknown_model(&body))
    {
        return r;
    }
    let inputs = body["input"].as_array().cloned().unwrap_or_default();
    // In reverse order: a client must place each by its index.
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .rev()
        .map(|(i, text)| json!({ "object": "embedding", "index": i, "embedding": [text.as_str().map_or(0, str::len) as f64, 0.0] }))
        .collect();
    Json(json!({ "object": "list", "data": data, "model": MODEL, "usage": { "prompt_tokens": 6, "total_tokens": 6 } }))
        .into_response()
}

/// An OpenAI-compatible protocol test server on a free loopback port: its URL and its script.
pub async fn openai_server(script: Script) -> (String, Arc<Script>) {
    let script = Arc::new(script);
    let router = Router::new()
        .route("/v1/models", get(openai_models))
        .route("/v1/completions", post(openai_completion))
        .route("/v1/chat/completions", post(openai_completion))
        .route("/v1/embeddings", post(openai_embeddings))
        .with_state(script.clone());
    (format!("http://{}", serve(router).await), script)
}
