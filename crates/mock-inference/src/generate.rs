//! What the mock answers: text (fixed, echo, lorem, scenario), tool calls whose arguments
//! satisfy the tool's JSON schema, JSON for `response_format`, sized ([`Length`]: vLLM's
//! `ignore_eos` and `min_tokens`, the configured length distribution) and cut by `stop` and
//! `max_tokens`.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::config::LengthDist;
use crate::tokenizer;

/// A text split into token pieces, each also JSON-escaped (without quotes) so responses are
/// assembled by copying bytes.
#[derive(Debug)]
pub struct TextPlan {
    pub pieces: Vec<String>,
    pub escaped: Vec<String>,
    pub full_escaped: String,
}

impl TextPlan {
    pub fn new(text: &str) -> Self {
        let pieces = tokenizer::pieces(text);
        Self::from_pieces(pieces)
    }

    pub fn from_pieces(pieces: Vec<String>) -> Self {
        let escaped: Vec<String> = pieces.iter().map(|p| escape(p)).collect();
        let full_escaped = escaped.concat();
        Self {
            pieces,
            escaped,
            full_escaped,
        }
    }

    pub fn tokens(&self) -> usize {
        self.pieces.len()
    }

    /// The first `n` token pieces (see [`truncate`], which caches them).
    fn truncated(&self, n: usize) -> Self {
        let n = n.min(self.pieces.len());
        // The escaped pieces are copied, not escaped again: a load test's every request cuts
        // its answer to `max_tokens`.
        let escaped = self.escaped[..n].to_vec();
        Self {
            pieces: self.pieces[..n].to_vec(),
            full_escaped: escaped.concat(),
            escaped,
        }
    }
}

/// `plan` cut to its first `n` token pieces, the cut cached per thread: a load test's every
/// request cuts the same answer to the same `max_tokens`, and copying 2n pieces each time was
/// most of a streamed request's allocations.
pub fn truncate(plan: &Arc<TextPlan>, n: usize) -> Arc<TextPlan> {
    if n >= plan.tokens() {
        return plan.clone();
    }
    let at = ((Arc::as_ptr(plan) as usize / 64) ^ n.wrapping_mul(0x9e37_79b9)) % PLAN_CACHE_SLOTS;
    CUTS.with_borrow_mut(|cuts| {
        // The entry holds its whole plan, so no other plan can be at that address meanwhile.
        if let Some((whole, len, cut)) = &cuts[at]
            && Arc::ptr_eq(whole, plan)
            && *len == n
        {
            return cut.clone();
        }
        let cut = Arc::new(plan.truncated(n));
        cuts[at] = Some((plan.clone(), n, cut.clone()));
        cut
    })
}

/// JSON string escaping without the surrounding quotes.
pub fn escape(s: &str) -> String {
    let quoted = serde_json::to_string(s).expect("strings serialise");
    quoted[1..quoted.len() - 1].to_string()
}

/// `v` in decimal, appended to a JSON body being assembled.
pub fn push_u64(buf: &mut Vec<u8>, v: u64) {
    buf.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

#[derive(Debug)]
pub struct ToolCallOut {
    pub id: String,
    pub name: String,
    pub arguments: Arc<TextPlan>,
}

/// One choice of a response.
#[derive(Debug)]
pub struct ChoiceOut {
    pub text: Option<Arc<TextPlan>>,
    pub tool_calls: Vec<ToolCallOut>,
    pub finish_reason: &'static str,
    /// Leading pieces of `text` that echo the prompt (completions `echo`): not generated.
    pub echoed_tokens: usize,
    /// Index in the request's stop strings of the one that ended the text.
    pub stop_sequence: Option<usize>,
    /// A reasoning model's reasoning, streamed before the answer.
    pub reasoning: Option<Arc<TextPlan>>,
}

impl ChoiceOut {
    pub fn completion_tokens(&self) -> usize {
        self.reasoning_tokens()
            + self
                .text
                .as_ref()
                .map_or(0, |t| t.tokens().saturating_sub(self.echoed_tokens))
            + self
                .tool_calls
                .iter()
                .map(|c| c.arguments.tokens() + tokenizer::count(&c.name))
                .sum::<usize>()
    }

    pub fn reasoning_tokens(&self) -> usize {
        self.reasoning.as_ref().map_or(0, |r| r.tokens())
    }

    /// Token pieces streamed (reasoning, then text pieces or argument pieces of all calls).
    pub fn stream_len(&self) -> usize {
        self.reasoning_tokens()
            + self.text.as_ref().map_or(0, |t| t.tokens())
            + self
                .tool_calls
                .iter()
                .map(|c| c.arguments.tokens())
                .sum::<usize>()
    }
}

/// What bounds an answer's length besides `stop` and the token limit.
pub struct Length<'a> {
    /// vLLM's `ignore_eos`: the answer runs to the token limit.
    pub ignore_eos: bool,
    /// vLLM's `min_tokens`: no end (the text's own or a stop string) before this many tokens.
    pub min_tokens: usize,
    /// The answer's own length, drawn from `generation.length` ([`answer_length`]).
    pub target: Option<usize>,
    /// Seed and conversation hash of the lorem that continues a text too short.
    pub seed: u64,
    pub hash: &'a dyn Fn() -> u64,
}

