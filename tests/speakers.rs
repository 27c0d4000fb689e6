//! The GE2E speaker encoder's weights: fetched from resemblyzer's wheel and read from its legacy
//! (non-zip) PyTorch checkpoint.

use rapporteur::speakers::torch_legacy::read_state_dict;

#[test]
fn ge2e_checkpoint_reads_with_the_expected_shapes() {
    let model = rapporteur::models::resolve_packaged("ge2e")
        .unwrap_or_else(|e| panic!("{e} (./scripts/test fetches it)"));
    let tensors = read_state_dict(&model.file("pretrained.pt"), Some("model_state")).unwrap();
    let shape = |name: &str| tensors[name].dims().to_vec();
    assert_eq!(shape("lstm.weight_ih_l0"), [1024, 40]);
    for l in 0..3 {
        assert_eq!(shape(&format!("lstm.weight_hh_l{l}")), [1024, 256]);
        assert_eq!(shape(&format!("lstm.bias_ih_l{l}")), [1024]);
        assert_eq!(shape(&format!("lstm.bias_hh_l{l}")), [1024]);
    }
    assert_eq!(shape("lstm.weight_ih_l1"), [1024, 256]);
    assert_eq!(shape("linear.weight"), [256, 256]);
    assert_eq!(shape("linear.bias"), [256]);
    let params: usize = tensors
        .iter()
        .filter(|(k, _)| k.starts_with("lstm.") || k.starts_with("linear."))
        .map(|(_, t)| t.elem_count())
        .sum();
    // 40x1024 + 2 x 256x1024 + 2 x 1024 (layer 0), twice 2 x 256x1024 + 2 x 1024, 256x256 + 256.
    assert_eq!(params, 1_423_616, "GE2E has 1.42 M parameters");
    // Real weights, not zeros or garbage.
    let w = tensors["linear.weight"]
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert!(w.iter().all(|v| v.is_finite()));
    let mean_abs = w.iter().map(|v| v.abs()).sum::<f32>() / w.len() as f32;
    assert!(mean_abs > 1e-3 && mean_abs < 1.0, "{mean_abs}");
}

#[test]
fn other_files_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pt");
    std::fs::write(&junk, b"not a checkpoint at all").unwrap();
    assert!(read_state_dict(&junk, Some("model_state")).is_err());
    // A truncated checkpoint: the storages are cut short.
    let model = rapporteur::models::resolve_packaged("ge2e").unwrap();
    let bytes = std::fs::read(model.file("pretrained.pt")).unwrap();
    let cut = dir.path().join("cut.pt");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let err = read_state_dict(&cut, Some("model_state")).unwrap_err();
    assert!(err.contains("truncated"), "{err}");
}

#[test]
fn ge2e_port_matches_resemblyzer() {
    use rapporteur::speakers::ge2e::Ge2e;
    let fixture: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/speakers/ge2e.reference.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let wav = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/B_der/pyannote_sample/sample.wav");
    assert!(wav.exists(), "shared data missing: {}", wav.display());
    let mut r = hound::WavReader::open(&wav).unwrap();
    let mut samples: Vec<f32> = r
        .samples::<i16>()
        .map(|s| s.unwrap() as f32 / 32768.0)
        .take(8 * 16_000)
        .collect();
    assert_eq!(samples.len() as u64, fixture["samples"].as_u64().unwrap());
    samples.resize(fixture["padded_samples"].as_u64().unwrap() as usize, 0.0);

    let model = rapporteur::models::resolve_packaged("ge2e").unwrap();
    let enc = Ge2e::load(&model.file("pretrained.pt")).unwrap();
    let mel = enc.mel(&samples);
    assert_eq!(mel.len() as u64, fixture["mel_frames"].as_u64().unwrap());
    for probe in fixture["mel_probe"].as_array().unwrap() {
        let (i, j) = (
            probe[0].as_u64().unwrap() as usize,
            probe[1].as_u64().unwrap() as usize,
        );
        let want = probe[2].as_f64().unwrap() as f32;
        assert!(
            (mel[i][j] - want).abs() <= 1e-4 * want.abs().max(1e-3),
            "mel[{i}][{j}] = {} vs {want}",
            mel[i][j]
        );
    }
    let windows: Vec<&[[f32; 40]]> = fixture["mel_slices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &mel[s[0].as_u64().unwrap() as usize..s[1].as_u64().unwrap() as usize])
        .collect();
    let ours = enc.embed_windows(&windows).unwrap();
    let theirs = fixture["partials"].as_array().unwrap();
    assert_eq!(ours.len(), theirs.len());
    let mut worst = 1.0f32;
    for (a, b) in ours.iter().zip(theirs) {
        let b: Vec<f32> = b
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        let cos = a.iter().zip(&b).map(|(x, y)| x * y).sum::<f32>()
            / (a.iter().map(|x| x * x).sum::<f32>().sqrt()
                * b.iter().map(|x| x * x).sum::<f32>().sqrt());
        worst = worst.min(cos);
    }
    eprintln!("lowest cosine to resemblyzer: {worst}");
    assert!(worst >= 0.999, "lowest cosine {worst}");
}
