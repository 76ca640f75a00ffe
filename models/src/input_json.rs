//! EZKL's `input.json` format and the corpus' `expected_output.json` format.
//!
//! # `input.json`
//!
//! ```json
//! {"input_data":   [[x0, x1, ...], [y0, y1, ...]],
//!  "input_shapes": [[1, 3, 2], [1, 4]],
//!  "output_data":  [[...]]}
//! ```
//!
//! - `input_data`: one **flat, row-major** list per graph input, in graph-input order. Values are
//!   JSON numbers, or `true`/`false` for bool inputs (read as `1.0`/`0.0`).
//! - `input_shapes` (optional): the shape of each input. It is parsed but not checked against the
//!   data; [`InputData::shape_for`] returns a declared shape only when it fits the data.
//! - `output_data` and any other key are ignored.
//!
//! ## Several samples in one file (calibration)
//!
//! `input_data` may instead hold a list of *samples*, each sample being a list of per-input flat
//! lists (one more level of nesting):
//!
//! ```json
//! {"input_data": [ [[x0, x1, x2], [y0, y1]],      // sample 0: input 0, input 1
//!                  [[x0, x1, x2], [y0, y1]] ]}    // sample 1
//! ```
//!
//! The form is recognised from the nesting: if any entry of any element of `input_data` is a
//! list, the file is multi-sample and *every* element must be a list of lists. Every sample must
//! have the same number of inputs. [`InputData::input_data`] always holds the first sample;
//! [`InputData::samples`] returns all of them (a single-sample file gives one sample).
//!
//! # `expected_output.json`
//!
//! ```json
//! {"output_data": [[o0, o1, ...], ...], "output_shapes": [[...]], "output_names": [...],
//!  "output_dtypes": [...], "computed_by": "..."}
//! ```
//!
//! Parsed by [`ExpectedOutput::from_json_str`]; only `output_data` is required (so an EZKL
//! `input.json` carrying `output_data` is accepted too).

use std::path::{Path, PathBuf};

use serde_json::Value;

/// Errors while reading `input.json` / `expected_output.json`.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The file could not be read.
    #[error("cannot read {path}: {message}")]
    Io { path: PathBuf, message: String },
    /// The text is not valid JSON.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// A required key is absent.
    #[error("missing key `{0}` in the top-level JSON object")]
    MissingKey(&'static str),
    /// A value has the wrong JSON type or is out of range; `position` names it, e.g.
    /// `input_data[0][3]`.
    #[error("{position}: {message}")]
    Invalid { position: String, message: String },
}

/// Parsed EZKL `input.json`.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct InputData {
    /// One flat, row-major list per graph input (the first sample for a multi-sample file).
    pub input_data: Vec<Vec<f64>>,
    /// Declared input shapes, when the file has `input_shapes`.
    pub input_shapes: Option<Vec<Vec<usize>>>,
    /// Samples after the first one, for multi-sample files (empty otherwise).
    pub extra_samples: Vec<Vec<Vec<f64>>>,
}

impl InputData {
    /// Parses the text of an `input.json` (single- or multi-sample, see the module docs).
    pub fn from_json_str(s: &str) -> Result<InputData, InputError> {
        let root: Value = serde_json::from_str(s).map_err(|e| InputError::Json(e.to_string()))?;
        let obj = root.as_object().ok_or_else(|| InputError::Invalid {
            position: "top level".into(),
            message: format!("expected a JSON object, found {}", describe(&root)),
        })?;
        let data = obj.get("input_data").ok_or(InputError::MissingKey("input_data"))?;
        let mut samples = parse_samples(data, "input_data")?;
        let input_shapes = match obj.get("input_shapes") {
            None | Some(Value::Null) => None,
            Some(v) => Some(parse_shapes(v, "input_shapes")?),
        };
        let input_data = if samples.is_empty() { Vec::new() } else { samples.remove(0) };
        Ok(InputData { input_data, input_shapes, extra_samples: samples })
    }

    /// Reads and parses an `input.json` file.
    pub fn from_path(path: impl AsRef<Path>) -> Result<InputData, InputError> {
        InputData::from_json_str(&read(path.as_ref())?)
    }

    /// Builds a single-sample value (no shapes).
    pub fn single(input_data: Vec<Vec<f64>>) -> InputData {
        InputData { input_data, input_shapes: None, extra_samples: Vec::new() }
    }

    /// Number of graph inputs per sample.
    pub fn num_inputs(&self) -> usize {
        self.input_data.len()
    }

