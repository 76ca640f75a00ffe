//! Float inference through ONNX Runtime against the conformance corpus, plus input.json parsing.
//!
//! Needs the ONNX Runtime library (scripts/setup.sh installs it; see `ort_support`).

mod ort_support;

use std::path::PathBuf;

use ort_support::ort;
use zkinfer_models::float::{init_onnxruntime, Device, FloatError, FloatModel, OrtLibrary};
use zkinfer_models::input_json::{ExpectedOutput, InputData, InputError};
use zkinfer_models::tensor::{DType, Tensor};

fn corpus() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/onnx-corpus"))
}

/// `input_mapping[].shape_used` of a model in catalog.json.
fn shapes_used(model: &str) -> Vec<Vec<usize>> {
    let text = std::fs::read_to_string(corpus().join("catalog.json")).expect("catalog.json");
    let catalog: serde_json::Value = serde_json::from_str(&text).expect("catalog.json parses");
    let entry = catalog["models"]
        .as_array()
        .expect("models list")
        .iter()
        .find(|m| m["name"] == model)
        .unwrap_or_else(|| panic!("{model} not in catalog"));
    entry["input_mapping"]
        .as_array()
        .expect("input_mapping")
        .iter()
        .map(|m| m["shape_used"].as_array().expect("shape_used").iter().map(|d| d.as_u64().expect("dim") as usize).collect())
        .collect()
}

fn load(model: &str) -> FloatModel {
    FloatModel::load_file(&ort(), corpus().join(model).join("network.onnx"), Device::Cpu).unwrap_or_else(|e| panic!("loading {model}: {e}"))
}

fn check_model(model: &str) {
    let dir = corpus().join(model);
    let input = InputData::from_path(dir.join("input.json")).expect("input.json");
    let expected = ExpectedOutput::from_path(dir.join("expected_output.json")).expect("expected_output.json");
    let shapes = shapes_used(model);
    let mut m = load(model);
    assert_eq!(m.input_specs().len(), shapes.len(), "{model}: input count");

    let tensors: Vec<Tensor> = input
        .input_data
        .iter()
        .zip(&shapes)
        .zip(m.input_specs())
        .map(|((data, shape), spec)| Tensor::new(shape.clone(), data.clone(), spec.dtype.unwrap_or(DType::F32)))
        .collect();
    let outputs = m.run(&tensors).unwrap_or_else(|e| panic!("running {model}: {e}"));

    assert_eq!(outputs.len(), expected.output_data.len(), "{model}: output count");
    for (k, (got, want)) in outputs.iter().zip(&expected.output_data).enumerate() {
        if let Some(shapes) = &expected.output_shapes {
            assert_eq!(got.shape, shapes[k], "{model}: output {k} shape");
        }
        assert_eq!(got.data.len(), want.len(), "{model}: output {k} length");
        for (i, (g, w)) in got.data.iter().zip(want).enumerate() {
            assert!((g - w).abs() <= 1e-5, "{model}: output {k}[{i}] = {g}, expected {w}");
        }
    }
}

#[test]
fn library_loads_once_per_process() {
    let path = ort().path;
    assert!(path.is_file(), "{}", path.display());
    assert_eq!(init_onnxruntime(&ort()).expect("init"), path);
    // One library per process: once one is loaded, another is refused (before it is opened).
    let other = std::env::temp_dir().join(format!("zkinfer-not-onnxruntime-{}.so", std::process::id()));
    std::fs::write(&other, b"not a library").unwrap();
    let err = FloatModel::load(&OrtLibrary::new(&other), b"", Device::Cpu).unwrap_err();
    std::fs::remove_file(&other).unwrap();
    assert!(matches!(err, FloatError::LibraryLoad { .. }) && err.to_string().contains("already"), "{err}");
    let missing = OrtLibrary::new("/nonexistent/libonnxruntime.so");
    assert!(init_onnxruntime(&missing).is_err());
}

#[test]
fn corpus_1l_mlp() {
    check_model("1l_mlp");
}

#[test]
fn corpus_2l_relu_fc() {
    check_model("2l_relu_fc");
}

#[test]
fn corpus_eye() {
    check_model("eye");
}

#[test]
fn corpus_1l_concat() {
    check_model("1l_concat");
}

#[test]
fn corpus_boolean_identity() {
    check_model("boolean_identity");
    let m = load("boolean_identity");
    assert_eq!(m.input_specs()[0].dtype, Some(DType::Bool));
    assert_eq!(m.input_specs()[0].dims, vec![None, Some(3)]);
    assert_eq!(m.output_specs()[0].dtype, Some(DType::Bool));
}

