//! `./x gpu-check`: packs what checking the miner on a machine with an NVIDIA GPU needs into `.gpu-check/` (release `aitbc-server`, `aitbc-miner` and `gpucheck`, stripped and xz-compressed, and the embedding model with its weights in half precision, small enough to send); `tests/device/gpu-check.sh` runs it there.

use std::{fs, path::Path, process::Command};

use anyhow::Context;
use serde_json::{Map, Value};

use crate::{
    setup::{Setup, embedding_model_dir},
    sh::{self, run, step},
};

/// The model files the embeddings server reads besides the weights.
const MODEL_FILES: &[&str] = &[
    "config.json",
    "config_sentence_transformers.json",
    "modules.json",
    "sentence_bert_config.json",
    "special_tokens_map.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "1_Pooling/config.json",
];

pub fn gpu_check(args: &[String]) -> anyhow::Result<()> {
    anyhow::ensure!(args.is_empty(), "gpu-check takes no options");
    Setup::for_tests()?.run()?;
    step("Compiling");
    eprintln!("aitbc-server, aitbc-miner and gpucheck (release)");
    run(Command::new("cargo")
        .args([
            "build",
            "--release",
            "-p",
            "server",
            "--bin",
            "aitbc-server",
        ])
        .args([
            "-p",
            "miner",
            "--bin",
            "aitbc-miner",
            "-p",
            "tests",
            "--bin",
            "gpucheck",
        ])
        .current_dir(sh::root()))?;
    let pack = sh::root().join(".gpu-check");
    let _ = fs::remove_dir_all(&pack);
    fs::create_dir_all(pack.join("all-MiniLM-L6-v2/1_Pooling"))?;
    // Stripped and compressed: the device tool sends at most 64 MiB.
    for binary in ["aitbc-server", "aitbc-miner", "gpucheck"] {
        run(Command::new("strip")
            .arg("-o")
            .arg(pack.join(binary))
            .arg(sh::target_dir().join("release").join(binary)))?;
        run(Command::new("xz")
            .args(["-T2", "-6"])
            .arg(pack.join(binary)))?;
    }
    let model = embedding_model_dir();
    for file in MODEL_FILES {
        fs::copy(model.join(file), pack.join("all-MiniLM-L6-v2").join(file))
            .with_context(|| format!("cannot copy the model's {file}"))?;
    }
    let weights = fs::read(model.join("model.safetensors"))?;
    fs::write(
        pack.join("all-MiniLM-L6-v2/model.safetensors"),
        half_precision(&weights)?,
    )?;
    let bytes: u64 = walk(&pack)?;
    eprintln!(
        "packed {} ({:.1} MiB); on the GPU machine run tests/device/gpu-check.sh",
        pack.display(),
        bytes as f64 / (1 << 20) as f64
    );
    Ok(())
}

/// The size of every file under `dir`.
fn walk(dir: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        total += if entry.file_type()?.is_dir() {
            walk(&entry.path())?
        } else {
            entry.metadata()?.len()
        };
    }
    Ok(total)
}

/// A safetensors file with its F32 tensors stored as F16 (the others as they are): an 8-byte
/// little-endian header length, the JSON header naming each tensor's type, shape and byte
/// range, then the data.
fn half_precision(file: &[u8]) -> anyhow::Result<Vec<u8>> {
    let garbled = || anyhow::anyhow!("the model's weights are not a safetensors file");
    let length = u64::from_le_bytes(file.get(..8).ok_or_else(garbled)?.try_into()?) as usize;
    let header: Map<String, Value> =
        serde_json::from_slice(file.get(8..8 + length).ok_or_else(garbled)?)?;
    let data = &file[8 + length..];
    let mut tensors: Vec<(String, Value)> = header.into_iter().collect();
    let range = |info: &Value| -> Option<(usize, usize)> {
        let offsets = info.get("data_offsets")?.as_array()?;
        Some((
            offsets.first()?.as_u64()? as usize,
            offsets.get(1)?.as_u64()? as usize,
        ))
    };
    // The tensors that keep their type first, so that 8-byte ones stay aligned (safetensors
    // allows no padding between tensors).
    tensors.sort_by_key(|(_, info)| (info["dtype"] == "F32", range(info).map_or(0, |r| r.0)));
    let (mut out_header, mut out_data) = (Map::new(), Vec::new());
    for (name, mut info) in tensors {
        if name == "__metadata__" {
            out_header.insert(name, info);
            continue;
        }
        let (start, end) = range(&info).ok_or_else(garbled)?;
        let bytes = data.get(start..end).ok_or_else(garbled)?;
        let begin = out_data.len();
        if info["dtype"] == "F32" {
            for value in bytes.chunks_exact(4) {
                let value = f32::from_le_bytes(value.try_into()?);
                out_data.extend(half::f16::from_f32(value).to_le_bytes());
            }
            info["dtype"] = "F16".into();
        } else {
            out_data.extend_from_slice(bytes);
        }
        info["data_offsets"] = serde_json::json!([begin, out_data.len()]);
        out_header.insert(name, info);
    }
    let mut header = serde_json::to_vec(&out_header)?;
    // The data starts 8-byte aligned, as safetensors' own writer leaves it.
    header.resize(header.len().next_multiple_of(8), b' ');
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend(header);
    out.extend(out_data);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_tensors_become_f16_and_others_stay() {
        let header = serde_json::json!({
            "__metadata__": {"format": "pt"},
            "b": {"dtype": "I64", "shape": [1], "data_offsets": [8, 16]},
            "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
        });
        let header = serde_json::to_vec(&header).unwrap_or_default();
        let mut file = (header.len() as u64).to_le_bytes().to_vec();
        file.extend(&header);
        file.extend(1.5f32.to_le_bytes());
        file.extend((-0.25f32).to_le_bytes());
        file.extend(7i64.to_le_bytes());
        let half = half_precision(&file).expect("converted");
        let length = u64::from_le_bytes(half[..8].try_into().expect("8 bytes")) as usize;
        assert_eq!(length % 8, 0);
        let header: Value = serde_json::from_slice(&half[8..8 + length]).expect("json");
        assert_eq!(header["a"]["dtype"], "F16");
        assert_eq!(header["b"]["data_offsets"], serde_json::json!([0, 8]));
        assert_eq!(header["a"]["data_offsets"], serde_json::json!([8, 12]));
        assert_eq!(header["__metadata__"]["format"], "pt");
        let data = &half[8 + length..];
        assert_eq!(
            i64::from_le_bytes(data[..8].try_into().expect("8 bytes")),
            7
        );
        assert_eq!(half::f16::from_le_bytes([data[8], data[9]]).to_f32(), 1.5);
        assert_eq!(
            half::f16::from_le_bytes([data[10], data[11]]).to_f32(),
            -0.25
        );
    }
}
