//! What every API's request parsing shares: [`request_body!`], which declares a body once
//! (the typed struct, the field names `--strict` accepts, and the shape check naming a wrong
//! field as OpenAI does), the field shapes and checks, and the value types several APIs
//! use. Each API's own body lives beside its handler in `crate::api`.
//!
//! The fast path deserialises straight into the typed struct (no `Value` tree); only when
//! that fails does the declared shape check walk a `serde_json::Value` to name the offending
//! parameter.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// A request body declared with [`request_body!`].
pub trait Body: Sized + for<'de> Deserialize<'de> {
    /// Every top-level field the API accepts (read or not): `--strict` rejects the others.
    const FIELDS: &'static [&'static str];
    /// The requested model (every body has a `model`), as sent.
    fn model(&self) -> &str;
    /// Checks the shape of every declared field, in declaration order, naming the first
    /// wrong one.
    fn check_fields(obj: &Map<String, Value>) -> Result<(), ApiError>;
}

/// How one field's shape is checked: a [`Shape`] (optional), [`Req`] (required), or any
/// `fn(obj, name)` for nested structure.
pub trait Check {
    fn check(&self, obj: &Map<String, Value>, name: &str) -> Result<(), ApiError>;
}

/// A required field of this shape.
pub struct Req(pub Shape);

impl Check for Shape {
    fn check(&self, obj: &Map<String, Value>, name: &str) -> Result<(), ApiError> {
        check(obj, name, *self, false)
    }
}

impl Check for Req {
    fn check(&self, obj: &Map<String, Value>, name: &str) -> Result<(), ApiError> {
        check(obj, name, self.0, true)
    }
}

impl<F: Fn(&Map<String, Value>, &str) -> Result<(), ApiError>> Check for F {
    fn check(&self, obj: &Map<String, Value>, name: &str) -> Result<(), ApiError> {
        self(obj, name)
    }
}

