//! Float inference through ONNX Runtime (the `ort` crate, `load-dynamic`).
//!
//! The caller names the ONNX Runtime shared library ([`OrtLibrary`]); it is loaded once per
//! process. The `ort` environment is created once too and kept for the whole process
//! (ONNX Runtime allows one environment per process: nothing else in the process may call
//! `ort::init()` / `ort::init_from()` or use another `ort` API before [`init_onnxruntime`]).
//!
//! ```no_run
//! use zkinfer_models::float::{Device, FloatModel, OrtLibrary};
//! use zkinfer_models::tensor::{DType, Tensor};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let ort = OrtLibrary::new("/opt/onnxruntime/lib/libonnxruntime.so.1.22.0");
//! let bytes = std::fs::read("network.onnx")?;
//! let mut model = FloatModel::load(&ort, &bytes, Device::Cpu)?;
//! let x = Tensor::new(vec![1, 3], vec![0.1, 0.2, 0.3], DType::F32);
//! let outputs = model.run(&[x])?;
//! # Ok(()) }
//! ```
//!
//! # CUDA
//!
//! [`Device::Cuda`] appends ONNX Runtime's CUDA execution provider through the raw C API
//! (`SessionOptionsAppendExecutionProvider_CUDA_V2`), so it does not need `ort`'s `cuda` cargo
//! feature. It needs an ONNX Runtime build with CUDA (the `onnxruntime-gpu` wheel) and working
//! CUDA/cuDNN libraries; otherwise [`FloatModel::load`] returns [`FloatError::CudaUnavailable`]
//! instead of silently falling back to the CPU. (Nodes that the CUDA provider does not implement
//! still run on the CPU inside ONNX Runtime; that is ONNX Runtime's normal behaviour.)

use std::ffi::c_void;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};

use ort::environment::Environment;
use ort::ep::ExecutionProvider;
use ort::memory::Allocator;
use ort::session::builder::SessionBuilder;
use ort::session::Session;
use ort::value::{DynTensor, DynValue, Tensor as OrtTensor, TensorElementType, ValueType};
use ort::AsPointer;

use crate::tensor::{numel, DType, Tensor};

/// Errors from float inference.
#[derive(Clone, Debug, thiserror::Error)]
pub enum FloatError {
    /// No ONNX Runtime shared library could be found.
    #[error("ONNX Runtime library not found: {0}")]
    LibraryNotFound(String),
    /// The library was found but could not be loaded (or is too old).
    #[error("failed to load the ONNX Runtime library {path}: {message}")]
    LibraryLoad { path: PathBuf, message: String },
    /// Creating the ONNX Runtime environment failed.
    #[error("failed to initialise ONNX Runtime: {0}")]
    Init(String),
    /// `Device::Cuda` was asked for but the CUDA execution provider cannot be used.
    #[error("CUDA execution provider unavailable: {0}")]
    CudaUnavailable(String),
    /// ONNX Runtime rejected the model (malformed/truncated file, unsupported operator, ...).
    #[error("ONNX Runtime could not load the model: {0}")]
    ModelLoad(String),
    /// The model could not be read from disk.
    #[error("cannot read model file {path}: {message}")]
    Io { path: PathBuf, message: String },
    /// Wrong number of inputs passed to [`FloatModel::run`].
    #[error("the model has {expected} input(s) ({names}) but {got} tensor(s) were given")]
    InputCount { expected: usize, got: usize, names: String },
    /// An input tensor's shape does not fit the graph's declared input shape.
    #[error("input {index} (`{name}`): shape {got:?} does not match the model's declared shape {}", fmt_dims(.expected))]
    InputShape { index: usize, name: String, expected: Vec<Option<usize>>, got: Vec<usize> },
    /// An input value cannot be converted to the element type the model expects, or the tensor
    /// is inconsistent (data length vs shape).
    #[error("input {index} (`{name}`): {message}")]
    InputValue { index: usize, name: String, message: String },
    /// An element type / value kind that this module does not convert.
    #[error("{what}: unsupported element type {ty}")]
    UnsupportedType { what: String, ty: String },
    /// ONNX Runtime failed while running the model.
    #[error("ONNX Runtime inference failed: {0}")]
    Run(String),
    /// Reading an output back failed.
    #[error("output {index} (`{name}`): {message}")]
    Output { index: usize, name: String, message: String },
}