/// Sizes a text ([`Length`]), then applies `stop` (not before `min_tokens`) and `max_tokens`;
/// reuses `plan` when nothing changes it. Returns the text, the finish reason (`stop`, or
/// `length` when the limit cut it or `ignore_eos` ran to it) and the index in `stop` of the
/// stop string that cut it, if one did.
pub fn shape_text(
    plan: Arc<TextPlan>,
    stop: &[String],
    max_tokens: Option<usize>,
    len: &Length,
) -> (Arc<TextPlan>, &'static str, Option<usize>) {
    let mut plan = plan;
    if let Some(n) = len.target {
        plan = resized(plan, n, len);
    }
    if len.ignore_eos
        && let Some(max) = max_tokens
    {
        plan = resized(plan, max, len);
    }
    let floor = len.min_tokens.min(max_tokens.unwrap_or(usize::MAX));
    if plan.tokens() < floor {
        plan = resized(plan, floor, len);
    }
    let mut finish = "stop";
    let mut matched = None;
    if !stop.is_empty() {
        let full = plan.pieces.concat();
        let from: usize = plan.pieces[..floor].iter().map(String::len).sum();
        let cut = stop
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.is_empty())
            .filter_map(|(i, s)| full[from..].find(s.as_str()).map(|at| (from + at, i)))
            .min();
        if let Some((cut, i)) = cut {
            plan = Arc::new(TextPlan::new(&full[..cut]));
            matched = Some(i);
        }
    }
    if let Some(max) = max_tokens
        && (plan.tokens() > max || len.ignore_eos && plan.tokens() == max)
    {
        plan = truncate(&plan, max);
        finish = "length";
        matched = None;
    }
    (plan, finish, matched)
}

/// `plan` cut or continued (with lorem) to exactly `n` tokens; the continued plans cached.
fn resized(plan: Arc<TextPlan>, n: usize, len: &Length) -> Arc<TextPlan> {
    match plan.tokens().cmp(&n) {
        std::cmp::Ordering::Equal => plan,
        std::cmp::Ordering::Greater => truncate(&plan, n),
        std::cmp::Ordering::Less => {
            let hash = (len.hash)();
            let text = hash_str(&plan.full_escaped);
            let key = splitmix64(text ^ splitmix64(len.seed ^ splitmix64(hash ^ n as u64)));
            cached(key ^ CONTINUED, || {
                let mut pieces = plan.pieces.clone();
                let mut round = 0;
                while pieces.len() < n {
                    let more = lorem(len.seed ^ round, hash, n - pieces.len());
                    pieces.extend(tokenizer::pieces(&format!(" {more}")));
                    round += 1;
                }
                pieces.truncate(n);
                TextPlan::from_pieces(pieces)
            })
        }
    }
}

/// Keys of continued texts in the plan cache, apart from lorem answers'.
const CONTINUED: u64 = 0x636f_6e74_696e_7565;

/// The length of answer `i` drawn from `dist`: from the request's seed when it has one (the
/// same seed, the same length), else at random; `None` without a distribution.
pub fn answer_length(dist: Option<LengthDist>, seed: Option<u64>, i: usize) -> Option<usize> {
    let dist = dist?;
    let r = match seed {
        Some(s) => splitmix64(s ^ splitmix64(i as u64 ^ CONTINUED)),
        None => random_u64(),
    };
    Some(draw_length(dist, r))
}

