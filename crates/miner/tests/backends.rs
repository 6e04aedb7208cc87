//! The Ollama and OpenAI-compatible backends against protocol test servers: small local HTTP servers that answer as each API's documentation says (streaming included), so the backends are checked on real sockets, including the ways a model server fails.

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
use miner::{
    Backend, Progress,
    ollama::Ollama,
    openai::OpenAi,
    task::{Message, Sampling, Task},
};
use serde_json::{Value, json};

/// What a protocol test server was asked and how it should answer.
#[derive(Default)]
struct Script {
    /// Streamed pieces of every answer.
    pieces: Vec<&'static str>,
    /// Wait between pieces.
    delay: Duration,
    /// Stop streaming after this many pieces, without the final message (a broken stream).
    break_after: Option<usize>,
    /// Answer 500 with this error.
    fail_with: Option<&'static str>,
    /// The key an OpenAI-compatible server requires.
    api_key: Option<&'static str>,
    /// Set when a client went away before the stream ended.
    aborted: AtomicBool,
    /// Pieces sent.
    sent: AtomicUsize,
    /// The last request body.
    last_body: std::sync::Mutex<Value>,
}

const MODEL: &str = "tiny-llm";

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
                tokio::time::sleep(script.delay).await;
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
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    address
}

/// An Ollama protocol test server.
async fn ollama_server(script: Script) -> (String, Arc<Script>) {
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

/// An OpenAI-compatible protocol test server.
async fn openai_server(script: Script) -> (String, Arc<Script>) {
    let script = Arc::new(script);
    let router = Router::new()
        .route("/v1/models", get(openai_models))
        .route("/v1/completions", post(openai_completion))
        .route("/v1/chat/completions", post(openai_completion))
        .route("/v1/embeddings", post(openai_embeddings))
        .with_state(script.clone());
    (format!("http://{}", serve(router).await), script)
}

// --- the tests --------------------------------------------------------------------------------

fn generate(prompt: &str) -> Task {
    Task::Generate {
        model: MODEL.into(),
        prompt: prompt.into(),
        system: Some("be brief".into()),
        sampling: Sampling {
            max_tokens: Some(3),
            temperature: Some(0.1),
        },
    }
}

fn chat() -> Task {
    Task::Chat {
        model: MODEL.into(),
        messages: vec![Message {
            role: "user".into(),
            content: "hi".into(),
        }],
        sampling: Sampling::default(),
    }
}

fn pieces() -> Vec<&'static str> {
    vec!["Hel", "lo", ", ", "world"]
}

/// Runs `task`, collecting the pieces streamed meanwhile.
async fn run(
    backend: &dyn Backend,
    task: &Task,
) -> (Result<miner::Output, miner::BackendError>, Vec<String>) {
    let (progress, mut text) = Progress::new();
    let outcome = backend.run(task, &progress).await;
    drop(progress);
    let mut seen = Vec::new();
    while let Some(piece) = text.recv().await {
        seen.push(piece);
    }
    (outcome, seen)
}

#[tokio::test]
async fn ollama_generate_and_chat_stream_their_text_and_report_ollamas_counts() {
    let (url, script) = ollama_server(Script {
        pieces: pieces(),
        ..Script::default()
    })
    .await;
    let ollama = Ollama::new(&url);
    assert_eq!(ollama.models().await.expect("tags"), vec![MODEL.to_owned()]);

    let (output, seen) = run(&ollama, &generate("say hello")).await;
    let output = output.expect("generated");
    assert_eq!(seen, vec!["Hel", "lo", ", ", "world"]);
    assert_eq!(output.result["output"], "Hello, world");
    assert_eq!(output.result["finish_reason"], "stop");
    assert_eq!(
        (output.usage.prompt_tokens, output.usage.completion_tokens),
        (7, 4)
    );
    let sent = script.last_body.lock().expect("lock").clone();
    assert_eq!(sent["system"], "be brief");
    assert_eq!(sent["options"]["num_predict"], 3);
    assert_eq!(sent["stream"], true);

    let (output, seen) = run(&ollama, &chat()).await;
    let output = output.expect("chatted");
    assert_eq!(seen.concat(), "Hello, world");
    assert_eq!(output.result["message"]["content"], "Hello, world");
    assert_eq!(
        script.last_body.lock().expect("lock")["messages"][0]["content"],
        "hi"
    );
}

#[tokio::test]
async fn ollama_embeddings_come_back_one_per_input() {
    let (url, _) = ollama_server(Script::default()).await;
    let task = Task::Embeddings {
        model: MODEL.into(),
        input: vec!["a".into(), "bcd".into()],
    };
    let (output, _) = run(&Ollama::new(&url), &task).await;
    let output = output.expect("embedded");
    assert_eq!(
        output.result["embeddings"],
        json!([[1.0, 1.0, 0.5], [3.0, 1.0, 0.5]])
    );
    assert_eq!(output.result["dimensions"], 3);
    assert_eq!(output.usage.prompt_tokens, 6);
}

