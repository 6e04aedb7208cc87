//! What GPUs this machine has, read from `nvidia-smi`: its CSV query for each GPU's name, memory, utilisation and driver, and its summary table's header for the CUDA version. Parsed leniently (`[N/A]`, `[Not Supported]`, extra spaces, names with commas) so a driver's quirks never stop a miner; no GPU is a plain CPU-only mode, not an error.

use std::{process::Command, time::Duration};

use serde::Serialize;

/// The fields asked of `nvidia-smi --query-gpu`, in this order.
pub const QUERY: &str = "index,uuid,name,memory.total,memory.used,utilization.gpu,driver_version";

/// One GPU as `nvidia-smi` reports it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Gpu {
    pub index: u32,
    pub uuid: Option<String>,
    pub name: String,
    /// MiB.
    pub memory_mb: u64,
    /// MiB in use now, where the driver tells.
    pub memory_used_mb: Option<u64>,
    /// Percent busy now, where the driver tells.
    pub utilization: Option<u8>,
    pub driver: Option<String>,
}

/// This machine's accelerators: its GPUs and the CUDA version their driver supports. No GPUs
/// means the miner runs in CPU-only mode.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Hardware {
    pub gpus: Vec<Gpu>,
    pub cuda: Option<String>,
}

impl Hardware {
    pub fn cpu_only(&self) -> bool {
        self.gpus.is_empty()
    }
}

/// Why GPUs could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    /// No `nvidia-smi` on the PATH: no NVIDIA driver is installed.
    #[error("nvidia-smi is not installed (no NVIDIA driver): running CPU-only")]
    NoDriver,
    /// `nvidia-smi` is there but failed, usually because the driver cannot talk to the GPU.
    #[error("nvidia-smi failed: {0}")]
    Failed(String),
}

/// The GPUs alone, without the CUDA version (one call of `nvidia-smi`: for heartbeats).
pub fn read_gpus(program: &str) -> Result<Hardware, DetectError> {
    let query = format!("--query-gpu={QUERY}");
    let table = run(program, &[&query, "--format=csv,noheader,nounits"])?;
    Ok(parse_query(&table))
}

/// Reads the GPUs with `nvidia-smi` (the program at `program`, normally `"nvidia-smi"`).
pub fn detect(program: &str) -> Result<Hardware, DetectError> {
    let mut hardware = read_gpus(program)?;
    // The CUDA version is not a query field; the summary table's header carries it.
    if !hardware.gpus.is_empty()
        && let Ok(summary) = run(program, &[])
    {
        hardware.cuda = parse_cuda_version(&summary);
    }
    Ok(hardware)
}

/// Runs `program` with `args`, giving up after ten seconds (a wedged driver can hang it). Its
/// output is read while it runs, so a long one cannot block it.
fn run(program: &str, args: &[&str]) -> Result<String, DetectError> {
    let mut child = Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => DetectError::NoDriver,
            _ => DetectError::Failed(e.to_string()),
        })?;
    fn drain(pipe: Option<impl std::io::Read + Send + 'static>) -> std::thread::JoinHandle<String> {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        })
    }
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(DetectError::Failed("no answer within 10 s".into()));
            }
            Err(e) => return Err(DetectError::Failed(e.to_string())),
        }
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    if !status.success() {
        let said = if stderr.trim().is_empty() {
            stdout.trim()
        } else {
            stderr.trim()
        };
        return Err(DetectError::Failed(
            said.lines().next().unwrap_or("").to_owned(),
        ));
    }
    Ok(stdout)
}

/// A field's value, or `None` for the driver's ways of saying it has none.
fn field(text: &str) -> Option<&str> {
    let text = text.trim();
    let none = text.is_empty()
        || text.starts_with('[')
        || text.eq_ignore_ascii_case("N/A")
        || text.eq_ignore_ascii_case("Not Supported");
    (!none).then_some(text)
}