/// Declares a request body once. Each field is written one time, with its type and its
/// shape check; `unread { … }` names fields the API accepts but the mock does not read
/// (optionally with a check); `skip { … }` adds fields that are not part of the body.
/// `..openai_sampling,` first in the braces inserts the fields chat and legacy completions
/// share (model, stream, n, seed, max_tokens, stop, sampling parameters, user, vLLM's
/// `ignore_eos` and `min_tokens`) and their accessors (`stream()`, `include_usage()`, `n()`,
/// `stop()`, `seed_or()`, `request_seed()`, `ignore_eos()`, `min_tokens()`) and checks
/// (`validate_sampling`).
///
/// Yields the struct (`Debug`, `Deserialize`) and its [`Body`] impl.
macro_rules! request_body {
    (
        $(#[$meta:meta])*
        pub struct $name:ident { ..openai_sampling, $($fields:tt)* }
        $($tail:tt)*
    ) => {
        $crate::request::request_body! {
            $(#[$meta])*
            pub struct $name {
                model: String => $crate::request::Req($crate::request::Shape::Str),
                stream: Option<bool> => $crate::request::Shape::Bool,
                stream_options: Option<$crate::request::StreamOptions> =>
                    $crate::request::check_stream_options,
                n: Option<u32> => $crate::request::Shape::Count,
                seed: Option<i64> => $crate::request::Shape::Int,
                max_tokens: Option<u32> => $crate::request::Shape::Count,
                stop: Option<$crate::request::Stop> => $crate::request::check_stop,
                temperature: Option<f64> => $crate::request::Shape::Num,
                top_p: Option<f64> => $crate::request::Shape::Num,
                presence_penalty: Option<f64> => $crate::request::Shape::Num,
                frequency_penalty: Option<f64> => $crate::request::Shape::Num,
                user: Option<String> => $crate::request::Shape::Str,
                ignore_eos: Option<bool> => $crate::request::Shape::Bool,
                min_tokens: Option<u32> => $crate::request::Shape::Count,
                $($fields)*
            }
            $($tail)*
        }

        /// Accessors of the fields chat and legacy completions share.
        impl $name {
            pub fn stream(&self) -> bool {
                self.stream.unwrap_or(false)
            }

            pub fn include_usage(&self) -> bool {
                self.stream_options
                    .as_ref()
                    .and_then(|o| o.include_usage)
                    .unwrap_or(false)
            }

            pub fn n(&self) -> usize {
                self.n.unwrap_or(1) as usize
            }

            pub fn stop(&self) -> &[String] {
                self.stop.as_ref().map(|s| s.0.as_slice()).unwrap_or(&[])
            }

            /// The request's `seed`, else `default` (the configured one).
            pub fn seed_or(&self, default: u64) -> u64 {
                self.request_seed().unwrap_or(default)
            }

            /// The request's own `seed`.
            pub fn request_seed(&self) -> Option<u64> {
                self.seed.map(|s| s as u64)
            }

            /// vLLM's `ignore_eos`.
            pub fn ignore_eos(&self) -> bool {
                self.ignore_eos.unwrap_or(false)
            }

            /// vLLM's `min_tokens`.
            pub fn min_tokens(&self) -> usize {
                self.min_tokens.unwrap_or(0) as usize
            }

            /// The checks of the shared fields; `max_tokens` is the API's token limit and
            /// `max_tokens_name` the field it came from.
            fn validate_sampling(
                &self,
                max_tokens: Option<u32>,
                max_tokens_name: &str,
            ) -> Result<(), $crate::error::ApiError> {
                $crate::request::check_min_tokens(self.min_tokens, max_tokens, max_tokens_name)?;
                $crate::request::validate_common(
                    self.n,
                    max_tokens,
                    max_tokens_name,
                    self.stop.as_ref(),
                    self.temperature,
                    self.top_p,
                    self.presence_penalty,
                    self.frequency_penalty,
                    self.stream(),
                    self.stream_options.is_some(),
                )
            }
        }
    };
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty => $check:expr, )*
        }
        unread { $( $extra:ident $(=> $echeck:expr)? ),* $(,)? }
        $( skip { $( $(#[$smeta:meta])* $sfield:ident : $sty:ty ),* $(,)? } )?
    ) => {
        #[derive(Debug, serde::Deserialize)]
        $(#[$meta])*
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
            $($( $(#[$smeta])* #[serde(skip)] $sfield: $sty, )*)?
        }

        impl $crate::request::Body for $name {
            const FIELDS: &'static [&'static str] =
                &[$(stringify!($field),)* $(stringify!($extra),)*];

            fn model(&self) -> &str {
                &self.model
            }

            fn check_fields(
                obj: &serde_json::Map<String, serde_json::Value>,
            ) -> Result<(), $crate::error::ApiError> {
                use $crate::request::Check as _;
                $( ($check).check(obj, stringify!($field))?; )*
                $($( ($echeck).check(obj, stringify!($extra))?; )?)*
                Ok(())
            }
        }
    };
}
pub(crate) use request_body;

/// Parses a body on the fast path (typed, no `Value`), diagnosing a refusal with the body's
/// declared checks; with `strict`, unknown fields are refused.
pub fn parse<T: Body>(body: &[u8], strict: bool) -> Result<T, ApiError> {
    let req = match serde_json::from_slice::<T>(body) {
        Ok(v) => v,
        Err(typed) => return Err(diagnose::<T>(body, &typed)),
    };
    if strict {
        let value: Value = serde_json::from_slice(body).map_err(|e| diagnose_json(&e))?;
        if let Some(obj) = value.as_object() {
            reject_unknown::<T>(obj)?;
        }
    }
    Ok(req)
}

/// Checks a body's shape first (the APIs whose typed struct has defaults that must not
/// stand in for a missing field), then types it.
pub fn parse_checked<T: Body>(
    body: &[u8],
    strict: bool,
    extra: impl FnOnce(&Map<String, Value>) -> Result<(), ApiError>,
) -> Result<T, ApiError> {
    let obj = object(body)?;
    T::check_fields(&obj)?;
    extra(&obj)?;
    if strict {
        reject_unknown::<T>(&obj)?;
    }
    serde_json::from_value(Value::Object(obj))
        .map_err(|e| ApiError::invalid(format!("Invalid request body: {e}")))
}

/// A request body as a JSON object, or the error naming what it is instead.
pub fn object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice(body).map_err(|e| diagnose_json(&e))? {
        Value::Object(o) => Ok(o),
        other => Err(not_an_object(&other)),
    }
}

fn not_an_object(v: &Value) -> ApiError {
    ApiError::invalid(format!(
        "Invalid request body: expected a JSON object, but got {} instead.",
        json_kind(v)
    ))
}

fn reject_unknown<T: Body>(obj: &Map<String, Value>) -> Result<(), ApiError> {
    match obj.keys().find(|k| !T::FIELDS.contains(&k.as_str())) {
        Some(k) => Err(
            ApiError::invalid(format!("Unrecognized request argument supplied: {k}"))
                .param(k.clone())
                .code("unknown_parameter"),
        ),
        None => Ok(()),
    }
}

/// Names what is wrong with a body the typed parser refused, as OpenAI's API would.
fn diagnose<T: Body>(body: &[u8], typed: &serde_json::Error) -> ApiError {
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return diagnose_json(&e),
    };
    let Some(obj) = value.as_object() else {
        return not_an_object(&value);
    };
    match T::check_fields(obj) {
        Err(e) => e,
        // The walk found nothing more precise: report the parser's words.
        Ok(()) => ApiError::invalid(format!("Invalid request body: {typed}")),
    }
}

#[derive(Debug, Deserialize)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: Option<bool>,
}

/// `stop`: a string or up to four strings.
#[derive(Debug, Default, PartialEq)]
pub struct Stop(pub Vec<String>);

impl<'de> Deserialize<'de> for Stop {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        str_or_seq(
            d,
            "a string or an array of strings",
            |s| Stop(vec![s]),
            Stop,
        )
    }
}

/// OpenAI's "a string or an array" fields: `one` maps the string, `many` the array read as
/// `T`s; anything else is an error that names `expecting`.
pub(crate) fn str_or_seq<'de, D, T, R>(
    d: D,
    expecting: &'static str,
    one: fn(String) -> R,
    many: fn(Vec<T>) -> R,
) -> Result<R, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct V<T, R> {
        expecting: &'static str,
        one: fn(String) -> R,
        many: fn(Vec<T>) -> R,
    }
    impl<'de, T: Deserialize<'de>, R> Visitor<'de> for V<T, R> {
        type Value = R;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(self.expecting)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<R, E> {
            Ok((self.one)(v.to_owned()))
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<R, E> {
            Ok((self.one)(v))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<R, A::Error> {
            let mut out = Vec::new();
            while let Some(item) = seq.next_element::<T>()? {
                out.push(item);
            }
            Ok((self.many)(out))
        }
    }
    d.deserialize_any(V {
        expecting,
        one,
        many,
    })
}