    /// Number of samples (1 for a single-sample file).
    pub fn num_samples(&self) -> usize {
        1 + self.extra_samples.len()
    }

    /// True when the file held more than one sample.
    pub fn is_multi_sample(&self) -> bool {
        !self.extra_samples.is_empty()
    }

    /// All samples, first one first; each sample is one flat list per graph input.
    pub fn samples(&self) -> Vec<Vec<Vec<f64>>> {
        let mut out = Vec::with_capacity(self.num_samples());
        out.push(self.input_data.clone());
        out.extend(self.extra_samples.iter().cloned());
        out
    }

    /// The declared shape of input `index`, only if `input_shapes` has one for it and its element
    /// count equals the length of that input's data (EZKL files sometimes carry stale shapes).
    pub fn shape_for(&self, index: usize) -> Option<&[usize]> {
        let shape = self.input_shapes.as_ref()?.get(index)?;
        let data = self.input_data.get(index)?;
        (shape.iter().product::<usize>() == data.len()).then_some(shape.as_slice())
    }
}

/// Parsed `expected_output.json` (or the `output_data` of an EZKL `input.json`).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ExpectedOutput {
    /// One flat, row-major list per graph output (bools as 1.0/0.0).
    pub output_data: Vec<Vec<f64>>,
    /// Output shapes, when present.
    pub output_shapes: Option<Vec<Vec<usize>>>,
    /// Output names, when present.
    pub output_names: Option<Vec<String>>,
    /// Output element types as strings (`"float32"`, `"bool"`, ...), when present.
    pub output_dtypes: Option<Vec<String>>,
}

impl ExpectedOutput {
    /// Parses the text of an `expected_output.json`. Only `output_data` is required; its
    /// entries must be flat lists (multi-sample output is not accepted).
    pub fn from_json_str(s: &str) -> Result<ExpectedOutput, InputError> {
        let root: Value = serde_json::from_str(s).map_err(|e| InputError::Json(e.to_string()))?;
        let obj = root.as_object().ok_or_else(|| InputError::Invalid {
            position: "top level".into(),
            message: format!("expected a JSON object, found {}", describe(&root)),
        })?;
        let data = obj.get("output_data").ok_or(InputError::MissingKey("output_data"))?;
        let output_data = parse_flat_lists(data, "output_data")?;
        let output_shapes = match obj.get("output_shapes") {
            None | Some(Value::Null) => None,
            Some(v) => Some(parse_shapes(v, "output_shapes")?),
        };
        let output_names = match obj.get("output_names") {
            None | Some(Value::Null) => None,
            Some(v) => Some(parse_strings(v, "output_names")?),
        };
        let output_dtypes = match obj.get("output_dtypes") {
            None | Some(Value::Null) => None,
            Some(v) => Some(parse_strings(v, "output_dtypes")?),
        };
        Ok(ExpectedOutput { output_data, output_shapes, output_names, output_dtypes })
    }

    /// Reads and parses an `expected_output.json` file.
    pub fn from_path(path: impl AsRef<Path>) -> Result<ExpectedOutput, InputError> {
        ExpectedOutput::from_json_str(&read(path.as_ref())?)
    }
}

fn read(path: &Path) -> Result<String, InputError> {
    std::fs::read_to_string(path).map_err(|e| InputError::Io { path: path.to_path_buf(), message: e.to_string() })
}

/// Short description of a JSON value for error messages.
fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => {
            let short: String = s.chars().take(32).collect();
            if short.len() < s.len() {
                format!("string \"{short}...\"")
            } else {
                format!("string \"{short}\"")
            }
        }
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}

fn invalid(position: String, message: String) -> InputError {
    InputError::Invalid { position, message }
}

fn as_list<'a>(v: &'a Value, position: &str) -> Result<&'a Vec<Value>, InputError> {
    v.as_array().ok_or_else(|| invalid(position.to_string(), format!("expected a list, found {}", describe(v))))
}

/// A number or a boolean (`true` -> 1.0, `false` -> 0.0).
fn scalar(v: &Value, position: &str) -> Result<f64, InputError> {
    match v {
        Value::Bool(b) => Ok(if *b { 1.0 } else { 0.0 }),
        Value::Number(n) => n.as_f64().ok_or_else(|| invalid(position.to_string(), format!("number {n} is not representable as f64"))),
        other => Err(invalid(position.to_string(), format!("expected a number or true/false, found {}", describe(other)))),
    }
}

fn parse_flat(v: &Value, position: &str) -> Result<Vec<f64>, InputError> {
    as_list(v, position)?.iter().enumerate().map(|(i, x)| scalar(x, &format!("{position}[{i}]"))).collect()
}

