"""An OpenAI-compatible embeddings server that computes on the GPU, for the miner's check on a
machine with an NVIDIA GPU (tests/device/gpu-check.sh); no CI machine has one, so nothing else runs
it. It answers GET /v1/models and POST /v1/embeddings as OpenAI documents them, running the
sentence-transformers model all-MiniLM-L6-v2 with Hugging Face's transformers on CUDA (its recipe:
mean pooling over the tokens, unit length) from a model folder on disk (no download). A deployment
runs vLLM or llama.cpp's server instead; the miner speaks to all of them the same way."""

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import torch
import torch.nn.functional as F
from transformers import AutoModel, AutoTokenizer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--name", default="all-MiniLM-L6-v2")
    parser.add_argument("--port", type=int, default=18400)
    args = parser.parse_args()

    tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
    # The weights travel in half precision; the model runs in single precision.
    model = AutoModel.from_pretrained(args.model_dir).float().to("cuda").eval()
    print(f"model {args.name} on {torch.cuda.get_device_name(0)} "
          f"(torch {torch.__version__}, CUDA {torch.version.cuda})", flush=True)
    lock = threading.Lock()

    def embed(texts):
        batch = tokenizer(texts, padding=True, truncation=True, max_length=256,
                          return_tensors="pt").to("cuda")
        with torch.no_grad():
            hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        assert mean.device.type == "cuda"
        return F.normalize(mean, dim=1).cpu().tolist(), int(batch["attention_mask"].sum())

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # As real model servers do: with Nagle's algorithm on, a response's body waits for the
        # client's delayed acknowledgement of its headers (about 40 ms).
        disable_nagle_algorithm = True

        def answer(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def error(self, status, message):
            self.answer(status, {"error": {"message": message, "type": "invalid_request_error"}})

        def do_GET(self):
            if self.path != "/v1/models":
                return self.error(404, f"no route {self.path}")
            self.answer(200, {"object": "list", "data": [
                {"id": args.name, "object": "model", "owned_by": "local"}]})

        def do_POST(self):
            if self.path != "/v1/embeddings":
                return self.error(404, f"no route {self.path}")
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            except ValueError:
                return self.error(400, "the body is not JSON")
            if body.get("model") != args.name:
                return self.error(404, f"model {body.get('model')!r} not found")
            texts = body.get("input")
            if isinstance(texts, str):
                texts = [texts]
            if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
                return self.error(400, "input must be a string or a list of strings")
            with lock:
                vectors, tokens = embed(texts)
            self.answer(200, {
                "object": "list",
                "model": args.name,
                "data": [{"object": "embedding", "index": i, "embedding": v}
                         for i, v in enumerate(vectors)],
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            })

        def log_message(self, *_):
            pass

    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