#[derive(Debug, Deserialize)]
pub struct FunctionDef {
    pub name: String,
    pub description: Option<String>,
    pub parameters: Option<Value>,
    pub strict: Option<bool>,
}

impl FunctionDef {
    /// Its name and parameter schema (what the generator calls it with).
    pub fn schema(&self) -> (&str, Option<&Value>) {
        (self.name.as_str(), self.parameters.as_ref())
    }
}

/// The shape checks of a [`FunctionDef`] (a chat tool's `function`, a Responses API tool).
pub(crate) const FUNCTION_FIELDS: &[(&str, Shape, bool)] = &[
    ("name", Shape::Str, true),
    ("description", Shape::Str, false),
    ("parameters", Shape::Obj, false),
    ("strict", Shape::Bool, false),
];

/// What the generator does with `tools`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolMode {
    None,
    Auto,
    Required,
    /// Index into `tools`.
    Named(usize),
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn validate_common(
    n: Option<u32>,
    max_tokens: Option<u32>,
    max_tokens_name: &str,
    stop: Option<&Stop>,
    temperature: Option<f64>,
    top_p: Option<f64>,
    presence_penalty: Option<f64>,
    frequency_penalty: Option<f64>,
    stream: bool,
    has_stream_options: bool,
) -> Result<(), ApiError> {
    if let Some(n) = n
        && !(1..=128).contains(&n)
    {
        return Err(range_error("n", &n.to_string(), 1.0, 128.0));
    }
    if max_tokens == Some(0) {
        return Err(ApiError::invalid_value(
            max_tokens_name,
            format!(
                "Invalid '{max_tokens_name}': integer below minimum value. Expected a value >= 1, but got 0 instead."
            ),
        )
        .code("integer_below_min_value"));
    }
    if let Some(stop) = stop
        && stop.0.len() > 4
    {
        return Err(ApiError::invalid_value(
            "stop",
            format!(
                "Invalid 'stop': array too long. Expected an array with maximum length 4, but got an array with length {} instead.",
                stop.0.len()
            ),
        )
        .code("array_above_max_length"));
    }
    for (name, v, lo, hi) in [
        ("temperature", temperature, 0.0, 2.0),
        ("top_p", top_p, 0.0, 1.0),
        ("presence_penalty", presence_penalty, -2.0, 2.0),
        ("frequency_penalty", frequency_penalty, -2.0, 2.0),
    ] {
        if let Some(v) = v
            && !(lo..=hi).contains(&v)
        {
            return Err(range_error(name, &v.to_string(), lo, hi));
        }
    }
    if has_stream_options && !stream {
        return Err(ApiError::invalid_value(
            "stream_options",
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
        ));
    }
    Ok(())
}

