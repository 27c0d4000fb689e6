//! deploy/: the Kubernetes manifests are valid Job objects for Kubernetes 1.29 and the newest
//! schema kubernetes-validate bundles, meet Pod Security "restricted" with a read-only root, and
//! fail the Job at once on the exit codes every pod would share; deploy/k8s/submit merges after
//! a batch Job that failed as well as after one that completed (a stub `kubectl` plays the
//! cluster); deploy/slurm/submit gives the scheduler options to both jobs (a stub `sbatch`).

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const INSTALL: &str = "kubernetes-validate is missing: install it with \
     `python3 -m pip install kubernetes-validate` (./scripts/test does)";

fn k8s_manifests() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(common::root().join("deploy/k8s"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "deploy/k8s has no manifests: {files:?}");
    files
}

fn python(code: &str, args: &[&str]) -> Output {
    Command::new("python3")
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .expect("python3 runs")
}

/// Fails loudly, with the install line, when kubernetes-validate (and so PyYAML) is missing.
fn require_kubernetes_validate() {
    let out = python("import kubernetes_validate, yaml", &[]);
    assert!(
        out.status.success(),
        "{INSTALL}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The documents of a YAML file, as JSON (PyYAML comes with kubernetes-validate; serde_yaml is
/// not a dependency of this crate).
fn yaml_docs(path: &Path) -> Vec<Value> {
    require_kubernetes_validate();
    let out = python(
        "import sys, json, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))",
        &[path.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn job(path: &Path) -> Value {
    let docs = yaml_docs(path);
    assert_eq!(docs.len(), 1, "{}: one Job per file", path.display());
    assert_eq!(docs[0]["kind"], "Job", "{}", path.display());
    docs[0].clone()
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn k8s_manifests_validate_against_kubernetes_1_29_and_the_newest_schema() {
    require_kubernetes_validate();
    let newest = python(
        "import kubernetes_validate.utils as u; print(u.latest_version())",
        &[],
    );
    let newest = String::from_utf8(newest.stdout).unwrap().trim().to_string();
    let minor: u32 = newest
        .split('.')
        .nth(1)
        .and_then(|m| m.parse().ok())
        .unwrap_or_else(|| panic!("newest version '{newest}'"));
    assert!(
        minor >= 29,
        "kubernetes-validate knows only up to {newest}: upgrade it"
    );
    for file in k8s_manifests() {
        // --strict: an unknown field (a typo such as `seccompprofile`) is an error, not ignored
        let out = Command::new("python3")
            .args(["-m", "kubernetes_validate", "--strict"])
            .args([
                "--kubernetes-version",
                "1.29.0",
                "--kubernetes-version",
                &newest,
            ])
            .arg(&file)
            .output()
            .unwrap();
        let all = text(&out);
        assert!(out.status.success(), "{}: {all}", file.display());
        let minor_newest = newest
            .rsplit_once('.')
            .map_or(newest.as_str(), |(mm, _)| mm);
        for v in ["1.29", minor_newest] {
            let suffix = format!("against version {v}");
            assert!(
                all.lines()
                    .any(|l| l.contains("passed for resource job/") && l.ends_with(&suffix)),
                "{}: not validated against {v}: {all}",
                file.display()
            );
        }
    }
}

/// The Pod Security Standard "restricted" (kubernetes.io/docs/concepts/security/pod-security-standards),
/// checked field by field, plus readOnlyRootFilesystem, which "restricted" does not ask for.
#[test]
fn k8s_jobs_pass_pod_security_restricted_with_a_read_only_root() {
    let allowed_volumes: BTreeSet<&str> = [
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    ]
    .into();
    for file in k8s_manifests() {
        let f = file.display();
        let job = job(&file);
        let pod = &job["spec"]["template"]["spec"];
        let psc = &pod["securityContext"];
        // Only fields that "restricted" allows as used here: no sysctls, SELinux, AppArmor,
        // procMount or Windows options, which would each need a check of their own.
        let keys = |v: &Value| -> Vec<String> {
            v.as_object()
                .map_or(vec![], |o| o.keys().cloned().collect())
        };
        let pod_ok = [
            "runAsNonRoot",
            "runAsUser",
            "runAsGroup",
            "fsGroup",
            "seccompProfile",
        ];
        for k in keys(psc) {
            assert!(
                pod_ok.contains(&k.as_str()),
                "{f}: pod securityContext.{k}: not checked here"
            );
        }
        for host in ["hostNetwork", "hostPID", "hostIPC"] {
            assert_ne!(pod[host], true, "{f}: {host}");
        }
        for v in pod["volumes"].as_array().into_iter().flatten() {
            let kinds: Vec<&str> = v
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .filter(|k| *k != "name")
                .collect();
            assert!(
                kinds.iter().all(|k| allowed_volumes.contains(k)),
                "{f}: volume {v}"
            );
        }
        let containers: Vec<&Value> = ["containers", "initContainers"]
            .iter()
            .flat_map(|k| pod[*k].as_array().into_iter().flatten())
            .collect();
        assert!(!containers.is_empty(), "{f}: no containers");
        for c in containers {
            let name = &c["name"];
            let sc = &c["securityContext"];
            let container_ok = [
                "allowPrivilegeEscalation",
                "readOnlyRootFilesystem",
                "capabilities",
                "runAsNonRoot",
                "runAsUser",
                "runAsGroup",
                "seccompProfile",
            ];
            for k in keys(sc) {
                assert!(
                    container_ok.contains(&k.as_str()),
                    "{f}: {name}: securityContext.{k}: not checked here"
                );
            }
            let either = |k: &str| if sc[k].is_null() { &psc[k] } else { &sc[k] };
            assert_eq!(
                either("seccompProfile")["type"],
                "RuntimeDefault",
                "{f}: {name}: seccompProfile"
            );
            assert_eq!(*either("runAsNonRoot"), true, "{f}: {name}: runAsNonRoot");
            let uid = either("runAsUser");
            assert!(
                uid.as_u64().is_some_and(|u| u > 0),
                "{f}: {name}: runAsUser {uid}"
            );
            assert_eq!(
                sc["allowPrivilegeEscalation"], false,
                "{f}: {name}: allowPrivilegeEscalation"
            );
            assert_ne!(sc["privileged"], true, "{f}: {name}: privileged");
            assert_eq!(
                sc["capabilities"]["drop"],
                serde_json::json!(["ALL"]),
                "{f}: {name}: drop ALL"
            );
            for cap in sc["capabilities"]["add"].as_array().into_iter().flatten() {
                assert_eq!(cap, "NET_BIND_SERVICE", "{f}: {name}: adds {cap}");
            }
            for port in c["ports"].as_array().into_iter().flatten() {
                assert!(port["hostPort"].is_null(), "{f}: {name}: hostPort");
            }
            assert_eq!(
                sc["readOnlyRootFilesystem"], true,
                "{f}: {name}: readOnlyRootFilesystem"
            );
            // A read-only root needs somewhere to write: /out for rapporteur, /tmp for the rest.
            let mounts: Vec<&str> = c["volumeMounts"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| m["readOnly"] != true)
                .map(|m| m["mountPath"].as_str().unwrap())
                .collect();
            for want in ["/out", "/tmp"] {
                assert!(
                    mounts.contains(&want),
                    "{f}: {name}: no writable {want}: {mounts:?}"
                );
            }
        }
    }
}

/// 2 (usage), 3 (bad manifest, no recordings) and 5 (models) would fail every pod alike: FailJob,
/// not 3 retries per index. No exit code may be Ignored (an ignored failure is retried forever).
#[test]
fn k8s_batch_job_fails_at_once_on_exit_2_3_5_and_retries_nothing_forever() {
    let job = job(&common::root().join("deploy/k8s/batch-job.yaml"));
    let rules = job["spec"]["podFailurePolicy"]["rules"].as_array().unwrap();
    let codes = |action: &str| -> BTreeSet<i64> {
        rules
            .iter()
            .filter(|r| r["action"] == action && r["onExitCodes"]["operator"] == "In")
            .flat_map(|r| {
                r["onExitCodes"]["values"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_i64().unwrap())
            })
            .collect()
    };
    let fail_job = codes("FailJob");
    for code in [2, 3, 5] {
        assert!(
            fail_job.contains(&code),
            "exit {code} is not in the FailJob rule: {fail_job:?}"
        );
    }
    assert!(
        !fail_job.contains(&6),
        "exit 6 (finished, some recordings failed) must not fail the Job"
    );
    assert!(
        rules
            .iter()
            .all(|r| r["action"] != "Ignore" || r["onExitCodes"].is_null()),
        "an Ignore rule on exit codes retries without limit: {rules:?}"
    );
}

/// Runs the batch pod's own shell script with a stub `rapporteur` that exits `rc`.
fn run_pod_script(rc: i32, completion_index: &str) -> (Output, String) {
    let job = job(&common::root().join("deploy/k8s/batch-job.yaml"));
    let c = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["command"], serde_json::json!(["/bin/sh", "-c"]));
    let script = c["args"][0].as_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("bin");
    for d in ["bin", "archive", "out", "models"] {
        std::fs::create_dir(tmp.path().join(d)).unwrap();
    }
    let args_file = tmp.path().join("args");
    write_exe(
        &bin.join("rapporteur"),
        &format!(
            "#!/bin/sh\necho \"$@\" > '{}'\nexit {rc}\n",
            args_file.display()
        ),
    );
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(script).env_clear();
    cmd.env("PATH", format!("{}:/usr/bin:/bin", bin.display()));
    for e in c["env"].as_array().unwrap() {
        cmd.env(e["name"].as_str().unwrap(), e["value"].as_str().unwrap());
    }
    cmd.env("ARCHIVE", tmp.path().join("archive"))
        .env("OUT", tmp.path().join("out"))
        .env("RAPPORTEUR_MODELS", tmp.path().join("models"))
        .env("HOME", tmp.path())
        .env("TMPDIR", tmp.path())
        .env("JOB_COMPLETION_INDEX", completion_index);
    let out = cmd.output().unwrap();
    let args = std::fs::read_to_string(&args_file).unwrap_or_default();
    (out, args)
}

#[test]
fn k8s_batch_pod_turns_exit_6_into_success_and_passes_other_codes_on() {
    for (rc, want) in [(0, 0), (6, 0), (2, 2), (3, 3), (5, 5), (130, 130)] {
        let (out, args) = run_pod_script(rc, "2");
        assert_eq!(
            out.status.code(),
            Some(want),
            "rapporteur exits {rc}: {}",
            text(&out)
        );
        assert!(
            args.contains("--shard 3/8 --resume"),
            "index 2 is shard 3 of 8: {args}"
        );
    }
    // an index past SHARDS is a configuration error: exit 2, FailJob, rapporteur never started
    let (out, args) = run_pod_script(0, "8");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(args.is_empty());
}

fn write_exe(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A `kubectl` that plays a cluster: it records every call in $STUB/calls, a Job exists once
/// applied, the batch Job ends ($STUB_BATCH: Failed, Complete or never) on the third look at
/// its conditions and then still has a pod stopping for two more looks; the merge Job ends at
/// the first look, Failed with exit $STUB_MERGE_RC unless that is 0.
const STUB_KUBECTL: &str = r#"#!/usr/bin/env bash
s=$STUB
args="$*"
echo "$args" >> "$s/calls"
name=
[[ $args =~ (rapporteur-batch|rapporteur-merge-index) ]] && name=${BASH_REMATCH[1]}
count() { local n; n=$(( $(cat "$s/$1" 2>/dev/null || echo 0) + 1 )); echo $n > "$s/$1"; echo $n; }
ended() {
  if [[ $name == rapporteur-merge-index ]]; then
    [[ ${STUB_MERGE_RC:-0} == 0 ]] && echo Complete || echo Failed
  elif [[ $STUB_BATCH != never && $(cat "$s/polls-$name" 2>/dev/null || echo 0) -ge 3 ]]; then
    echo "$STUB_BATCH"
  fi
}
case "$1 $2" in
  "get job")
    [[ -e $s/applied-$name ]] || { echo "Error from server (NotFound): jobs.batch \"$name\" not found" >&2; exit 1; }
    case $args in
      *"-o name"*) echo "job.batch/$name" ;;
      *'@.status=="True"'*)
        count "polls-$name" >/dev/null
        case $(ended) in
          Failed) printf 'FailureTarget\nFailed\n' ;;
          Complete) printf 'SuccessCriteriaMet\nComplete\n' ;;
        esac ;;
      *'@.type=="Failed")].reason'*) printf PodFailurePolicy ;;
      *failedIndexes*) printf 2 ;;
    esac ;;
  "get pods")
    case $args in
      *field-selector*)
        if [[ $name == rapporteur-batch && $(count "left-$name") -le 2 ]]; then echo "pod/$name-2-x7k2q"; fi ;;
      *exitCode*) printf '%s' "${STUB_MERGE_RC:-0}" ;;
    esac ;;
  "apply -f")
    case $3 in
      */batch-job.yaml) name=rapporteur-batch ;;
      */merge-index-job.yaml) name=rapporteur-merge-index ;;
    esac
    touch "$s/applied-$name"
    echo "job.batch/$name created" ;;
  "delete job")
    [[ -e $s/applied-$name || $args == *ignore-not-found* ]] || exit 1
    rm -f "$s/applied-$name" "$s/polls-$name" "$s/left-$name" ;;
  "logs job/rapporteur-merge-index")
    echo '{"key":"a.wav","status":"ok"}'
    echo '{"key":"b.wav","status":"failed"}'
    echo 'rapporteur: 1 of 2 recordings failed' ;;
  *) echo "stub kubectl: unexpected: $args" >&2; exit 99 ;;
