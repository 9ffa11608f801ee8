//! The request and result types of the lookup: where the function lives, which package provides
//! it, and its signature classified into the shapes the shim generator binds.

use std::path::PathBuf;

use serde::Serialize;

/// A request to find one function.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LookupRequest {
    /// The `Cargo.toml` of the user's project; `None` uses the cargo project of the current
    /// directory, as `cargo` itself does.
    pub manifest_path: Option<PathBuf>,
    /// The function's path, such as `hello::flatter` or `hello::Greeter::greet`. The first
    /// segment is a library name; dashes are read as underscores.
    pub path: String,
}

/// A function that was found, with everything needed to generate and build a shim for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FoundFunction {
    /// The path as requested, with dashes in the crate name replaced by underscores.
    pub requested_path: String,
    /// The path the shim calls. It equals the requested path because every segment of it was
    /// checked to be public.
    pub call_path: String,
    /// The package whose library is the first segment of the path. A re-exported function may be
    /// defined in another package (see `source_file`), but the shim depends on this one.
    pub package: FoundPackage,
    /// The root of the user's cargo workspace.
    pub workspace_root: PathBuf,
    /// The user's `Cargo.lock` path (in the workspace root); the file may not exist yet.
    pub lock_file: PathBuf,
    /// The user's cargo target directory.
    pub target_dir: PathBuf,
    /// The file that defines the function.
    pub source_file: PathBuf,
    /// The 1-based line of the function's name in `source_file`.
    pub line: usize,
    /// The first non-empty line of the function's doc comment.
    pub doc: Option<String>,
    /// The parameters and the result, classified.
    pub signature: Signature,
}

impl FoundFunction {
    /// Returns whether a request must supply `param`. `Option` parameters may be missing, and
    /// so may a raw body, which an HTTP request without a body fills with no bytes.
    pub fn required(&self, param: &Param) -> bool {
        match &param.shape {
            ParamShape::Option(_) | ParamShape::RawBody | ParamShape::HttpRequest(_) => false,
            ParamShape::Ref(inner) => **inner != ParamShape::RawBody,
            _ => true,
        }
    }
}

/// The package that provides the function's crate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FoundPackage {
    /// The package name from its `Cargo.toml`.
    pub name: String,
    /// The package version.
    pub version: String,
    /// The library target name as Rust code spells it (underscores).
    pub lib_name: String,
    /// The package's `Cargo.toml`.
    pub manifest_path: PathBuf,
    /// The source cargo gets the package from.
    pub source: PackageSource,
    /// The features cargo resolved for the package in the user's build, sorted.
    pub features: Vec<String>,
    /// Where tokio comes from when the package depends on it directly; an `async fn` of such a
    /// package runs on a current-thread tokio runtime of that same tokio.
    pub tokio: Option<PackageSource>,
    /// Where the `http` crate nearest to the package in its dependencies comes from. A function
    /// that takes an `http::Request` receives one built with that same crate.
    pub http: Option<PackageSource>,
    /// Where `axum` and `tower-service` come from when the package depends on them, directly or
    /// through other dependencies. A function that returns an `axum::Router` is served through
    /// them.
    pub axum: Option<PackageSource>,
    pub tower_service: Option<PackageSource>,
}

/// The source cargo gets a package from: a directory, a registry or a git repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum PackageSource {
    /// A local package, with the directory that holds its `Cargo.toml`.
    Path(PathBuf),
    /// A package from a registry, pinned to this version.
    Registry { version: String },
    /// A package from a git repository, pinned to the commit cargo locked.
    Git { url: String, rev: String },
}

/// The parameters and the result of a function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signature {
    /// The parameters in declaration order.
    pub params: Vec<Param>,
    /// How the result is turned into a response.
    pub output: ReturnShape,
    /// The result type as written, or `None` for a function without `->`.
    pub output_type: Option<String>,
    /// True for an `async fn`, whose future the shim runs to completion.
    pub is_async: bool,
}

/// One parameter of the function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Param {
    /// The parameter name; requests supply the value under this name.
    pub name: String,
    /// The type as written, as a token string with normalised spacing (`&'a str`, `Vec<u8>`).
    pub ty: String,
    /// How the shim binds a value of this type.
    pub shape: ParamShape,
}