#[test]
fn bool_output_dtype() {
    let mut m = load("boolean_identity");
    let out = m.run(&[Tensor::new(vec![2, 3], vec![1.0, 0.0, 1.0, 0.0, 0.0, 1.0], DType::Bool)]).unwrap();
    assert_eq!(out[0].dtype, DType::Bool);
    assert_eq!(out[0].shape, vec![2, 3]);
    assert_eq!(out[0].data, vec![1.0, 0.0, 1.0, 0.0, 0.0, 1.0]);
}

#[test]
fn truncated_model_is_an_error() {
    let bytes = std::fs::read(corpus().join("1l_mlp/network.onnx")).unwrap();
    for cut in [0, 1, bytes.len() / 2, bytes.len() - 1] {
        match FloatModel::load(&ort(), &bytes[..cut], Device::Cpu) {
            Err(FloatError::ModelLoad(msg)) => assert!(!msg.is_empty()),
            Err(e) => panic!("unexpected error kind for cut {cut}: {e}"),
            Ok(_) => panic!("truncated model (cut at {cut}) loaded"),
        }
    }
    assert!(FloatModel::load(&ort(), b"definitely not onnx", Device::Cpu).is_err());
}

#[test]
fn wrong_number_of_inputs_is_an_error() {
    let mut m = load("1l_mlp");
    let x = Tensor::new(vec![1, 3], vec![1.0, 2.0, 3.0], DType::F32);
    let err = m.run(&[x.clone(), x.clone()]).unwrap_err();
    assert!(matches!(err, FloatError::InputCount { expected: 1, got: 2, .. }), "{err}");
    let err = m.run(&[]).unwrap_err();
    assert!(matches!(err, FloatError::InputCount { expected: 1, got: 0, .. }), "{err}");
    // the model is still usable afterwards
    assert_eq!(m.run(&[x]).unwrap()[0].shape, vec![1, 4]);
}

#[test]
fn shape_and_value_errors() {
    let mut m = load("1l_mlp");
    // wrong fixed dimension
    let err = m.run(&[Tensor::new(vec![1, 4], vec![0.0; 4], DType::F32)]).unwrap_err();
    assert!(matches!(err, FloatError::InputShape { index: 0, .. }), "{err}");
    // wrong rank
    let err = m.run(&[Tensor::new(vec![3], vec![0.0; 3], DType::F32)]).unwrap_err();
    assert!(matches!(err, FloatError::InputShape { .. }), "{err}");
    // data length does not match the shape (built without Tensor::new's debug assertion)
    let bad = Tensor { shape: vec![1, 3], data: vec![0.0; 2], dtype: DType::F32 };
    let err = m.run(&[bad]).unwrap_err();
    assert!(matches!(err, FloatError::InputValue { .. }), "{err}");
    // dynamic batch dim
    let out = m.run(&[Tensor::new(vec![2, 3], vec![0.5; 6], DType::F32)]).unwrap();
    assert_eq!(out[0].shape, vec![2, 4]);
    assert_eq!(out[0].dtype, DType::F32);

    let mut b = load("boolean_identity");
    let err = b.run(&[Tensor::new(vec![1, 3], vec![0.0, 2.0, 1.0], DType::Bool)]).unwrap_err();
    assert!(matches!(err, FloatError::InputValue { .. }), "{err}");
}

#[test]
fn cuda_is_an_error_or_works() {
    let bytes = std::fs::read(corpus().join("1l_mlp/network.onnx")).unwrap();
    match FloatModel::load(&ort(), &bytes, Device::Cuda) {
        Ok(mut m) => {
            let out = m.run(&[Tensor::new(vec![1, 3], vec![1.5417295, 0.5346153, 1.2172532], DType::F32)]).unwrap();
            assert!((out[0].data[0] - 0.2736676037311554).abs() < 1e-4);
        }
        Err(e) => {
            assert!(matches!(e, FloatError::CudaUnavailable(_)), "{e}");
            eprintln!("CUDA unavailable (expected with the CPU wheel): {e}");
        }
    }
}

// ------------------------------------------------------------------------------------------
// input.json
// ------------------------------------------------------------------------------------------