/// vLLM's rule: `min_tokens` at most the token limit (the field `max_name`).
pub(crate) fn check_min_tokens(
    min: Option<u32>,
    max: Option<u32>,
    max_name: &str,
) -> Result<(), ApiError> {
    match (min, max) {
        (Some(lo), Some(hi)) if lo > hi => Err(ApiError::invalid_value(
            "min_tokens",
            format!("min_tokens must be less than or equal to {max_name}={hi}, got {lo}."),
        )),
        _ => Ok(()),
    }
}

/// An OpenAI function tool `tools[i]`: its `type` must be `function` (`supported` ends that
/// message), its name (at `tools[i].NAME_AT`) must match OpenAI's pattern.
pub(crate) fn check_function_tool(
    i: usize,
    kind: &str,
    supported: &str,
    name_at: &str,
    name: &str,
) -> Result<(), ApiError> {
    if kind != "function" {
        return Err(ApiError::invalid_value(
            &format!("tools[{i}].type"),
            format!("Invalid value: '{kind}'. {supported}"),
        ));
    }
    if !crate::generate::valid_function_name(name) {
        let param = format!("tools[{i}].{name_at}");
        return Err(ApiError::invalid_value(
            &param,
            format!(
                "Invalid '{param}': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$' (at most 64 characters)."
            ),
        ));
    }
    Ok(())
}

/// An OpenAI `tool_choice` string: `none`, `auto` or `required`.
/// OpenAI's `tool_choice` (chat, responses): a mode string, or an object `object` checks.
pub(crate) fn check_tool_choice_object(
    obj: &Map<String, Value>,
    name: &str,
    object: impl FnOnce(&Map<String, Value>) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    check(obj, name, Shape::StrOrObj, false)?;
    check_nested(obj, name, object)
}

pub(crate) fn check_tool_choice_mode(mode: &str) -> Result<(), ApiError> {
    if matches!(mode, "none" | "auto" | "required") {
        return Ok(());
    }
    Err(ApiError::invalid_value(
        "tool_choice",
        format!("Invalid value: '{mode}'. Supported values are: 'none', 'auto', and 'required'."),
    ))
}

pub(crate) fn range_error(name: &str, got: &str, lo: f64, hi: f64) -> ApiError {
    ApiError::invalid_value(
        name,
        format!("Invalid '{name}': expected a value between {lo} and {hi}, but got {got} instead."),
    )
}

// ---------------------------------------------------------------- completions, embeddings

/// `prompt` / `input`: a string, strings, token ids or batches of token ids.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Prompt {
    Text(String),
    Texts(Vec<String>),
    Tokens(Vec<u32>),
    TokenBatches(Vec<Vec<u32>>),
}

