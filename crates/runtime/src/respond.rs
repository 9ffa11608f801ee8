//! Picks how a function's return value becomes a [`Response`] at compile time, by autoref
//! specialisation, so generated code needs no knowledge of the type's traits:
//!
//! ```
//! # #[derive(serde::Serialize)] struct Point { x: i32 }
//! # let value = Point { x: 1 };
//! let response = { use portkey_runtime::respond::*; (&Ret(value)).portkey_respond() };
//! assert_eq!(response.status(), 200);
//! ```
//!
//! Method lookup on `&Ret<T>` first tries methods whose receiver is `&Ret<T>` (the `Serialize`
//! impl on `Ret<T>`), then those whose receiver is `&&Ret<T>` (the `Display` impl on `&Ret<T>`).
//! So a `Serialize` type becomes 200 `application/json`, else a `Display` type becomes 200
//! `text/plain`, else compilation fails with an error that lists both unmet bounds. A type that
//! is both `Serialize` and `Display` becomes JSON. The text types (`String`, `&str`,
//! `Cow<str>`, primitives) and `Vec<u8>` never reach `Ret`: the shim responds to them with
//! `Response::display` and `Response::bytes`. `Fail`
//! does the same for `Err` values: `Display` text first, `Debug` text otherwise, status 500.
//! This works only where `T` is a concrete type, as in generated code.

use std::fmt::{Debug, Display};

use serde::Serialize;

use crate::response::Response;

/// A function's return value, wrapped for [`ViaSerialize`] or [`ViaDisplay`].
pub struct Ret<T>(pub T);

/// A function's `Err` value, wrapped for [`FailViaDisplay`] or [`FailViaDebug`].
pub struct Fail<E>(pub E);

/// Turns a `Serialize` return value into 200 `application/json`.
pub trait ViaSerialize {
    fn portkey_respond(&self) -> Response;
}

impl<T: Serialize> ViaSerialize for Ret<T> {
    fn portkey_respond(&self) -> Response {
        Response::json(200, &self.0)
    }
}

/// Turns a `Display` return value into 200 `text/plain`; used when the type is not `Serialize`.
pub trait ViaDisplay {
    fn portkey_respond(&self) -> Response;
}

impl<T: Display> ViaDisplay for &Ret<T> {
    fn portkey_respond(&self) -> Response {
        Response::display(&self.0)
    }
}

/// Turns a `Display` error into 500 with its text; the error type is the Rust type's name.
pub trait FailViaDisplay {
    fn portkey_fail(&self) -> Response;
}

impl<E: Display> FailViaDisplay for Fail<E> {
    fn portkey_fail(&self) -> Response {
        Response::error(500, std::any::type_name::<E>(), self.0.to_string())
    }
}

/// Turns a `Debug` error into 500 with its `{:?}` text; used when the type is not `Display`.
pub trait FailViaDebug {
    fn portkey_fail(&self) -> Response;
}

impl<E: Debug> FailViaDebug for &Fail<E> {
    fn portkey_fail(&self) -> Response {
        Response::error(500, std::any::type_name::<E>(), format!("{:?}", self.0))
    }
}