#[test]
fn parse_corpus_input_json() {
    let d = InputData::from_path(corpus().join("1l_mlp/input.json")).unwrap();
    assert_eq!(d.input_data, vec![vec![1.5417295, 0.5346153, 1.2172532]]);
    assert_eq!(d.input_shapes, Some(vec![vec![1, 3]]));
    assert_eq!(d.num_samples(), 1);
    assert!(!d.is_multi_sample());

    let d = InputData::from_path(corpus().join("1l_concat/input.json")).unwrap();
    assert_eq!(d.input_data.len(), 1);
    assert_eq!(d.input_data[0].len(), 72);

    let e = ExpectedOutput::from_path(corpus().join("1l_mlp/expected_output.json")).unwrap();
    assert_eq!(e.output_data, vec![vec![0.2736676037311554, 0.6484845280647278, 0.0, 0.0]]);
    assert_eq!(e.output_shapes, Some(vec![vec![1, 4]]));
    assert_eq!(e.output_names, Some(vec!["output".to_string()]));
    assert_eq!(e.output_dtypes, Some(vec!["float32".to_string()]));
}

#[test]
fn parse_all_corpus_input_files() {
    let mut n = 0;
    for entry in std::fs::read_dir(corpus()).unwrap() {
        let dir = entry.unwrap().path();
        let input = dir.join("input.json");
        if input.is_file() {
            InputData::from_path(&input).unwrap_or_else(|e| panic!("{}: {e}", input.display()));
            n += 1;
        }
        let expected = dir.join("expected_output.json");
        if expected.is_file() {
            ExpectedOutput::from_path(&expected).unwrap_or_else(|e| panic!("{}: {e}", expected.display()));
        }
    }
    assert!(n > 50, "only {n} input.json files");
}