/// One prompt of a batch.
#[derive(Debug)]
pub enum PromptItem<'a> {
    Text(&'a str),
    Tokens(&'a [u32]),
}

impl Prompt {
    pub fn items(&self) -> Vec<PromptItem<'_>> {
        match self {
            Prompt::Text(s) => vec![PromptItem::Text(s)],
            Prompt::Texts(v) => v.iter().map(|s| PromptItem::Text(s)).collect(),
            Prompt::Tokens(t) => vec![PromptItem::Tokens(t)],
            Prompt::TokenBatches(b) => b.iter().map(|t| PromptItem::Tokens(t)).collect(),
        }
    }

    pub(crate) fn is_empty_batch(&self) -> bool {
        match self {
            Prompt::Text(_) => false,
            Prompt::Texts(v) => v.is_empty(),
            Prompt::Tokens(t) => t.is_empty(),
            Prompt::TokenBatches(b) => b.is_empty() || b.iter().any(|t| t.is_empty()),
        }
    }
}

pub(crate) fn diagnose_json(e: &serde_json::Error) -> ApiError {
    ApiError::malformed_json(&e.to_string())
}

pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a decimal",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Expected shape of a field, for messages naming the parameter.
#[derive(Clone, Copy)]
pub enum Shape {
    Str,
    Bool,
    /// Non-negative integer that fits u32.
    Count,
    Int,
    Num,
    Obj,
    Arr,
    StrOrArr,
    Prompt,
    /// String or object (tool_choice).
    StrOrObj,
}

impl Shape {
    fn expected(self) -> &'static str {
        match self {
            Shape::Str => "a string",
            Shape::Bool => "a boolean",
            Shape::Count | Shape::Int => "an integer",
            Shape::Num => "a number",
            Shape::Obj => "an object",
            Shape::Arr => "an array",
            Shape::StrOrArr => "a string or an array",
            Shape::Prompt => "a string, an array of strings or an array of token ids",
            Shape::StrOrObj => "a string or an object",
        }
    }

    fn accepts(self, v: &Value) -> bool {
        match self {
            Shape::Str => v.is_string(),
            Shape::Bool => v.is_boolean(),
            Shape::Count | Shape::Int => v.is_i64() || v.is_u64(),
            Shape::Num => v.is_number(),
            Shape::Obj => v.is_object(),
            Shape::Arr => v.is_array(),
            Shape::StrOrArr => v.is_string() || v.is_array(),
            Shape::Prompt => v.is_string() || v.is_array(),
            Shape::StrOrObj => v.is_string() || v.is_object(),
        }
    }
}

pub(crate) fn check(
    obj: &Map<String, Value>,
    name: &str,
    shape: Shape,
    required: bool,
) -> Result<(), ApiError> {
    match obj.get(name) {
        None if required => Err(ApiError::missing(name)),
        None => Ok(()),
        // Optional fields may be null, as the SDKs send them.
        Some(Value::Null) if !required => Ok(()),
        Some(v) if !shape.accepts(v) => {
            Err(ApiError::wrong_type(name, shape.expected(), json_kind(v)))
        }
        Some(v) => {
            if let Shape::Count = shape {
                let n = v.as_i64().unwrap_or(i64::MAX);
                if n < 0 {
                    return Err(ApiError::invalid_value(
                        name,
                        format!("Invalid '{name}': integer below minimum value. Expected a value >= 0, but got {n} instead."),
                    )
                    .code("integer_below_min_value"));
                }
                if n > u32::MAX as i64 {
                    return Err(ApiError::invalid_value(
                        name,
                        format!("Invalid '{name}': integer above maximum value. Expected a value <= {}, but got {v} instead.", u32::MAX),
                    )
                    .code("integer_above_max_value"));
                }
            }
            if let Shape::Int = shape
                && v.as_i64().is_none()
            {
                return Err(ApiError::invalid_value(
                    name,
                    format!("Invalid '{name}': integer out of range, got {v}."),
                ));
            }
            Ok(())
        }
    }
}

pub(crate) fn check_array_of(
    arr: &[Value],
    param: &str,
    item: impl Fn(&str, &Value) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    for (i, v) in arr.iter().enumerate() {
        item(&format!("{param}[{i}]"), v)?;
    }
    Ok(())
}

/// Each item of the array `param` must be an object, which `item` checks; its errors name
/// the item's path (`param[i].field`).
pub(crate) fn check_objects(
    arr: &[Value],
    param: &str,
    item: impl Fn(&str, &Map<String, Value>) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    check_array_of(arr, param, |p, v| {
        let Some(o) = v.as_object() else {
            return Err(ApiError::wrong_type(p, "an object", json_kind(v)));
        };
        item(p, o).map_err(|e| {
            if e.param.as_deref().is_some_and(|q| q.starts_with(p)) {
                e
            } else {
                prefix_param(e, p)
            }
        })
    })
}