esac
"#;

struct K8s {
    dir: tempfile::TempDir,
    out: Output,
}

impl K8s {
    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("calls"))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }
    fn position(&self, what: &str) -> Option<usize> {
        self.calls().iter().position(|c| c.contains(what))
    }
}

fn k8s_submit(batch: &str, merge_rc: i32, batch_running: bool, args: &[&str]) -> K8s {
    let dir = tempfile::tempdir().unwrap();
    write_exe(&dir.path().join("kubectl"), STUB_KUBECTL);
    if batch_running {
        std::fs::write(dir.path().join("applied-rapporteur-batch"), "").unwrap();
    }
    let path = format!(
        "{}:{}",
        dir.path().display(),
        std::env::var("PATH").unwrap()
    );
    let out = Command::new(common::root().join("deploy/k8s/submit"))
        .args(args)
        .env("PATH", path)
        .env("STUB", dir.path())
        .env("STUB_BATCH", batch)
        .env("STUB_MERGE_RC", merge_rc.to_string())
        .env("POLL_SECONDS", "0")
        .output()
        .unwrap();
    K8s { dir, out }
}

#[test]
fn k8s_submit_applies_the_merge_after_a_failed_batch_job() {
    let run = k8s_submit("Failed", 6, false, &["--namespace=transcripts"]);
    let calls = run.calls();
    let all = format!("{}\n--- calls\n{}", text(&run.out), calls.join("\n"));
    assert_eq!(
        run.out.status.code(),
        Some(6),
        "merge-index's exit code: {all}"
    );
    let merge = run.position("merge-index-job.yaml").expect(&all);
    assert!(run.position("batch-job.yaml").unwrap() < merge, "{all}");
    // not before the Job failed, nor while one of its pods was still stopping (it holds a lock)
    let last_batch_look = calls
        .iter()
        .rposition(|c| {
            c.contains("rapporteur-batch")
                && (c.contains("field-selector") || c.contains("@.status"))
        })
        .unwrap();
    assert!(last_batch_look < merge, "{all}");
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.contains("field-selector") && c.contains("rapporteur-batch"))
            .count(),
        3,
        "two looks with a pod stopping, then none: {all}"
    );
    assert!(
        calls.iter().all(|c| c.ends_with("--namespace=transcripts")),
        "kubectl options on every call: {all}"
    );
    assert_eq!(
        String::from_utf8_lossy(&run.out.stdout),
        "{\"key\":\"a.wav\",\"status\":\"ok\"}\n{\"key\":\"b.wav\",\"status\":\"failed\"}\n",
        "stdout is the merged index only: {all}"
    );
    let stderr = String::from_utf8_lossy(&run.out.stderr);
    assert!(
        stderr.contains(
            "rapporteur-batch failed (PodFailurePolicy; failed indexes 2): merging anyway"
        ),
        "{all}"
    );
    assert!(
        stderr.contains("rapporteur: 1 of 2 recordings failed"),
        "{all}"
    );
}