/// How the shim binds a parameter from a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ParamShape {
    /// Parsed from text with `FromStr`.
    Scalar(Scalar),
    /// Any other type, deserialized from JSON (the type must implement `Deserialize`).
    Json,
    /// A `Json` parameter that also binds from the whole JSON body when no source has a value
    /// of its name: the signature's only non-optional parameter of JSON shape, with no raw body
    /// parameter (see `mark_whole_body`).
    JsonOrBody,
    /// `Vec<u8>` (or `&[u8]`, `&Vec<u8>` behind `Ref`) named `body`: the raw request body bytes.
    RawBody,
    /// `Cow<str>`: bound as a `String`, like `Scalar::String`, and passed as `Cow::Owned`.
    CowStr,
    /// `http::Request<B>`: the whole request, for a handler mounted on a prefix such as
    /// `/app/*`. The shim builds it with the `http` crate the package depends on.
    HttpRequest(RequestBody),
    /// May be missing from the request.
    Option(Box<ParamShape>),
    /// Bound as the inner shape and passed by reference.
    Ref(Box<ParamShape>),
}

/// The body type `B` of an `http::Request<B>` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RequestBody {
    /// `String`: the body must be UTF-8, else the request gets a 400.
    Text,
    /// `Vec<u8>` or `bytes::Bytes`: the body bytes as sent (base64 bodies decoded).
    Bytes,
    /// `()`: the body is dropped.
    Empty,
}

/// A type the request binder parses from text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Scalar {
    String,
    /// `str`, only behind a reference; the shim binds a `String` and passes `&String`.
    Str,
    Bool,
    Char,
    I8,
    I16,
    I32,
    I64,
    I128,
    Isize,
    U8,
    U16,
    U32,
    U64,
    U128,
    Usize,
    F32,
    F64,
}

impl Scalar {
    /// All scalars, in declaration order.
    pub const ALL: [Scalar; 18] = [
        Scalar::String,
        Scalar::Str,
        Scalar::Bool,
        Scalar::Char,
        Scalar::I8,
        Scalar::I16,
        Scalar::I32,
        Scalar::I64,
        Scalar::I128,
        Scalar::Isize,
        Scalar::U8,
        Scalar::U16,
        Scalar::U32,
        Scalar::U64,
        Scalar::U128,
        Scalar::Usize,
        Scalar::F32,
        Scalar::F64,
    ];

    /// The Rust type name (`u32`, `String`, `str`).
    pub fn rust_name(self) -> &'static str {
        match self {
            Scalar::String => "String",
            Scalar::Str => "str",
            Scalar::Bool => "bool",
            Scalar::Char => "char",
            Scalar::I8 => "i8",
            Scalar::I16 => "i16",
            Scalar::I32 => "i32",
            Scalar::I64 => "i64",
            Scalar::I128 => "i128",
            Scalar::Isize => "isize",
            Scalar::U8 => "u8",
            Scalar::U16 => "u16",
            Scalar::U32 => "u32",
            Scalar::U64 => "u64",
            Scalar::U128 => "u128",
            Scalar::Usize => "usize",
            Scalar::F32 => "f32",
            Scalar::F64 => "f64",
        }
    }

    /// Returns the scalar with this Rust type name, if any.
    pub fn from_rust_name(name: &str) -> Option<Scalar> {
        Scalar::ALL
            .into_iter()
            .find(|scalar| scalar.rust_name() == name)
    }
}

/// How the shim turns the function's result into a response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ReturnShape {
    /// No result (`()`, no `->`, or `!`): an empty response.
    Unit,
    /// `String`, `&str`, `Cow<str>` or a primitive: a `text/plain` body from `Display`.
    Text,
    /// `Vec<u8>` or `bytes::Bytes`: the bytes as an `application/octet-stream` body.
    Bytes,
    /// `http::Response<B>`: the status and headers the function chose, and the body `B`
    /// handled by the inner shape (its content type unless the function set one).
    Http(Box<ReturnShape>),
    /// `(http::StatusCode, T)`: the status the function chose, and `T` handled by the inner
    /// shape.
    WithStatus(Box<ReturnShape>),
    /// `axum::Router`: the function builds the router once, at start-up, and every request is
    /// served by it.
    Router,
    /// Any other type: JSON when it implements `Serialize`, else text from `Display`, so a type
    /// with both becomes JSON.
    Auto,
    /// A `Result`: `Ok` is handled by the inner shape, `Err` becomes an error response.
    Result(Box<ReturnShape>),
    /// An `Option`: `Some` is handled by the inner shape, `None` becomes "not found".
    Option(Box<ReturnShape>),
}