/// The object field `name`, if it is an array, checked item by item with [`check_objects`]
/// (its own shape is [`check`]ed separately).
pub(crate) fn check_object_array(
    obj: &Map<String, Value>,
    name: &str,
    item: impl Fn(&str, &Map<String, Value>) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    match obj.get(name) {
        Some(Value::Array(a)) => check_objects(a, name, item),
        _ => Ok(()),
    }
}

/// Checks each `(field, shape, required)` of `obj` in order, naming the first wrong one.
pub(crate) fn check_each(
    obj: &Map<String, Value>,
    fields: &[(&str, Shape, bool)],
) -> Result<(), ApiError> {
    fields
        .iter()
        .try_for_each(|&(field, shape, required)| check(obj, field, shape, required))
}

/// The field `name` of `obj`, when it is an object, checked by `inner`; the errors name the
/// nested parameter (`name.field`). Its own shape is [`check`]ed separately.
pub(crate) fn check_nested(
    obj: &Map<String, Value>,
    name: &str,
    inner: impl FnOnce(&Map<String, Value>) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    match obj.get(name) {
        Some(Value::Object(o)) => inner(o).map_err(|e| prefix_param(e, name)),
        _ => Ok(()),
    }
}

/// A string field that must be one of `allowed` (listed in the message in this order).
pub(crate) fn check_enum(
    obj: &Map<String, Value>,
    name: &str,
    allowed: &[&str],
    required: bool,
) -> Result<(), ApiError> {
    check(obj, name, Shape::Str, required)?;
    match obj.get(name) {
        Some(Value::String(v)) if !allowed.contains(&v.as_str()) => {
            let quoted: Vec<String> = allowed.iter().map(|a| format!("'{a}'")).collect();
            let list = match quoted.split_last() {
                Some((last, rest)) if !rest.is_empty() => {
                    format!("{}, and {last}", rest.join(", "))
                }
                _ => quoted.concat(),
            };
            Err(ApiError::invalid_value(
                name,
                format!("Invalid value: '{v}'. Supported values are: {list}."),
            ))
        }
        _ => Ok(()),
    }
}

pub fn check_stop(obj: &Map<String, Value>, name: &str) -> Result<(), ApiError> {
    check(obj, name, Shape::StrOrArr, false)?;
    if let Some(Value::Array(a)) = obj.get(name) {
        check_array_of(a, name, |p, v| {
            if v.is_string() {
                Ok(())
            } else {
                Err(ApiError::wrong_type(p, "a string", json_kind(v)))
            }
        })?;
    }
    Ok(())
}

pub fn check_prompt(obj: &Map<String, Value>, name: &str) -> Result<(), ApiError> {
    check(obj, name, Shape::Prompt, true)?;
    if let Some(Value::Array(a)) = obj.get(name) {
        let all_str = a.iter().all(Value::is_string);
        let all_tok = a
            .iter()
            .all(|v| v.as_u64().is_some_and(|n| n <= u32::MAX as u64));
        let all_batches = a.iter().all(|v| {
            v.as_array().is_some_and(|t| {
                t.iter()
                    .all(|n| n.as_u64().is_some_and(|n| n <= u32::MAX as u64))
            })
        });
        if !(all_str || all_tok || all_batches) {
            return Err(ApiError::wrong_type(
                name,
                "a string, an array of strings, an array of token ids or an array of token id arrays",
                "a mixed or invalid array",
            ));
        }
    }
    Ok(())
}

pub fn check_stream_options(obj: &Map<String, Value>, name: &str) -> Result<(), ApiError> {
    check(obj, name, Shape::Obj, false)?;
    check_nested(obj, name, |o| check(o, "include_usage", Shape::Bool, false))
}

pub(crate) fn prefix_param(mut e: ApiError, prefix: &str) -> ApiError {
    if let Some(p) = &e.param {
        let full = format!("{prefix}.{p}");
        e.message = e.message.replace(&format!("'{p}'"), &format!("'{full}'"));
        e.param = Some(full);
    }
    e
}