/// `[[..], [..]]`: one flat list per tensor.
fn parse_flat_lists(v: &Value, position: &str) -> Result<Vec<Vec<f64>>, InputError> {
    as_list(v, position)?.iter().enumerate().map(|(i, x)| parse_flat(x, &format!("{position}[{i}]"))).collect()
}

/// Single-sample (`[[..],[..]]`) or multi-sample (`[[[..],[..]], [[..],[..]]]`) data.
fn parse_samples(v: &Value, position: &str) -> Result<Vec<Vec<Vec<f64>>>, InputError> {
    let outer = as_list(v, position)?;
    let multi = outer.iter().any(|e| e.as_array().is_some_and(|inner| inner.iter().any(Value::is_array)));
    if !multi {
        return Ok(vec![parse_flat_lists(v, position)?]);
    }
    let mut samples = Vec::with_capacity(outer.len());
    for (s, sample) in outer.iter().enumerate() {
        let pos = format!("{position}[{s}]");
        let list = sample.as_array().ok_or_else(|| {
            invalid(
                pos.clone(),
                format!("multi-sample input_data: expected a sample (a list of per-input lists), found {}", describe(sample)),
            )
        })?;
        let mut inputs = Vec::with_capacity(list.len());
        for (i, input) in list.iter().enumerate() {
            let ipos = format!("{pos}[{i}]");
            if !input.is_array() {
                return Err(invalid(
                    ipos,
                    format!(
                        "multi-sample input_data: expected a flat list for one input, found {} \
                         (mixing single-sample and multi-sample forms?)",
                        describe(input)
                    ),
                ));
            }
            inputs.push(parse_flat(input, &ipos)?);
        }
        if let Some(first) = samples.first() {
            let first: &Vec<Vec<f64>> = first;
            if first.len() != inputs.len() {
                return Err(invalid(pos, format!("sample has {} input(s) but sample 0 has {}", inputs.len(), first.len())));
            }
        }
        samples.push(inputs);
    }
    if samples.is_empty() {
        samples.push(Vec::new());
    }
    Ok(samples)
}

fn parse_shapes(v: &Value, position: &str) -> Result<Vec<Vec<usize>>, InputError> {
    as_list(v, position)?
        .iter()
        .enumerate()
        .map(|(i, shape)| {
            let spos = format!("{position}[{i}]");
            as_list(shape, &spos)?
                .iter()
                .enumerate()
                .map(|(d, dim)| {
                    dim.as_u64().and_then(|x| usize::try_from(x).ok()).ok_or_else(|| {
                        invalid(format!("{spos}[{d}]"), format!("expected a non-negative integer dimension, found {}", describe(dim)))
                    })
                })
                .collect()
        })
        .collect()
}

fn parse_strings(v: &Value, position: &str) -> Result<Vec<String>, InputError> {
    as_list(v, position)?
        .iter()
        .enumerate()
        .map(|(i, x)| {
            x.as_str()
                .map(str::to_string)
                .ok_or_else(|| invalid(format!("{position}[{i}]"), format!("expected a string, found {}", describe(x))))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_sample_with_shapes() {
        let d = InputData::from_json_str(
            r#"{"input_data": [[1, 2.5, -3], [true, false]], "input_shapes": [[1, 3], [2]], "output_data": [[0]]}"#,
        )
        .unwrap();
        assert_eq!(d.input_data, vec![vec![1.0, 2.5, -3.0], vec![1.0, 0.0]]);
        assert_eq!(d.input_shapes, Some(vec![vec![1, 3], vec![2]]));
        assert_eq!(d.num_samples(), 1);
        assert_eq!(d.shape_for(0), Some(&[1usize, 3][..]));
    }

    #[test]
    fn empty_input_list() {
        let d = InputData::from_json_str(r#"{"input_data": [[]]}"#).unwrap();
        assert_eq!(d.input_data, vec![Vec::<f64>::new()]);
        let d = InputData::from_json_str(r#"{"input_data": []}"#).unwrap();
        assert!(d.input_data.is_empty());
        assert_eq!(d.samples(), vec![Vec::<Vec<f64>>::new()]);
    }

    #[test]
    fn stale_shape_is_not_returned() {
        let d = InputData::from_json_str(r#"{"input_data": [[1, 2, 3]], "input_shapes": [[1, 4]]}"#).unwrap();
        assert_eq!(d.shape_for(0), None);
        assert_eq!(d.shape_for(1), None);
    }
}
