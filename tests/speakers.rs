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