fn fmt_dims(dims: &[Option<usize>]) -> String {
    let parts: Vec<String> = dims.iter().map(|d| d.map_or("?".to_string(), |d| d.to_string())).collect();
    format!("[{}]", parts.join(", "))
}

// ---------------------------------------------------------------------------------------------
// Library loading and initialisation
// ---------------------------------------------------------------------------------------------

/// The ONNX Runtime shared library to load (`libonnxruntime.so.*`, `libonnxruntime.*.dylib`
/// or `onnxruntime.dll`). Finding it is the caller's business: this crate reads no
/// environment variable and runs no other program to locate it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OrtLibrary {
    pub path: PathBuf,
}

impl OrtLibrary {
    /// The library at `path`.
    pub fn new(path: impl Into<PathBuf>) -> OrtLibrary {
        OrtLibrary { path: path.into() }
    }
}

struct OrtRuntime {
    library: PathBuf,
    environment: Environment,
}

/// ONNX Runtime once loaded: at most one library per process.
static RUNTIME: OnceLock<OrtRuntime> = OnceLock::new();

/// Held while loading, so that two threads do not load two libraries.
static LOADING: Mutex<()> = Mutex::new(());

/// The runtime loaded from `library`, loading it unless one is loaded already. A failed
/// load leaves nothing loaded: a later call may try again, with another library too.
fn runtime(library: &OrtLibrary) -> Result<&'static OrtRuntime, FloatError> {
    let rt = match RUNTIME.get() {
        Some(rt) => rt,
        None => {
            let _loading = LOADING.lock().unwrap_or_else(|p| p.into_inner());
            match RUNTIME.get() {
                Some(rt) => rt,
                None => {
                    let rt = init_runtime(&library.path)?;
                    RUNTIME.get_or_init(|| rt)
                }
            }
        }
    };
    if rt.library != library.path {
        return Err(FloatError::LibraryLoad {
            path: library.path.clone(),
            message: format!("this process has loaded ONNX Runtime from {} already (one library per process)", rt.library.display()),
        });
    }
    Ok(rt)
}

fn init_runtime(library: &Path) -> Result<OrtRuntime, FloatError> {
    if !library.is_file() {
        return Err(FloatError::LibraryNotFound(format!("no file at {}", library.display())));
    }
    let builder = ort::init_from(library).map_err(|e| FloatError::LibraryLoad { path: library.to_path_buf(), message: e.to_string() })?;
    let environment = builder.with_name("zkinfer").with_telemetry(false).build().map_err(|e| FloatError::Init(e.to_string()))?;
    Ok(OrtRuntime { library: library.to_path_buf(), environment })
}

/// Loads ONNX Runtime from `library` unless the process has loaded it (then calls naming
/// another library fail) and returns the path loaded.
pub fn init_onnxruntime(library: &OrtLibrary) -> Result<PathBuf, FloatError> {
    runtime(library).map(|r| r.library.clone())
}

// ---------------------------------------------------------------------------------------------
// Devices
// ---------------------------------------------------------------------------------------------

/// Where ONNX Runtime runs the model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Device {
    /// ONNX Runtime's CPU execution provider.
    #[default]
    Cpu,
    /// ONNX Runtime's CUDA execution provider on GPU 0 (no silent CPU fallback if unavailable).
    Cuda,
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Device::Cpu => "cpu",
            Device::Cuda => "cuda",
        })
    }
}