#[test]
fn k8s_submit_applies_the_merge_after_a_completed_batch_job() {
    let run = k8s_submit("Complete", 0, false, &[]);
    let all = format!("{}\n--- calls\n{}", text(&run.out), run.calls().join("\n"));
    assert_eq!(run.out.status.code(), Some(0), "{all}");
    assert!(run.position("merge-index-job.yaml").is_some(), "{all}");
    assert!(
        String::from_utf8_lossy(&run.out.stderr).contains("rapporteur-batch completed"),
        "{all}"
    );
}

#[test]
fn k8s_submit_times_out_without_merging_while_the_batch_job_runs() {
    let run = k8s_submit("never", 0, false, &["-t", "0"]);
    let all = format!("{}\n--- calls\n{}", text(&run.out), run.calls().join("\n"));
    assert_eq!(run.out.status.code(), Some(124), "{all}");
    assert!(
        run.position("merge-index").is_none(),
        "merge applied while the batch runs: {all}"
    );
}

#[test]
fn k8s_submit_waits_for_a_running_batch_job_instead_of_replacing_it() {
    let run = k8s_submit("Failed", 0, true, &[]);
    let all = format!("{}\n--- calls\n{}", text(&run.out), run.calls().join("\n"));
    assert_eq!(run.out.status.code(), Some(0), "{all}");
    assert!(
        run.position("delete job rapporteur-batch").is_none(),
        "{all}"
    );
    assert!(run.position("batch-job.yaml").is_none(), "{all}");
    assert!(run.position("merge-index-job.yaml").is_some(), "{all}");
}