/// A length from `dist` for the 64 random bits `r`.
pub fn draw_length(dist: LengthDist, r: u64) -> usize {
    match dist {
        LengthDist::Fixed { tokens } => tokens,
        LengthDist::Uniform { min, max } => {
            min + ((unit(r) * (max - min + 1) as f64) as usize).min(max - min)
        }
        LengthDist::Normal { mean, stddev } => {
            // Box–Muller.
            let u1 = unit(splitmix64(r)).max(f64::MIN_POSITIVE);
            let u2 = unit(splitmix64(!r));
            let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            (mean + stddev * z).round().max(1.0) as usize
        }
    }
}

/// OpenAI's rule for function names: `^[a-zA-Z0-9_-]+$`, at most 64 characters.
pub fn valid_function_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// One call of a tool-calling turn: the tool's name, its parameter schema, and the
/// arguments when a scenario scripts them.
pub struct CallSpec<'a> {
    pub name: &'a str,
    pub schema: Option<&'a Value>,
    pub arguments: Option<Value>,
}

/// A choice that calls each of `calls` in order, each with a distinct `call_…` id and its
/// arguments (generated from its schema when not given, so they validate against it).
pub fn tool_calls_choice<'a>(calls: impl IntoIterator<Item = CallSpec<'a>>) -> ChoiceOut {
    let tool_calls = calls
        .into_iter()
        .map(|c| {
            let args = c.arguments.unwrap_or_else(|| {
                c.schema
                    .map(example_for_schema)
                    .unwrap_or_else(|| json!({}))
            });
            let text = serde_json::to_string(&args).expect("JSON values serialise");
            ToolCallOut {
                id: random_id("call_"),
                name: c.name.to_string(),
                arguments: Arc::new(TextPlan::new(&text)),
            }
        })
        .collect();
    ChoiceOut {
        text: None,
        tool_calls,
        finish_reason: "tool_calls",
        echoed_tokens: 0,
        stop_sequence: None,
        reasoning: None,
    }
}

const LOREM: &[&str] = &[
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
    "sed",
    "do",
    "eiusmod",
    "tempor",
    "incididunt",
    "ut",
    "labore",
    "et",
    "dolore",
    "magna",
    "aliqua",
    "enim",
    "ad",
    "minim",
    "veniam",
    "quis",
    "nostrud",
    "exercitation",
    "ullamco",
    "laboris",
    "nisi",
    "aliquip",
    "ex",
    "ea",
    "commodo",
    "consequat",
];

/// SplitMix64: a tiny, well-mixed deterministic generator for seeds and schedules.
/// A 64-bit random value as a uniform number in [0, 1).
pub fn unit(r: u64) -> f64 {
    (r >> 11) as f64 / (1u64 << 53) as f64
}

pub fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A hash of a conversation's texts, in order (lorem answers follow it).
pub fn conversation_hash<'a>(texts: impl Iterator<Item = &'a str>) -> u64 {
    texts.fold(0u64, |h, t| splitmix64(h ^ hash_str(t)))
}

pub fn hash_str(s: &str) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