impl FromStr for Device {
    type Err = String;
    /// `cpu` or `cuda`/`gpu` (case-insensitive).
    fn from_str(s: &str) -> Result<Device, String> {
        match s.to_ascii_lowercase().as_str() {
            "cpu" => Ok(Device::Cpu),
            "cuda" | "gpu" => Ok(Device::Cuda),
            other => Err(format!("unknown device `{other}` (expected `cpu` or `cuda`)")),
        }
    }
}

/// The CUDA execution provider, registered through the raw C API so that `ort`'s `cuda` cargo
/// feature is not needed.
struct CudaProvider;

impl ExecutionProvider for CudaProvider {
    const NAME: &'static str = "CUDAExecutionProvider";

    fn register(&self, builder: &mut SessionBuilder) -> ort::Result<()> {
        let api = ort::api();
        let mut options: *mut ort::sys::OrtCUDAProviderOptionsV2 = std::ptr::null_mut();
        // SAFETY: plain ONNX Runtime C API calls; `options` is released on every path once created.
        unsafe {
            ort::Error::result_from_status((api.CreateCUDAProviderOptions)(&mut options))?;
            if options.is_null() {
                return Err(ort::Error::new("CreateCUDAProviderOptions returned null"));
            }
            let status = (api.SessionOptionsAppendExecutionProvider_CUDA_V2)(builder.ptr_mut(), options);
            (api.ReleaseCUDAProviderOptions)(options);
            ort::Error::result_from_status(status)
        }
    }
}

fn cuda_session_builder(env: &Environment) -> Result<SessionBuilder, FloatError> {
    let available = CudaProvider::is_available().map_err(|e| FloatError::CudaUnavailable(e.to_string()))?;
    if !available {
        return Err(FloatError::CudaUnavailable(
            "the loaded ONNX Runtime library was built without CUDAExecutionProvider; install \
             `onnxruntime-gpu` instead of `onnxruntime` and load its library"
                .to_string(),
        ));
    }
    let mut builder = Session::builder(env).map_err(|e| FloatError::Init(e.to_string()))?;
    CudaProvider.register(&mut builder).map_err(|e| {
        FloatError::CudaUnavailable(format!(
            "registering CUDAExecutionProvider failed (are the CUDA 12/13 and cuDNN 9 libraries \
             installed and on the library path?): {e}"
        ))
    })?;
    Ok(builder)
}

// ---------------------------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------------------------

/// Name, element type and declared dimensions (`None` = dynamic/symbolic) of a graph input or
/// output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IoSpec {
    pub name: String,
    /// `None` for an element type [`DType`] does not cover (string, bfloat16, ...) or for a
    /// non-tensor value.
    pub dtype: Option<DType>,
    /// Declared dimensions; `None` for a dynamic dimension.
    pub dims: Vec<Option<usize>>,
}

/// A model loaded into an ONNX Runtime session.
pub struct FloatModel {
    session: Session,
    device: Device,
    inputs: Vec<IoSpec>,
    input_types: Vec<Option<TensorElementType>>,
    outputs: Vec<IoSpec>,
}

impl fmt::Debug for FloatModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FloatModel").field("device", &self.device).field("inputs", &self.inputs).field("outputs", &self.outputs).finish()
    }
}

fn dtype_from_ort(ty: TensorElementType) -> Option<DType> {
    Some(match ty {
        TensorElementType::Float32 => DType::F32,
        TensorElementType::Float64 => DType::F64,
        TensorElementType::Float16 => DType::F16,
        TensorElementType::Int8 => DType::I8,
        TensorElementType::Int16 => DType::I16,
        TensorElementType::Int32 => DType::I32,
        TensorElementType::Int64 => DType::I64,
        TensorElementType::Uint8 => DType::U8,
        TensorElementType::Uint16 => DType::U16,
        TensorElementType::Uint32 => DType::U32,
        TensorElementType::Uint64 => DType::U64,
        TensorElementType::Bool => DType::Bool,
        _ => return None,
    })
}