/// A number field, tolerating a unit the `nounits` flag left (`24564 MiB`, `3 %`).
fn number(text: &str) -> Option<u64> {
    let text = field(text)?;
    let digits = text.split_whitespace().next()?;
    digits
        .parse::<u64>()
        .ok()
        .or_else(|| digits.parse::<f64>().ok().map(|v| v as u64))
}

/// Parses the output of `nvidia-smi --query-gpu=QUERY --format=csv,noheader,nounits`. A line
/// that does not parse (a warning the driver printed) is skipped, not fatal.
pub fn parse_query(output: &str) -> Hardware {
    let gpus = output.lines().filter_map(parse_line).collect();
    Hardware { gpus, cuda: None }
}

fn parse_line(line: &str) -> Option<Gpu> {
    let fields: Vec<&str> = line.split(',').collect();
    // index, uuid, name (which may itself hold commas), then four fields from the right.
    if fields.len() < 7 {
        return None;
    }
    let index = field(fields[0])?.parse().ok()?;
    let uuid = field(fields[1]).map(str::to_owned);
    let tail = &fields[fields.len() - 4..];
    let name = fields[2..fields.len() - 4].join(",").trim().to_owned();
    if name.is_empty() {
        return None;
    }
    Some(Gpu {
        index,
        uuid,
        name,
        memory_mb: number(tail[0])?,
        memory_used_mb: number(tail[1]),
        utilization: number(tail[2]).map(|u| u.min(100) as u8),
        driver: field(tail[3]).map(str::to_owned),
    })
}