#[test]
fn slurm_submit_passes_scheduler_options_to_both_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let calls = dir.path().join("calls");
    // one line per sbatch call, arguments separated by '|'; job ids 1234 then 1235
    write_exe(
        &dir.path().join("sbatch"),
        &format!(
            "#!/usr/bin/env bash\n(IFS='|'; echo \"$*\") >> '{c}'\necho \"$(( 1233 + $(wc -l < '{c}') ));cluster\"\n",
            c = calls.display()
        ),
    );
    for d in ["archive", "out", "models"] {
        std::fs::create_dir(dir.path().join(d)).unwrap();
    }
    let path = format!(
        "{}:{}",
        dir.path().display(),
        std::env::var("PATH").unwrap()
    );
    let out = Command::new(common::root().join("deploy/slurm/submit"))
        .args([
            "-n",
            "8",
            "--partition=cpu",
            "--account=proj",
            "--cpus-per-task=4",
        ])
        .env("PATH", path)
        .env("ARCHIVE", dir.path().join("archive"))
        .env("OUT", dir.path().join("out"))
        .env("RAPPORTEUR_MODELS", dir.path().join("models"))
        .env("LOG_DIR", dir.path().join("logs"))
        .output()
        .unwrap();
    let lines = std::fs::read_to_string(&calls).unwrap_or_default();
    let all = format!("{}\n--- sbatch calls\n{lines}", text(&out));
    assert!(out.status.success(), "{all}");
    let calls: Vec<Vec<&str>> = lines.lines().map(|l| l.split('|').collect()).collect();
    assert_eq!(calls.len(), 2, "{all}");
    for (call, script) in calls.iter().zip(["batch.sbatch", "merge.sbatch"]) {
        assert!(call.last().unwrap().ends_with(script), "{all}");
        for opt in ["--partition=cpu", "--account=proj"] {
            assert!(call.contains(&opt), "{script} lacks {opt}: {all}");
        }
    }
    assert!(calls[0].contains(&"--array=1-8"), "{all}");
    assert!(!calls[1].iter().any(|a| a.starts_with("--array")), "{all}");
    // submit's own dependency comes after the user's options, so it is the one sbatch keeps
    let dep = calls[1]
        .iter()
        .position(|a| *a == "--dependency=afterany:1234")
        .expect(&all);
    assert!(
        calls[1]
            .iter()
            .position(|a| *a == "--partition=cpu")
            .unwrap()
            < dep,
        "{all}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("array job: 1234") && stdout.contains("merge job: 1235"),
        "{all}"
    );
}