fn spec_of(name: &str, ty: &ValueType) -> (IoSpec, Option<TensorElementType>) {
    match ty {
        ValueType::Tensor { ty, shape, .. } => {
            let dims = shape.iter().map(|&d| usize::try_from(d).ok()).collect();
            (IoSpec { name: name.to_string(), dtype: dtype_from_ort(*ty), dims }, Some(*ty))
        }
        _ => (IoSpec { name: name.to_string(), dtype: None, dims: Vec::new() }, None),
    }
}

impl FloatModel {
    /// Loads a model from the bytes of an `.onnx` file into ONNX Runtime, loaded from
    /// `library` on first use (see [`init_onnxruntime`]).
    pub fn load(library: &OrtLibrary, onnx_bytes: &[u8], device: Device) -> Result<FloatModel, FloatError> {
        let rt = runtime(library)?;
        let mut builder = match device {
            Device::Cpu => Session::builder(&rt.environment).map_err(|e| FloatError::Init(e.to_string()))?,
            Device::Cuda => cuda_session_builder(&rt.environment)?,
        };
        let session = builder.commit_from_memory(onnx_bytes).map_err(|e| FloatError::ModelLoad(e.to_string()))?;

        let mut inputs = Vec::new();
        let mut input_types = Vec::new();
        for outlet in session.inputs() {
            let (spec, ty) = spec_of(outlet.name(), outlet.dtype());
            inputs.push(spec);
            input_types.push(ty);
        }
        let outputs = session.outputs().iter().map(|o| spec_of(o.name(), o.dtype()).0).collect();
        Ok(FloatModel { session, device, inputs, input_types, outputs })
    }

    /// Reads an `.onnx` file and loads it (see [`FloatModel::load`]).
    pub fn load_file(library: &OrtLibrary, path: impl AsRef<Path>, device: Device) -> Result<FloatModel, FloatError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| FloatError::Io { path: path.to_path_buf(), message: e.to_string() })?;
        FloatModel::load(library, &bytes, device)
    }

    /// The device the session was created for.
    pub fn device(&self) -> Device {
        self.device
    }

    /// Graph inputs (initializers excluded), in order.
    pub fn input_specs(&self) -> &[IoSpec] {
        &self.inputs
    }

    /// Graph outputs, in order.
    pub fn output_specs(&self) -> &[IoSpec] {
        &self.outputs
    }

    /// Runs the model. `inputs` are in graph-input order, each with its concrete shape; values are
    /// converted to the element type the model declares for that input (the tensors' own `dtype`
    /// is ignored). Integer and bool inputs must hold exact integers in range (bool: 0 or 1).
    ///
    /// Outputs come back in graph-output order with `f64` data, their runtime shape and element
    /// type.
    ///
    /// A model with no inputs also accepts a list of *empty* tensors (EZKL writes `[[]]` for
    /// such models).
    pub fn run(&mut self, inputs: &[Tensor]) -> Result<Vec<Tensor>, FloatError> {
        let inputs: &[Tensor] = if self.inputs.is_empty() && inputs.iter().all(Tensor::is_empty) { &[] } else { inputs };
        if inputs.len() != self.inputs.len() {
            let names: Vec<String> = self.inputs.iter().map(|s| format!("`{}`", s.name)).collect();
            return Err(FloatError::InputCount {
                expected: self.inputs.len(),
                got: inputs.len(),
                names: if names.is_empty() { "none".to_string() } else { names.join(", ") },
            });
        }

        let mut values: Vec<(String, DynValue)> = Vec::with_capacity(inputs.len());
        for (index, (t, spec)) in inputs.iter().zip(&self.inputs).enumerate() {
            let ty = self.input_types[index];
            values.push((spec.name.clone(), make_input(index, spec, ty, t)?));
        }

        let outputs = self.session.run(values).map_err(|e| FloatError::Run(e.to_string()))?;
        let mut result = Vec::with_capacity(self.outputs.len());
        for (index, spec) in self.outputs.iter().enumerate() {
            let err = |message: String| FloatError::Output { index, name: spec.name.clone(), message };
            let value = outputs.get(spec.name.as_str()).ok_or_else(|| err("ONNX Runtime returned no value for this output".to_string()))?;
            result.push(read_output(index, spec, value)?);
        }
        Ok(result)
    }
}