/// The CUDA version in `nvidia-smi`'s summary header (`CUDA Version: 12.4`), or in its `-q`
/// report (`CUDA Version : 12.4`).
pub fn parse_cuda_version(output: &str) -> Option<String> {
    let at = output.find("CUDA Version")?;
    let rest = output[at + "CUDA Version".len()..].trim_start_matches([' ', ':']);
    let version: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    (!version.is_empty()).then_some(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Query output of single- and multi-GPU machines, in the format `detect` asks for, with
    /// memory totals as the drivers report them for these models.
    const RTX_4060_TI: &str = "0, GPU-6f1d2c7e-3a41-8b2d-9c55-0e7f41a2b3c4, NVIDIA GeForce RTX 4060 Ti, 16380, 612, 3, 550.54.14\n";
    const EIGHT_A100: &str = "\
0, GPU-0a1b2c3d-0000-1111-2222-333344445550, NVIDIA A100-SXM4-80GB, 81920, 0, 0, 535.129.03
1, GPU-0a1b2c3d-0000-1111-2222-333344445551, NVIDIA A100-SXM4-80GB, 81920, 0, 0, 535.129.03
2, GPU-0a1b2c3d-0000-1111-2222-333344445552, NVIDIA A100-SXM4-80GB, 81920, 40211, 97, 535.129.03
3, GPU-0a1b2c3d-0000-1111-2222-333344445553, NVIDIA A100-SXM4-80GB, 81920, 0, 0, 535.129.03
4, GPU-0a1b2c3d-0000-1111-2222-333344445554, NVIDIA A100-SXM4-80GB, 81920, 0, 0, 535.129.03
5, GPU-0a1b2c3d-0000-1111-2222-333344445555, NVIDIA A100-SXM4-80GB, 81920, 0, 0, 535.129.03
6, GPU-0a1b2c3d-0000-1111-2222-333344445556, NVIDIA A100-SXM4-80GB, 81920, 0, 0, 535.129.03
7, GPU-0a1b2c3d-0000-1111-2222-333344445557, NVIDIA A100-SXM4-80GB, 81920, 0, 0, 535.129.03
";
    const MIXED: &str = "\
0, GPU-11111111-2222-3333-4444-555555555555, NVIDIA H100 80GB HBM3, 81559, 1, 0, 570.86.15
1, GPU-66666666-7777-8888-9999-000000000000, NVIDIA L4, 23034, [N/A], [N/A], 570.86.15
2, GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee, Tesla T4, 15360, 0, [Not Supported], 570.86.15
";
    const SUMMARY_HEADER: &str = "\
Thu Nov 26 12:00:00 2026
+-----------------------------------------------------------------------------------------+
| NVIDIA-SMI 570.86.15              Driver Version: 570.86.15      CUDA Version: 12.8     |
|-----------------------------------------+------------------------+----------------------+
";

    /// Captured on a machine with one NVIDIA H100 (2026-11-26, driver 580.159.04), while a
    /// model server held 622 MiB of it: the query, then the whole summary table.
    const H100_QUERY: &str = "\
0, GPU-278035d0-8d56-f62d-d952-59ab65f0a1f6, NVIDIA H100 80GB HBM3, 81559, 631, 0, 580.159.04
";
    const H100_SUMMARY: &str = "\
Thu Nov 26 18:15:57 2026       
+-----------------------------------------------------------------------------------------+
| NVIDIA-SMI 580.159.04             Driver Version: 580.159.04     CUDA Version: 13.0     |
+-----------------------------------------+------------------------+----------------------+
| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |
| Fan  Temp   Perf          Pwr:Usage/Cap |           Memory-Usage | GPU-Util  Compute M. |
|                                         |                        |               MIG M. |
|=========================================+========================+======================|
|   0  NVIDIA H100 80GB HBM3          On  |   00000000:00:06.0 Off |                    0 |
| N/A   37C    P0             91W /  700W |     631MiB /  81559MiB |      0%      Default |
|                                         |                        |             Disabled |
+-----------------------------------------+------------------------+----------------------+

+-----------------------------------------------------------------------------------------+
| Processes:                                                                              |
|  GPU   GI   CI              PID   Type   Process name                        GPU Memory |
|        ID   ID                                                               Usage      |
|=========================================================================================|
|    0   N/A  N/A             440      C   python3                                 622MiB |
+-----------------------------------------------------------------------------------------+
";

    #[test]
    fn a_captured_h100_is_read_whole() {
        let hw = parse_query(H100_QUERY);
        assert_eq!(
            hw.gpus,
            vec![Gpu {
                index: 0,
                uuid: Some("GPU-278035d0-8d56-f62d-d952-59ab65f0a1f6".into()),
                name: "NVIDIA H100 80GB HBM3".into(),
                memory_mb: 81559,
                memory_used_mb: Some(631),
                utilization: Some(0),
                driver: Some("580.159.04".into()),
            }]
        );
        assert_eq!(parse_cuda_version(H100_SUMMARY).as_deref(), Some("13.0"));
    }

    #[test]
    fn a_consumer_gpu_is_read_whole() {
        let hw = parse_query(RTX_4060_TI);
        assert_eq!(
            hw.gpus,
            vec![Gpu {
                index: 0,
                uuid: Some("GPU-6f1d2c7e-3a41-8b2d-9c55-0e7f41a2b3c4".into()),
                name: "NVIDIA GeForce RTX 4060 Ti".into(),
                memory_mb: 16380,
                memory_used_mb: Some(612),
                utilization: Some(3),
                driver: Some("550.54.14".into()),
            }]
        );
        assert!(!hw.cpu_only());
    }

    #[test]
    fn every_gpu_of_a_multi_gpu_machine_is_read_in_order() {
        let hw = parse_query(EIGHT_A100);
        assert_eq!(hw.gpus.len(), 8);
        assert_eq!(
            hw.gpus.iter().map(|g| g.index).collect::<Vec<_>>(),
            (0..8).collect::<Vec<_>>()
        );
        assert!(
            hw.gpus
                .iter()
                .all(|g| g.name == "NVIDIA A100-SXM4-80GB" && g.memory_mb == 81920)
        );
        assert_eq!(hw.gpus[2].utilization, Some(97));
        assert_eq!(hw.gpus[2].memory_used_mb, Some(40211));
    }

    #[test]
    fn values_the_driver_does_not_report_are_absent_not_errors() {
        let hw = parse_query(MIXED);
        assert_eq!(hw.gpus.len(), 3);
        assert_eq!(hw.gpus[0].name, "NVIDIA H100 80GB HBM3");
        assert_eq!(hw.gpus[0].memory_mb, 81559);
        assert_eq!(hw.gpus[1].memory_used_mb, None);
        assert_eq!(hw.gpus[1].utilization, None);
        assert_eq!(hw.gpus[2].name, "Tesla T4");
        assert_eq!(hw.gpus[2].utilization, None);
        assert_eq!(hw.gpus[2].driver.as_deref(), Some("570.86.15"));
    }

    #[test]
    fn names_with_commas_units_and_stray_lines_are_tolerated() {
        let output = "\
WARNING: infoROM is corrupted at gpu 0000:01:00.0
0, GPU-1, NVIDIA RTX A6000, Ada Generation, 49140 MiB, 10 MiB, 5 %, 535.104.05

1, [N/A], NVIDIA GeForce RTX 3090, 24576, 300, 12, 535.104.05
";
        let hw = parse_query(output);
        assert_eq!(hw.gpus.len(), 2);
        assert_eq!(hw.gpus[0].name, "NVIDIA RTX A6000, Ada Generation");
        assert_eq!(hw.gpus[0].memory_mb, 49140);
        assert_eq!(hw.gpus[0].utilization, Some(5));
        assert_eq!(hw.gpus[1].uuid, None);
        assert_eq!(hw.gpus[1].memory_mb, 24576);
    }

    #[test]
    fn no_output_means_cpu_only() {
        assert!(parse_query("").cpu_only());
        assert!(parse_query("No devices were found\n").cpu_only());
    }

    #[test]
    fn the_cuda_version_comes_from_the_summary_or_the_report() {
        assert_eq!(parse_cuda_version(SUMMARY_HEADER).as_deref(), Some("12.8"));
        assert_eq!(
            parse_cuda_version("Driver Version                            : 470.82.01\nCUDA Version                              : 11.4\n")
                .as_deref(),
            Some("11.4")
        );
        assert_eq!(parse_cuda_version("no version here"), None);
    }

    /// A stand-in `nvidia-smi`: a shell script printing `query` for the query and `summary`
    /// otherwise, exiting with `code`.
    fn fake_smi(dir: &std::path::Path, query: &str, summary: &str, code: i32) -> String {
        let path = dir.join("nvidia-smi");
        let script = format!(
            "#!/bin/sh\ncase \"$1\" in --query-gpu=*) cat <<'EOF'\n{query}EOF\n;; *) cat <<'EOF'\n{summary}EOF\n;; esac\nexit {code}\n"
        );
        std::fs::write(&path, script).expect("write");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        path.display().to_string()
    }

    #[test]
    fn detect_runs_nvidia_smi_and_reads_its_cuda_version_or_its_failure() {
        let dir = tempfile::tempdir().expect("temp dir");
        let smi = fake_smi(dir.path(), EIGHT_A100, SUMMARY_HEADER, 0);
        let hw = detect(&smi).expect("detects");
        assert_eq!((hw.gpus.len(), hw.cuda.as_deref()), (8, Some("12.8")));
        // A long output (a summary listing many processes) is read whole, not left to block.
        let long = format!("{SUMMARY_HEADER}{}", "| process line |\n".repeat(10_000));
        let dir = tempfile::tempdir().expect("temp dir");
        let smi = fake_smi(dir.path(), RTX_4060_TI, &long, 0);
        assert_eq!(detect(&smi).expect("detects").cuda.as_deref(), Some("12.8"));
        let dir = tempfile::tempdir().expect("temp dir");
        let said =
            "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n";
        let smi = fake_smi(dir.path(), said, said, 9);
        let error = detect(&smi).expect_err("the driver is not loaded");
        assert!(
            error.to_string().contains("couldn't communicate"),
            "{error}"
        );
    }

    #[test]
    fn a_machine_without_the_driver_is_told_apart() {
        let error = detect("/nonexistent/nvidia-smi").expect_err("no such program");
        assert!(matches!(error, DetectError::NoDriver), "{error}");
    }
}