#[test]
fn parse_bools() {
    let d = InputData::from_path(corpus().join("boolean_identity/input.json")).unwrap();
    assert_eq!(d.input_data, vec![vec![0.0, 1.0, 0.0]]);
    assert_eq!(d.input_shapes, None);
    let d = InputData::from_json_str(r#"{"input_data": [[true, 0, 1.5, false]]}"#).unwrap();
    assert_eq!(d.input_data, vec![vec![1.0, 0.0, 1.5, 0.0]]);
}

#[test]
fn parse_multi_sample() {
    let d = InputData::from_json_str(r#"{"input_data": [ [[1, 2, 3], [true]], [[4, 5, 6], [false]], [[7, 8, 9], [1]] ]}"#).unwrap();
    assert!(d.is_multi_sample());
    assert_eq!(d.num_samples(), 3);
    assert_eq!(d.num_inputs(), 2);
    assert_eq!(d.input_data, vec![vec![1.0, 2.0, 3.0], vec![1.0]]);
    let samples = d.samples();
    assert_eq!(samples.len(), 3);
    assert_eq!(samples[2], vec![vec![7.0, 8.0, 9.0], vec![1.0]]);

    // a single-sample file gives one sample
    let d = InputData::from_json_str(r#"{"input_data": [[1, 2], [3]]}"#).unwrap();
    assert_eq!(d.samples(), vec![vec![vec![1.0, 2.0], vec![3.0]]]);

    // samples with different input counts
    let err = InputData::from_json_str(r#"{"input_data": [ [[1], [2]], [[3]] ]}"#).unwrap_err();
    assert!(err.to_string().contains("input_data[1]"), "{err}");
    // mixing the forms
    let err = InputData::from_json_str(r#"{"input_data": [ [[1], [2]], [3] ]}"#).unwrap_err();
    assert!(err.to_string().contains("input_data[1][0]"), "{err}");
}

#[test]
fn malformed_input_json() {
    assert!(matches!(InputData::from_json_str("{\"input_data\": [[1, 2"), Err(InputError::Json(_))));
    assert!(matches!(InputData::from_json_str("not json"), Err(InputError::Json(_))));
    assert!(matches!(InputData::from_json_str("{}"), Err(InputError::MissingKey("input_data"))));
    assert!(matches!(InputData::from_json_str("[1, 2]"), Err(InputError::Invalid { .. })));

    let err = InputData::from_json_str(r#"{"input_data": [[1, "x", 3]]}"#).unwrap_err();
    assert!(err.to_string().contains("input_data[0][1]"), "{err}");
    assert!(err.to_string().contains("string"), "{err}");
    let err = InputData::from_json_str(r#"{"input_data": [[1], [2, null]]}"#).unwrap_err();
    assert!(err.to_string().contains("input_data[1][1]"), "{err}");
    let err = InputData::from_json_str(r#"{"input_data": [[1, {"a": 1}]]}"#).unwrap_err();
    assert!(err.to_string().contains("input_data[0][1]"), "{err}");
    let err = InputData::from_json_str(r#"{"input_data": 5}"#).unwrap_err();
    assert!(err.to_string().contains("input_data"), "{err}");
    let err = InputData::from_json_str(r#"{"input_data": [[1]], "input_shapes": [[1, -1]]}"#).unwrap_err();
    assert!(err.to_string().contains("input_shapes[0][1]"), "{err}");
    // deeper nesting than multi-sample
    let err = InputData::from_json_str(r#"{"input_data": [[[[1]]]]}"#).unwrap_err();
    assert!(err.to_string().contains("input_data[0][0][0]"), "{err}");

    assert!(matches!(ExpectedOutput::from_json_str(r#"{"output_shapes": []}"#), Err(InputError::MissingKey("output_data"))));
    assert!(ExpectedOutput::from_json_str(r#"{"output_data": [["a"]]}"#).is_err());
    assert!(matches!(InputData::from_path("/nonexistent/input.json"), Err(InputError::Io { .. })));
}

/// Every corpus model with a reference output runs on the CPU and matches it.
#[test]
fn whole_corpus_matches_reference() {
    let text = std::fs::read_to_string(corpus().join("catalog.json")).unwrap();
    let catalog: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut failures = Vec::new();
    let mut ran = 0;
    for entry in catalog["models"].as_array().unwrap() {
        let name = entry["name"].as_str().unwrap();
        let dir = corpus().join(name);
        if !entry["ort_runs"].as_bool().unwrap_or(false) || !dir.join("expected_output.json").is_file() {
            // ONNX Runtime rejects these unmodified models: loading must fail cleanly, not panic.
            let bytes = std::fs::read(dir.join("network.onnx")).unwrap();
            let loaded = FloatModel::load(&ort(), &bytes, Device::Cpu);
            if let (Ok(mut m), Ok(input)) = (loaded, InputData::from_path(dir.join("input.json"))) {
                let n = m.input_specs().len();
                let tensors: Vec<Tensor> = input
                    .input_data
                    .iter()
                    .zip(m.input_specs())
                    .map(|(d, spec)| {
                        let mut shape: Vec<usize> = spec.dims.iter().map(|d| d.unwrap_or(1)).collect();
                        if shape.iter().product::<usize>() != d.len() {
                            shape = vec![d.len()];
                        }
                        Tensor { shape, data: d.clone(), dtype: DType::F32 }
                    })
                    .take(n)
                    .collect();
                let _ = m.run(&tensors);
            }
            continue;
        }
        let expected = ExpectedOutput::from_path(dir.join("expected_output.json")).unwrap();
        let input = InputData::from_path(dir.join("input.json")).unwrap();
        let mut m = match FloatModel::load_file(&ort(), dir.join("network.onnx"), Device::Cpu) {
            Ok(m) => m,
            Err(e) => {
                failures.push(format!("{name}: load: {e}"));
                continue;
            }
        };
        let shapes = shapes_used(name);
        let tensors: Vec<Tensor> =
            input.input_data.iter().zip(&shapes).map(|(d, s)| Tensor::new(s.clone(), d.clone(), DType::F32)).collect();
        let outputs = match m.run(&tensors) {
            Ok(o) => o,
            Err(e) => {
                failures.push(format!("{name}: run: {e}"));
                continue;
            }
        };
        ran += 1;
        if outputs.len() != expected.output_data.len() {
            failures.push(format!("{name}: {} outputs, expected {}", outputs.len(), expected.output_data.len()));
            continue;
        }
        for (k, (got, want)) in outputs.iter().zip(&expected.output_data).enumerate() {
            let bad = got.data.len() != want.len() || got.data.iter().zip(want).any(|(g, w)| (g - w).abs() > 1e-5 * (1.0 + w.abs()));
            if bad {
                failures.push(format!("{name}: output {k} differs"));
            }
        }
    }
    eprintln!("ran {ran} corpus models");
    assert!(failures.is_empty(), "ran {ran}; failures:\n{}", failures.join("\n"));
    assert!(ran >= 75, "only {ran} models ran");
}

// ------------------------------------------------------------------------------------------
// Element-type conversions, on tiny hand-encoded Identity models
// ------------------------------------------------------------------------------------------

fn pb_varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn pb_int(out: &mut Vec<u8>, field: u64, v: u64) {
    pb_varint(out, field << 3);
    pb_varint(out, v);
}

fn pb_bytes(out: &mut Vec<u8>, field: u64, b: &[u8]) {
    pb_varint(out, (field << 3) | 2);
    pb_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// ValueInfoProto `name` of element type `elem` (ONNX code) and shape `[batch, n]`.
fn value_info(name: &str, elem: u64, n: u64) -> Vec<u8> {
    let mut dim_batch = Vec::new();
    pb_bytes(&mut dim_batch, 2, b"batch");
    let mut dim_n = Vec::new();
    pb_int(&mut dim_n, 1, n);
    let mut shape = Vec::new();
    pb_bytes(&mut shape, 1, &dim_batch);
    pb_bytes(&mut shape, 1, &dim_n);
    let mut tensor_type = Vec::new();
    pb_int(&mut tensor_type, 1, elem);
    pb_bytes(&mut tensor_type, 2, &shape);
    let mut type_proto = Vec::new();
    pb_bytes(&mut type_proto, 1, &tensor_type);
    let mut vi = Vec::new();
    pb_bytes(&mut vi, 1, name.as_bytes());
    pb_bytes(&mut vi, 2, &type_proto);
    vi
}

/// An ONNX model `y = Identity(x)` with x, y of element type `elem` and shape `[batch, n]`.
fn identity_model(elem: u64, n: u64) -> Vec<u8> {
    let mut node = Vec::new();
    pb_bytes(&mut node, 1, b"x");
    pb_bytes(&mut node, 2, b"y");
    pb_bytes(&mut node, 4, b"Identity");
    let mut graph = Vec::new();
    pb_bytes(&mut graph, 1, &node);
    pb_bytes(&mut graph, 2, b"g");
    pb_bytes(&mut graph, 11, &value_info("x", elem, n));
    pb_bytes(&mut graph, 12, &value_info("y", elem, n));
    let mut opset = Vec::new();
    pb_bytes(&mut opset, 1, b"");
    pb_int(&mut opset, 2, 13);
    let mut model = Vec::new();
    pb_int(&mut model, 1, 7); // ir_version
    pb_bytes(&mut model, 7, &graph);
    pb_bytes(&mut model, 8, &opset);
    model
}

#[test]
fn element_type_round_trips() {
    let cases: &[(u64, DType, &[f64])] = &[
        (1, DType::F32, &[0.5, -1.25, 3.0, 1e-3]),
        (11, DType::F64, &[0.1, -1e300, 3.0, 1e-300]),
        (10, DType::F16, &[0.5, -1.25, 65504.0, 0.0]),
        (3, DType::I8, &[-128.0, 127.0, 0.0, 5.0]),
        (5, DType::I16, &[-32768.0, 32767.0, 0.0, 5.0]),
        (6, DType::I32, &[-2147483648.0, 2147483647.0, 0.0, 5.0]),
        (7, DType::I64, &[-9007199254740992.0, 9007199254740992.0, 0.0, 5.0]),
        (2, DType::U8, &[0.0, 255.0, 1.0, 5.0]),
        (4, DType::U16, &[0.0, 65535.0, 1.0, 5.0]),
        (12, DType::U32, &[0.0, 4294967295.0, 1.0, 5.0]),
        (13, DType::U64, &[0.0, 9007199254740992.0, 1.0, 5.0]),
        (9, DType::Bool, &[0.0, 1.0, 1.0, 0.0]),
    ];
    for &(code, dtype, data) in cases {
        let mut m = FloatModel::load(&ort(), &identity_model(code, 2), Device::Cpu).unwrap_or_else(|e| panic!("{dtype:?}: {e}"));
        assert_eq!(m.input_specs()[0].dtype, Some(dtype));
        assert_eq!(m.input_specs()[0].dims, vec![None, Some(2)]);
        let out = m.run(&[Tensor::new(vec![2, 2], data.to_vec(), DType::F64)]).unwrap_or_else(|e| panic!("{dtype:?}: {e}"));
        assert_eq!(out[0].dtype, dtype);
        assert_eq!(out[0].shape, vec![2, 2]);
        let want: Vec<f64> = if dtype == DType::F32 { data.iter().map(|&x| x as f32 as f64).collect() } else { data.to_vec() };
        assert_eq!(out[0].data, want, "{dtype:?}");
    }

    // integer inputs must be integral and in range
    let mut m = FloatModel::load(&ort(), &identity_model(3, 2), Device::Cpu).unwrap();
    for bad in [[1.5, 0.0], [128.0, 0.0], [f64::NAN, 0.0]] {
        let err = m.run(&[Tensor::new(vec![1, 2], bad.to_vec(), DType::I8)]).unwrap_err();
        assert!(matches!(err, FloatError::InputValue { index: 0, .. }), "{err}");
    }
    // empty batch
    let out = m.run(&[Tensor::new(vec![0, 2], vec![], DType::I8)]).unwrap();
    assert_eq!(out[0].shape, vec![0, 2]);
    assert!(out[0].data.is_empty());
}