fn make_input(index: usize, spec: &IoSpec, ty: Option<TensorElementType>, t: &Tensor) -> Result<DynValue, FloatError> {
    let value_err = |message: String| FloatError::InputValue { index, name: spec.name.clone(), message };
    let Some(ty) = ty else {
        return Err(FloatError::UnsupportedType {
            what: format!("input {index} (`{}`)", spec.name),
            ty: "non-tensor value (sequence/map/optional)".to_string(),
        });
    };
    if numel(&t.shape) != t.data.len() {
        return Err(value_err(format!("shape {:?} has {} element(s) but the tensor holds {}", t.shape, numel(&t.shape), t.data.len())));
    }
    let shape_fits = t.shape.len() == spec.dims.len() && t.shape.iter().zip(&spec.dims).all(|(&g, d)| d.is_none_or(|d| d == g));
    if !shape_fits {
        return Err(FloatError::InputShape { index, name: spec.name.clone(), expected: spec.dims.clone(), got: t.shape.clone() });
    }
    let shape: Vec<i64> = t.shape.iter().map(|&d| d as i64).collect();
    let ort_err = |e: ort::Error| value_err(format!("ONNX Runtime could not create the tensor: {e}"));

    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    fn ints<T: TryFrom<i64>>(t: &Tensor, type_name: &str) -> Result<Vec<T>, String> {
        t.data
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                if !x.is_finite() || x.fract() != 0.0 {
                    return Err(format!("element {i} = {x} is not an integer (the model expects {type_name})"));
                }
                // -2^63 <= x < 2^63, so the cast is exact.
                if !(-TWO_POW_63..TWO_POW_63).contains(&x) {
                    return Err(format!("element {i} = {x} is out of range for {type_name}"));
                }
                T::try_from(x as i64).map_err(|_| format!("element {i} = {x} is out of range for {type_name}"))
            })
            .collect()
    }

    let value: DynValue = match ty {
        TensorElementType::Float32 => {
            let data: Vec<f32> = t.data.iter().map(|&x| x as f32).collect();
            OrtTensor::from_array((shape, data)).map_err(ort_err)?.into_dyn()
        }
        TensorElementType::Float64 => OrtTensor::from_array((shape, t.data.clone())).map_err(ort_err)?.into_dyn(),
        TensorElementType::Int8 => OrtTensor::from_array((shape, ints::<i8>(t, "int8").map_err(value_err)?)).map_err(ort_err)?.into_dyn(),
        TensorElementType::Int16 => {
            OrtTensor::from_array((shape, ints::<i16>(t, "int16").map_err(value_err)?)).map_err(ort_err)?.into_dyn()
        }
        TensorElementType::Int32 => {
            OrtTensor::from_array((shape, ints::<i32>(t, "int32").map_err(value_err)?)).map_err(ort_err)?.into_dyn()
        }
        TensorElementType::Int64 => {
            OrtTensor::from_array((shape, ints::<i64>(t, "int64").map_err(value_err)?)).map_err(ort_err)?.into_dyn()
        }
        TensorElementType::Uint8 => OrtTensor::from_array((shape, ints::<u8>(t, "uint8").map_err(value_err)?)).map_err(ort_err)?.into_dyn(),
        TensorElementType::Uint16 => {
            OrtTensor::from_array((shape, ints::<u16>(t, "uint16").map_err(value_err)?)).map_err(ort_err)?.into_dyn()
        }
        TensorElementType::Uint32 => {
            OrtTensor::from_array((shape, ints::<u32>(t, "uint32").map_err(value_err)?)).map_err(ort_err)?.into_dyn()
        }
        TensorElementType::Uint64 => {
            let data: Vec<u64> = t
                .data
                .iter()
                .enumerate()
                .map(|(i, &x)| {
                    if x.fract() == 0.0 && (0.0..2.0 * TWO_POW_63).contains(&x) {
                        Ok(x as u64)
                    } else {
                        Err(value_err(format!("element {i} = {x} is not a uint64 value")))
                    }
                })
                .collect::<Result<_, _>>()?;
            OrtTensor::from_array((shape, data)).map_err(ort_err)?.into_dyn()
        }
        TensorElementType::Bool => {
            let data: Vec<bool> = t
                .data
                .iter()
                .enumerate()
                .map(|(i, &x)| match x {
                    0.0 => Ok(false),
                    1.0 => Ok(true),
                    _ => Err(value_err(format!("element {i} = {x} is not a bool (expected 0 or 1)"))),
                })
                .collect::<Result<_, _>>()?;
            OrtTensor::from_array((shape, data)).map_err(ort_err)?.into_dyn()
        }
        TensorElementType::Float16 => {
            let bits: Vec<u16> = t.data.iter().map(|&x| f32_to_f16_bits(x as f32)).collect();
            let mut tensor = DynTensor::new(&Allocator::default(), TensorElementType::Float16, shape).map_err(ort_err)?;
            if !bits.is_empty() {
                let mut ptr: *mut c_void = std::ptr::null_mut();
                // SAFETY: the tensor was just allocated on the CPU with `bits.len()` f16 elements.
                unsafe {
                    ort::Error::result_from_status((ort::api().GetTensorMutableData)(tensor.ptr_mut(), &mut ptr)).map_err(ort_err)?;
                    if ptr.is_null() {
                        return Err(value_err("ONNX Runtime returned a null tensor buffer".to_string()));
                    }
                    std::ptr::copy_nonoverlapping(bits.as_ptr(), ptr.cast::<u16>(), bits.len());
                }
            }
            tensor.into_dyn()
        }
        other => return Err(FloatError::UnsupportedType { what: format!("input {index} (`{}`)", spec.name), ty: format!("{other:?}") }),
    };
    Ok(value)
}