#[tokio::test]
async fn openai_completions_and_chat_stream_server_sent_events_with_usage() {
    let (url, script) = openai_server(Script {
        pieces: pieces(),
        api_key: Some("sk-test"),
        ..Script::default()
    })
    .await;
    let openai = OpenAi::new(&format!("{url}/v1"), Some("sk-test".into()));
    assert_eq!(
        openai.models().await.expect("models"),
        vec![MODEL.to_owned()]
    );

    let (output, seen) = run(&openai, &generate("say hello")).await;
    let output = output.expect("completed");
    assert_eq!(seen.concat(), "Hello, world");
    assert_eq!(output.result["output"], "Hello, world");
    assert_eq!(output.result["finish_reason"], "length");
    assert_eq!(
        (output.usage.prompt_tokens, output.usage.completion_tokens),
        (5, 4)
    );
    let sent = script.last_body.lock().expect("lock").clone();
    assert_eq!(sent["max_tokens"], 3);
    assert_eq!(sent["stream_options"]["include_usage"], true);

    let (output, _) = run(&openai, &chat()).await;
    assert_eq!(
        output.expect("chatted").result["message"]["content"],
        "Hello, world"
    );

    let task = Task::Embeddings {
        model: MODEL.into(),
        input: vec!["a".into(), "bcd".into()],
    };
    let (output, _) = run(&openai, &task).await;
    assert_eq!(
        output.expect("embedded").result["embeddings"],
        json!([[1.0, 0.0], [3.0, 0.0]])
    );
}

#[tokio::test]
async fn failing_model_servers_are_failures_with_their_reason() {
    // Nothing listens on the port of a server that was started and stopped.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address")
    };
    let (error, _) = run(&Ollama::new(&format!("http://{closed}")), &generate("x")).await;
    assert_eq!(error.expect_err("unreachable").code, "BACKEND_UNAVAILABLE");
    let (error, _) = run(&OpenAi::new(&format!("http://{closed}"), None), &chat()).await;
    assert_eq!(error.expect_err("unreachable").code, "BACKEND_UNAVAILABLE");

    let (url, _) = ollama_server(Script {
        fail_with: Some("CUDA error: out of memory"),
        ..Script::default()
    })
    .await;
    let (error, _) = run(&Ollama::new(&url), &generate("x")).await;
    let error = error.expect_err("server error");
    assert_eq!(error.code, "BACKEND_ERROR");
    assert!(error.message.contains("out of memory"), "{}", error.message);

    let (url, _) = ollama_server(Script::default()).await;
    let unknown = Task::Generate {
        model: "nope".into(),
        prompt: "x".into(),
        system: None,
        sampling: Sampling::default(),
    };
    let (error, _) = run(&Ollama::new(&url), &unknown).await;
    assert_eq!(error.expect_err("unknown model").code, "MODEL_NOT_FOUND");

    let (url, _) = openai_server(Script {
        api_key: Some("sk-right"),
        ..Script::default()
    })
    .await;
    let (error, _) = run(&OpenAi::new(&url, Some("sk-wrong".into())), &chat()).await;
    let error = error.expect_err("unauthorized");
    assert_eq!(error.code, "BACKEND_UNAUTHORIZED");
    assert!(
        error.message.contains("Incorrect API key"),
        "{}",
        error.message
    );

    // A stream that stops before its end is not a result.
    let (url, _) = ollama_server(Script {
        pieces: pieces(),
        break_after: Some(2),
        ..Script::default()
    })
    .await;
    let (error, seen) = run(&Ollama::new(&url), &generate("x")).await;
    assert_eq!(error.expect_err("broken").code, "BACKEND_STREAM_BROKEN");
    assert_eq!(seen, vec!["Hel", "lo"]);
    let (url, _) = openai_server(Script {
        pieces: pieces(),
        break_after: Some(2),
        ..Script::default()
    })
    .await;
    let (error, _) = run(&OpenAi::new(&url, None), &chat()).await;
    assert_eq!(error.expect_err("broken").code, "BACKEND_STREAM_BROKEN");
}

#[tokio::test]
async fn dropping_a_running_job_aborts_the_request_and_keeps_the_usage_so_far() {
    for openai in [false, true] {
        let script = Script {
            pieces: vec!["a"; 200],
            delay: Duration::from_millis(20),
            ..Script::default()
        };
        let (url, script) = if openai {
            openai_server(script).await
        } else {
            ollama_server(script).await
        };
        let backend: Box<dyn Backend> = if openai {
            Box::new(OpenAi::new(&url, None))
        } else {
            Box::new(Ollama::new(&url))
        };
        let (progress, mut text) = Progress::new();
        let task = generate("count");
        {
            let running = backend.run(&task, &progress);
            tokio::pin!(running);
            let mut received = 0;
            while received < 3 {
                tokio::select! {
                    _ = &mut running => panic!("finished early"),
                    piece = text.recv() => if piece.is_some() { received += 1 },
                }
            }
        }
        // The future is dropped: the server sees its client go within a few pieces.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !script.aborted.load(Ordering::SeqCst) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the request went on (openai: {openai})"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let sent = script.sent.load(Ordering::SeqCst);
        assert!(sent < 20, "the server kept streaming: {sent} pieces");
        let usage = progress.usage();
        assert!(
            usage.completion_tokens >= 3 && usage.completion_tokens as usize <= sent,
            "{usage:?}, sent {sent}"
        );
    }
}
