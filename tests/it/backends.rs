//! The Ollama and OpenAI-compatible backends against the protocol test servers, on real sockets: streamed text, token counts, embeddings, the ways a model server fails, and a dropped job aborting its request.

use std::{sync::atomic::Ordering, time::Duration};

use miner::{
    Backend, Progress,
    ollama::Ollama,
    openai::OpenAi,
    task::{Message, Sampling, Task},
};
use serde_json::json;
use tests::model_servers::{MODEL, Script, ollama_server, openai_server};

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
    // Port 1 (tcpmux): nothing listens there, and no test server can be given it.
    let closed = "127.0.0.1:1";
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

/// The built-in model's folder, which `./x test` sets up.
fn model_dir() -> std::path::PathBuf {
    std::env::var_os("AITBC_EMBEDDING_MODEL")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/aitbc/models/all-MiniLM-L6-v2")
        })
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn the_built_in_tokenizer_gives_the_models_own_token_ids() {
    let vocab = std::fs::read_to_string(model_dir().join("vocab.txt"))
        .expect("the embedding model is set up (./x setup --browser)");
    let tokens = miner::wordpiece::WordPiece::from_vocab(&vocab).expect("vocabulary");
    // Ids from the model's tokenizer.json, read by Hugging Face's tokenizers library.
    for (text, ids) in [
        (
            "A man is playing a guitar.",
            vec![101, 1037, 2158, 2003, 2652, 1037, 2858, 1012, 102],
        ),
        (
            "Héllo, WORLD! unaffable naïve 東京 3.14 don't",
            vec![
                101, 7592, 1010, 2088, 999, 14477, 20961, 3468, 15743, 1879, 1755, 1017, 1012,
                2403, 2123, 1005, 1056, 102,
            ],
        ),
        (
            "supercalifragilisticexpialidocious",
            vec![
                101, 3565, 9289, 10128, 29181, 24411, 4588, 10288, 19312, 21273, 10085, 6313, 102,
            ],
        ),
    ] {
        assert_eq!(tokens.encode(text, 256), ids, "{text}");
    }
}

#[tokio::test]
async fn the_built_in_model_places_close_sentences_close() {
    let backend = miner::embed::LocalEmbeddings::load(&model_dir())
        .expect("the embedding model is set up (./x setup --browser)");
    let task = Task::Embeddings {
        model: miner::embed::MODEL_NAME.into(),
        input: vec![
            "A man is playing a guitar.".into(),
            "Someone plays an acoustic guitar on stage.".into(),
            "The central bank raised interest rates again.".into(),
            "Interest rates were increased by the central bank.".into(),
        ],
    };
    let (output, _) = run(&backend, &task).await;
    let output = output.expect("embedded");
    assert_eq!(output.result["dimensions"], 384);
    let vectors = miner::backend::vectors(&output.result["embeddings"], 4).expect("four vectors");
    for v in &vectors {
        assert!((cosine(v, v) - 1.0).abs() < 1e-4, "not unit length");
    }
    let (guitars, rates) = (
        cosine(&vectors[0], &vectors[1]),
        cosine(&vectors[2], &vectors[3]),
    );
    let unrelated = cosine(&vectors[0], &vectors[2]).max(cosine(&vectors[1], &vectors[3]));
    eprintln!("cosine: guitars {guitars:.3}, rates {rates:.3}, unrelated at most {unrelated:.3}");
    assert!(
        guitars > unrelated + 0.3,
        "guitars {guitars}, unrelated {unrelated}"
    );
    assert!(
        rates > unrelated + 0.3,
        "rates {rates}, unrelated {unrelated}"
    );
    assert!(output.usage.prompt_tokens > 20, "{:?}", output.usage);
    // A job for another model or of another type is refused, not answered.
    let other = Task::Embeddings {
        model: "text-embedding-3-large".into(),
        input: vec!["x".into()],
    };
    assert_eq!(
        run(&backend, &other).await.0.expect_err("other model").code,
        "MODEL_NOT_FOUND"
    );
    assert_eq!(
        run(&backend, &chat()).await.0.expect_err("chat").code,
        "UNSUPPORTED_JOB_TYPE"
    );
}
