//! Typed access to ONNX node attributes.

use crate::onnx::proto::{AttributeProto, TensorProto};

/// A node's attributes.
#[derive(Clone, Copy)]
pub struct Attrs<'a>(pub &'a [AttributeProto]);

impl<'a> Attrs<'a> {
    fn get(&self, name: &str) -> Option<&'a AttributeProto> {
        self.0.iter().find(|a| a.name == name)
    }

    /// True when the attribute is present.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// An integer attribute.
    pub fn int(&self, name: &str) -> Option<i64> {
        self.get(name).map(|a| a.i)
    }

    /// An integer attribute with a default.
    pub fn int_or(&self, name: &str, default: i64) -> i64 {
        self.int(name).unwrap_or(default)
    }

    /// A float attribute with a default.
    pub fn float_or(&self, name: &str, default: f32) -> f32 {
        self.get(name).map(|a| a.f).unwrap_or(default)
    }

    /// An integer-list attribute.
    pub fn ints(&self, name: &str) -> Option<Vec<i64>> {
        self.get(name).map(|a| a.ints.clone())
    }

    /// A float-list attribute.
    pub fn floats(&self, name: &str) -> Option<Vec<f32>> {
        self.get(name).map(|a| a.floats.clone())
    }

    /// A string attribute.
    pub fn string(&self, name: &str) -> Option<String> {
        self.get(name).map(|a| String::from_utf8_lossy(&a.s).into_owned())
    }

    /// A string-list attribute.
    pub fn strings(&self, name: &str) -> Option<Vec<String>> {
        self.get(name).map(|a| a.strings.iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect())
    }

    /// A tensor attribute.
    pub fn tensor(&self, name: &str) -> Option<&'a TensorProto> {
        self.get(name).and_then(|a| a.t.as_ref())
    }
}