fn read_output(index: usize, spec: &IoSpec, value: &DynValue) -> Result<Tensor, FloatError> {
    let err = |message: String| FloatError::Output { index, name: spec.name.clone(), message };
    let (ty, shape) = match value.dtype() {
        ValueType::Tensor { ty, shape, .. } => (*ty, shape.clone()),
        other => {
            return Err(FloatError::UnsupportedType {
                what: format!("output {index} (`{}`)", spec.name),
                ty: format!("non-tensor value {other:?}"),
            })
        }
    };
    let dims: Vec<usize> = shape
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| err(format!("negative dimension {d} in output shape"))))
        .collect::<Result<_, _>>()?;
    let dtype = dtype_from_ort(ty)
        .ok_or_else(|| FloatError::UnsupportedType { what: format!("output {index} (`{}`)", spec.name), ty: format!("{ty:?}") })?;

    fn get<T: ort::value::PrimitiveTensorElementType + Copy>(value: &DynValue, conv: impl Fn(T) -> f64) -> Result<Vec<f64>, String> {
        value.try_extract_tensor::<T>().map(|(_, data)| data.iter().map(|&x| conv(x)).collect()).map_err(|e| e.to_string())
    }

    let data = match ty {
        TensorElementType::Float32 => get::<f32>(value, f64::from),
        TensorElementType::Float64 => get::<f64>(value, |x| x),
        TensorElementType::Int8 => get::<i8>(value, f64::from),
        TensorElementType::Int16 => get::<i16>(value, f64::from),
        TensorElementType::Int32 => get::<i32>(value, f64::from),
        TensorElementType::Int64 => get::<i64>(value, |x| x as f64),
        TensorElementType::Uint8 => get::<u8>(value, f64::from),
        TensorElementType::Uint16 => get::<u16>(value, f64::from),
        TensorElementType::Uint32 => get::<u32>(value, f64::from),
        TensorElementType::Uint64 => get::<u64>(value, |x| x as f64),
        TensorElementType::Bool => get::<bool>(value, |x| if x { 1.0 } else { 0.0 }),
        TensorElementType::Float16 => read_f16(value, numel(&dims)),
        _ => unreachable!("dtype_from_ort filtered other types"),
    }
    .map_err(err)?;
    if data.len() != numel(&dims) {
        return Err(err(format!("shape {dims:?} but {} element(s)", data.len())));
    }
    Ok(Tensor { shape: dims, data, dtype })
}