/// Deterministic lorem ipsum of about `tokens` tokens from a seed and a request hash.
///
/// Tokens are counted word by word (`" word"`, `" word."`): cl100k's pre-tokenizer splits at
/// those boundaries anyway, so the sum equals the count of the whole text, and each word's
/// count comes from the tokenizer cache instead of re-tokenising a growing string.
pub fn lorem(seed: u64, request_hash: u64, tokens: usize) -> String {
    let mut state = splitmix64(seed ^ request_hash.rotate_left(17));
    let mut out = String::new();
    let mut word_buf = String::new();
    let mut count = 0;
    let mut sentence_start = true;
    let mut words_in_sentence = 0;
    while count < tokens {
        state = splitmix64(state);
        let word = LOREM[(state % LOREM.len() as u64) as usize];
        word_buf.clear();
        if !out.is_empty() {
            word_buf.push(' ');
        }
        if sentence_start {
            let mut c = word.chars();
            if let Some(f) = c.next() {
                word_buf.extend(f.to_uppercase());
                word_buf.push_str(c.as_str());
            }
            sentence_start = false;
        } else {
            word_buf.push_str(word);
        }
        words_in_sentence += 1;
        if words_in_sentence >= 6 + (state >> 60) as usize {
            word_buf.push('.');
            sentence_start = true;
            words_in_sentence = 0;
        }
        count += tokenizer::count(&word_buf);
        out.push_str(&word_buf);
    }
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

const PLAN_CACHE_SLOTS: usize = 64;

/// Slots of a direct-mapped cache: (key, plan).
type PlanSlots = Vec<Option<(u64, Arc<TextPlan>)>>;
/// Slots of [`truncate`]'s cache: (whole plan, length, cut).
type CutSlots = Vec<Option<(Arc<TextPlan>, usize, Arc<TextPlan>)>>;

thread_local! {
    static PLANS: std::cell::RefCell<PlanSlots> =
        std::cell::RefCell::new(vec![None; PLAN_CACHE_SLOTS]);
    static CUTS: std::cell::RefCell<CutSlots> =
        std::cell::RefCell::new(vec![None; PLAN_CACHE_SLOTS]);
}

/// [`lorem`] split into token pieces, cached per thread: a load test repeating its prompts
/// gets the answer without tokenising it again.
pub fn lorem_plan(seed: u64, request_hash: u64, tokens: usize) -> Arc<TextPlan> {
    let key = splitmix64(seed ^ splitmix64(request_hash ^ splitmix64(tokens as u64)));
    cached(key, || TextPlan::new(&lorem(seed, request_hash, tokens)))
}

/// The plan cached under `key` in this thread, else `make`'s, cached.
fn cached(key: u64, make: impl FnOnce() -> TextPlan) -> Arc<TextPlan> {
    let slot = (key as usize) % PLAN_CACHE_SLOTS;
    if let Some(plan) = PLANS.with(|c| {
        c.borrow()[slot]
            .as_ref()
            .filter(|(k, _)| *k == key)
            .map(|(_, p)| p.clone())
    }) {
        return plan;
    }
    let plan = Arc::new(make());
    PLANS.with(|c| c.borrow_mut()[slot] = Some((key, plan.clone())));
    plan
}

/// A JSON value that validates against `schema` (the common subset of JSON Schema that
/// tool and response-format schemas use: type, properties, required, items, enum, const,
/// anyOf/oneOf/allOf, min/max, minItems, minLength, format, $ref into $defs).
pub fn example_for_schema(schema: &Value) -> Value {
    example(schema, schema, 0)
}

fn example(schema: &Value, root: &Value, depth: usize) -> Value {
    let Some(s) = schema.as_object() else {
        return json!("mock");
    };
    if depth > 16 {
        return Value::Null;
    }
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let target = r
            .strip_prefix("#/")
            .map(|p| {
                p.split('/')
                    .try_fold(root, |v, k| v.get(k))
                    .unwrap_or(&Value::Null)
            })
            .unwrap_or(&Value::Null);
        return example(target, root, depth + 1);
    }
    if let Some(c) = s.get("const") {
        return c.clone();
    }
    if let Some(Value::Array(e)) = s.get("enum")
        && let Some(first) = e.first()
    {
        return first.clone();
    }
    if let Some(d) = s.get("default") {
        return d.clone();
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(alts)) = s.get(key) {
            // Prefer a non-null alternative: it exercises the client more.
            let alt = alts
                .iter()
                .find(|a| a.get("type").and_then(Value::as_str) != Some("null"))
                .or(alts.first());
            if let Some(a) = alt {
                return example(a, root, depth + 1);
            }
        }
    }
    if let Some(Value::Array(all)) = s.get("allOf") {
        let mut merged = Map::new();
        for part in all {
            if let Value::Object(o) = example(part, root, depth + 1) {
                merged.extend(o);
            }
        }
        return Value::Object(merged);
    }
    let ty = match s.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null"),
        _ if s.contains_key("properties") => "object",
        _ if s.contains_key("items") => "array",
        _ => "string",
    };
    match ty {
        "object" => {
            let mut out = Map::new();
            if let Some(Value::Object(props)) = s.get("properties") {
                for (k, v) in props {
                    out.insert(k.clone(), example(v, root, depth + 1));
                }
            }
            Value::Object(out)
        }
        "array" => {
            let min = s.get("minItems").and_then(Value::as_u64).unwrap_or(1);
            let max = s
                .get("maxItems")
                .and_then(Value::as_u64)
                .unwrap_or(u64::MAX);
            let n = min.max(1).min(max).min(8);
            let item = s.get("items").cloned().unwrap_or(json!({"type": "string"}));
            Value::Array((0..n).map(|_| example(&item, root, depth + 1)).collect())
        }
        "integer" => {
            let lo = number_bound(s, "minimum", "exclusiveMinimum", 1.0).ceil();
            let hi = number_bound(s, "maximum", "exclusiveMaximum", -1.0).floor();
            let v = if lo.is_finite() {
                lo
            } else if hi.is_finite() {
                hi.min(42.0)
            } else {
                42.0
            };
            json!(v as i64)
        }
        "number" => {
            let lo = number_bound(s, "minimum", "exclusiveMinimum", 0.5);
            let hi = number_bound(s, "maximum", "exclusiveMaximum", -0.5);
            let v = if lo.is_finite() {
                lo
            } else if hi.is_finite() {
                hi.min(4.2)
            } else {
                4.2
            };
            json!(v)
        }
        "boolean" => json!(true),
        "null" => Value::Null,
        _ => {
            let text = match s.get("format").and_then(Value::as_str) {
                Some("date-time") => "2024-01-01T00:00:00Z",
                Some("date") => "2024-01-01",
                Some("time") => "00:00:00",
                Some("email") => "mock@example.com",
                Some("uri") | Some("url") => "https://example.com/mock",
                Some("uuid") => "00000000-0000-4000-8000-000000000000",
                _ => "mock",
            };
            let min = s.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
            let max = s
                .get("maxLength")
                .and_then(Value::as_u64)
                .unwrap_or(u64::MAX) as usize;
            let mut t = text.to_string();
            while t.len() < min {
                t.push('x');
            }
            if t.len() > max {
                t.truncate(max);
            }
            json!(t)
        }
    }
}