#[test]
fn deploy_scripts_parse() {
    let root = common::root();
    for script in [
        "deploy/slurm/submit",
        "deploy/slurm/batch.sbatch",
        "deploy/slurm/merge.sbatch",
        "deploy/k8s/submit",
    ] {
        let out = Command::new("bash")
            .arg("-n")
            .arg(root.join(script))
            .output()
            .unwrap();
        assert!(out.status.success(), "{script}: {}", text(&out));
    }
    // the batch pod's script runs under /bin/sh, which need not be bash
    let job = job(&root.join("deploy/k8s/batch-job.yaml"));
    let script = job["spec"]["template"]["spec"]["containers"][0]["args"][0]
        .as_str()
        .unwrap();
    let out = Command::new("/bin/sh")
        .arg("-n")
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    assert!(out.status.success(), "batch pod script: {}", text(&out));
}

/// `kubectl wait --for=condition=complete` alone waits out its timeout for a failed Job and the
/// merge is never applied: no documented flow may rely on it.
#[test]
fn deploy_docs_never_wait_for_complete_alone() {
    let root = common::root();
    let mut files = vec![root.join("README.md"), root.join("deploy/README.md")];
    files.extend(k8s_manifests());
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for (i, line) in text.lines().enumerate() {
            let t = line.trim_start_matches(['#', ' ']);
            assert!(
                !(t.starts_with("kubectl wait") && t.contains("condition=complete")),
                "{}:{}: {line}",
                f.display(),
                i + 1
            );
        }
    }
}