fn read_f16(value: &DynValue, n: usize) -> Result<Vec<f64>, String> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let mut ptr: *mut c_void = std::ptr::null_mut();
    // SAFETY: `value` is a CPU tensor of element type Float16 with `n` elements (outputs of
    // `Session::run` are in CPU memory); it is only read.
    unsafe {
        ort::Error::result_from_status((ort::api().GetTensorMutableData)(value.ptr().cast_mut(), &mut ptr)).map_err(|e| e.to_string())?;
        if ptr.is_null() {
            return Err("ONNX Runtime returned a null tensor buffer".to_string());
        }
        let bits = std::slice::from_raw_parts(ptr.cast::<u16>(), n);
        Ok(bits.iter().map(|&b| f64::from(f16_bits_to_f32(b))).collect())
    }
}

/// IEEE 754 binary16 -> binary32 (exact).
fn f16_bits_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let man = u32::from(h & 0x3ff);
    let bits = match (exp, man) {
        (0, 0) => sign,
        (0, m) => {
            // subnormal: value = m * 2^-24
            let v = m as f32 * f32::from_bits(0x3380_0000); // 2^-24
            return if sign != 0 { -v } else { v };
        }
        (0x1f, 0) => sign | 0x7f80_0000,
        (0x1f, m) => sign | 0x7fc0_0000 | (m << 13),
        (e, m) => sign | ((e + 127 - 15) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}

/// IEEE 754 binary32 -> binary16, round to nearest even.
fn f32_to_f16_bits(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32;
    let man = bits & 0x7f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if man != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00; // overflow -> inf
    }
    if e <= 0 {
        if e < -10 {
            return sign; // underflow -> 0
        }
        let m = man | 0x80_0000;
        let shift = (14 - e) as u32;
        let half = 1u32 << (shift - 1);
        let mut r = m >> shift;
        let rem = m & ((1u32 << shift) - 1);
        if rem > half || (rem == half && (r & 1) == 1) {
            r += 1;
        }
        return sign | r as u16;
    }
    let mut r = ((e as u32) << 10) | (man >> 13);
    let rem = man & 0x1fff;
    if rem > 0x1000 || (rem == 0x1000 && (r & 1) == 1) {
        r += 1; // may carry into the exponent, giving inf correctly
    }
    sign | r as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_round_trip() {
        for &x in &[0.0f32, -0.0, 1.0, -2.5, 0.1, 65504.0, 6.1035156e-5, 5.9604645e-8, 1e-3] {
            let h = f32_to_f16_bits(x);
            let back = f16_bits_to_f32(h);
            assert!((back - x).abs() <= x.abs() * 1e-3 + 6e-8, "{x} -> {h:#x} -> {back}");
        }
        assert_eq!(f32_to_f16_bits(1.0), 0x3c00);
        assert_eq!(f32_to_f16_bits(f32::INFINITY), 0x7c00);
        assert_eq!(f32_to_f16_bits(1e6), 0x7c00);
        assert!(f16_bits_to_f32(0x7e00).is_nan());
    }

    #[test]
    fn model_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<FloatModel>();
        check::<FloatError>();
    }

    #[test]
    fn device_parse() {
        assert_eq!("CPU".parse::<Device>().unwrap(), Device::Cpu);
        assert_eq!("cuda".parse::<Device>().unwrap(), Device::Cuda);
        assert!("tpu".parse::<Device>().is_err());
    }
}