/// The inclusive lower (`step` > 0) or upper (`step` < 0) bound, or ±∞.
fn number_bound(s: &Map<String, Value>, inclusive: &str, exclusive: &str, step: f64) -> f64 {
    if let Some(v) = s.get(inclusive).and_then(Value::as_f64) {
        return v;
    }
    if let Some(v) = s.get(exclusive).and_then(Value::as_f64) {
        return v + step;
    }
    f64::INFINITY * -step.signum()
}

/// 64 random bits from a per-thread SplitMix64 stream seeded once from the OS RNG.
pub fn random_u64() -> u64 {
    thread_local! {
        static STATE: std::cell::Cell<u64> = std::cell::Cell::new(rand::random());
    }
    STATE.with(|state| {
        state.set(state.get().wrapping_add(1));
        splitmix64(state.get())
    })
}

/// An OpenAI-style id: `prefix` + 24 random alphanumerics. Ids need to be unique, not
/// unpredictable: a per-thread SplitMix64 stream seeded once from the OS RNG costs a few
/// nanoseconds per id, where 24 draws from `rand::rng()` (ChaCha) were ~1 % of a request.
pub fn random_id(prefix: &str) -> String {
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut id = String::with_capacity(prefix.len() + 24);
    id.push_str(prefix);
    let mut left = 24;
    while left > 0 {
        let mut bits = random_u64();
        // Ten 6-bit draws per word; 62 and 63 are skipped so every character is equally likely.
        for _ in 0..10 {
            let v = (bits & 63) as usize;
            bits >>= 6;
            if v < ALNUM.len() && left > 0 {
                id.push(ALNUM[v] as char);
                left -= 1;
            }
        }
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cut is the first n pieces of its own plan, shared by every request cutting the same
    /// plan to the same length, and never another plan's, even at a reused address.
    #[test]
    fn cuts_are_cached_per_plan_and_length() {
        let whole = Arc::new(TextPlan::new("one two three four five six"));
        let cut = truncate(&whole, 3);
        assert_eq!(cut.pieces, whole.pieces[..3]);
        assert_eq!(cut.full_escaped, whole.escaped[..3].concat());
        assert!(
            Arc::ptr_eq(&cut, &truncate(&whole, 3)),
            "the same cut again"
        );
        assert_eq!(truncate(&whole, 2).pieces, whole.pieces[..2]);
        assert!(
            Arc::ptr_eq(&truncate(&whole, 99), &whole),
            "no cut past the end"
        );
        for text in ["alpha beta gamma delta", "red green blue cyan magenta"] {
            let other = Arc::new(TextPlan::new(text));
            assert_eq!(truncate(&other, 3).pieces, other.pieces[..3], "{text}");
        }
    }

    #[test]
    fn random_ids_are_alphanumeric_and_distinct() {
        let ids: std::collections::HashSet<String> =
            (0..10_000).map(|_| random_id("chatcmpl-")).collect();
        assert_eq!(ids.len(), 10_000);
        for id in ids.iter().take(100) {
            let tail = id.strip_prefix("chatcmpl-").unwrap();
            assert_eq!(tail.len(), 24);
            assert!(tail.bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
        }
        // Every one of the 62 characters shows up.
        let seen: std::collections::HashSet<u8> =
            ids.iter().flat_map(|i| i.bytes().skip(9)).collect();
        assert_eq!(seen.len(), 62);
    }

    #[test]
    fn schema_examples_respect_constraints() {
        let schema = json!({
            "type": "object",
            "properties": {
                "city": {"type": "string", "minLength": 6},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 3, "maximum": 10},
                "ratio": {"type": "number", "exclusiveMinimum": 1},
                "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
                "when": {"$ref": "#/$defs/ts"},
                "maybe": {"anyOf": [{"type": "null"}, {"type": "boolean"}]}
            },
            "required": ["city"],
            "$defs": {"ts": {"type": "string", "format": "date-time"}}
        });
        let v = example_for_schema(&schema);
        assert!(v["city"].as_str().unwrap().len() >= 6);
        assert_eq!(v["unit"], "celsius");
        assert_eq!(v["days"], 3);
        assert!(v["ratio"].as_f64().unwrap() > 1.0);
        assert_eq!(v["tags"].as_array().unwrap().len(), 2);
        assert_eq!(v["when"], "2024-01-01T00:00:00Z");
        assert_eq!(v["maybe"], true);
    }

    #[test]
    fn lorem_is_deterministic_and_sized() {
        let a = lorem(7, 42, 30);
        assert_eq!(a, lorem(7, 42, 30));
        assert_ne!(a, lorem(8, 42, 30));
        let n = tokenizer::count(&a);
        assert!((30..40).contains(&n), "{n} tokens: {a}");
    }

    fn plain(hash: &dyn Fn() -> u64) -> Length<'_> {
        Length {
            ignore_eos: false,
            min_tokens: 0,
            target: None,
            seed: 0,
            hash,
        }
    }

    #[test]
    fn stop_and_length_cut() {
        let h = || 1;
        let len = plain(&h);
        let plan = Arc::new(TextPlan::new("one two three four five"));
        let (p, f, m) = shape_text(plan.clone(), &["zzz".into(), "three".into()], None, &len);
        assert_eq!(p.pieces.concat(), "one two ");
        assert_eq!((f, m), ("stop", Some(1)));
        let (p, f, m) = shape_text(plan.clone(), &[], Some(2), &len);
        assert_eq!(p.tokens(), 2);
        assert_eq!((f, m), ("length", None));
        let (p, _, _) = shape_text(plan.clone(), &[], Some(100), &len);
        assert!(Arc::ptr_eq(&p, &plan));
    }

    #[test]
    fn ignore_eos_min_tokens_and_targets_size_the_text() {
        let h = || 1;
        let plan = Arc::new(TextPlan::new("one two three four five"));
        let eos = Length {
            ignore_eos: true,
            ..plain(&h)
        };
        let (p, f, _) = shape_text(plan.clone(), &[], Some(300), &eos);
        assert_eq!((p.tokens(), f), (300, "length"));
        assert!(p.pieces.concat().starts_with("one two three four five "));
        let min = Length {
            min_tokens: 4,
            ..plain(&h)
        };
        let (p, f, m) = shape_text(plan.clone(), &["two".into()], None, &min);
        assert_eq!((p.tokens(), f, m), (5, "stop", None));
        let sized = Length {
            target: Some(40),
            ..plain(&h)
        };
        assert_eq!(shape_text(plan.clone(), &[], None, &sized).0.tokens(), 40);
        assert_eq!(shape_text(plan, &[], Some(30), &sized).1, "length");
    }

    #[test]
    fn drawn_lengths_stay_in_bounds() {
        let uniform = LengthDist::Uniform { min: 5, max: 9 };
        let seen: std::collections::BTreeSet<usize> = (0..1000)
            .map(|r| draw_length(uniform, splitmix64(r)))
            .collect();
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), [5, 6, 7, 8, 9]);
        let normal = LengthDist::Normal {
            mean: 100.0,
            stddev: 10.0,
        };
        let draws: Vec<usize> = (0..2000)
            .map(|r| draw_length(normal, splitmix64(r)))
            .collect();
        let mean = draws.iter().sum::<usize>() as f64 / draws.len() as f64;
        assert!((97.0..103.0).contains(&mean), "{mean}");
        assert!(draws.iter().all(|&d| (50..150).contains(&d)));
        let d = Some(uniform);
        assert_eq!(answer_length(d, Some(3), 0), answer_length(d, Some(3), 0));
        assert_eq!(answer_length(None, Some(3), 0), None);
    }
}
