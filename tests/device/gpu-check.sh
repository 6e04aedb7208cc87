#!/usr/bin/env bash
# Runs the miner's check on a machine with an NVIDIA GPU, CUDA, PyTorch and sentence-transformers,
# from the repository root, with the pack that `./x gpu-check` made in .gpu-check/ beside it: an
# OpenAI-compatible embeddings server on the GPU, then `gpucheck` (tests/src/bin/gpucheck.rs).
# Logs go to $OUT when set (the device tool's folder), else to .gpu-check/out/.
set -euo pipefail
cd "$(dirname "$0")/../.."
pack=.gpu-check
out=${OUT:-$pack/out}
mkdir -p "$out" "$pack/site/pkg"
for binary in aitbc-server aitbc-miner gpucheck; do
  if [ -f "$pack/$binary.xz" ]; then
    python3 -c 'import lzma, sys; open(sys.argv[2], "wb").write(lzma.open(sys.argv[1]).read())' \
      "$pack/$binary.xz" "$pack/$binary"
    chmod +x "$pack/$binary"
  fi
done
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1
python3 tests/device/openai_embeddings.py --model-dir "$pack/all-MiniLM-L6-v2" --port 18400 \
  >"$out/model-server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  if python3 -c 'import urllib.request; urllib.request.urlopen("http://127.0.0.1:18400/v1/models")' 2>/dev/null; then
    break
  fi
  kill -0 $server 2>/dev/null || { cat "$out/model-server.log"; exit 1; }
  sleep 1
done
cat "$out/model-server.log"
AITBC_SERVER_BIN=$pack/aitbc-server AITBC_MINER_BIN=$pack/aitbc-miner AITBC_SITE_ROOT=$pack/site \
  "$pack/gpucheck" --backend-url http://127.0.0.1:18400 --model all-MiniLM-L6-v2 2>&1 \
  | tee "$out/gpucheck.txt"
