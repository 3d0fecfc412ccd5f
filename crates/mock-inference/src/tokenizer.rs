//! Token counts from a real BPE tokenizer (cl100k_base, compiled into the binary by
//! `tiktoken-rs`: no download at run time). Counts of repeated texts come from a small
//! per-thread cache, so a load test sending the same prompt does not re-tokenise it.

use std::cell::RefCell;
use std::hash::{Hash, Hasher};
use std::sync::OnceLock;

use tiktoken_rs::CoreBPE;

pub const NAME: &str = "cl100k_base";

static BPE: OnceLock<CoreBPE> = OnceLock::new();

/// Loads the tokenizer (≈0.3 s in debug builds); call before serving.
pub fn init() {
    bpe();
}

fn bpe() -> &'static CoreBPE {
    BPE.get_or_init(|| tiktoken_rs::cl100k_base().expect("the bundled cl100k_base data loads"))
}

const CACHE_SLOTS: usize = 1024;

thread_local! {
    static CACHE: RefCell<Vec<(u64, u32)>> = RefCell::new(vec![(0, 0); CACHE_SLOTS]);
}

fn hash(text: &str) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    text.hash(&mut h);
    // 0 marks an empty slot.
    h.finish() | 1
}

/// Number of tokens in `text`.
pub fn count(text: &str) -> usize {
    if text.is_empty() {
        return 0;
    }
    let key = hash(text);
    let slot = (key as usize) % CACHE_SLOTS;
    if let Some(n) = CACHE.with(|c| {
        let c = c.borrow();
        (c[slot].0 == key).then_some(c[slot].1)
    }) {
        return n as usize;
    }
    let n = bpe().encode_ordinary(text).len();
    CACHE.with(|c| c.borrow_mut()[slot] = (key, n as u32));
    n
}

/// The text split at token boundaries: each piece is one or more whole tokens that decode to
/// valid UTF-8 (a multi-byte character split across tokens stays in one piece).
pub fn pieces(text: &str) -> Vec<String> {
    let bpe = bpe();
    let tokens = bpe.encode_ordinary(text);
    let mut out = Vec::with_capacity(tokens.len());
    let mut pending: Vec<u8> = Vec::new();
    for bytes in bpe._decode_native_and_split(tokens) {
        pending.extend_from_slice(&bytes);
        if let Ok(s) = std::str::from_utf8(&pending) {
            out.push(s.to_owned());
            pending.clear();
        }
    }
    if !pending.is_empty() {
        out.push(String::from_utf8_lossy(&pending).into_owned());
    }
    out
}

/// Decodes token ids (completions prompts given as tokens); ids outside the vocabulary
/// are dropped.
pub fn decode_lossy(tokens: &[u32]) -> String {
    let b = bpe();
    let mut out = String::new();
    for t in tokens {
        if let Ok(s) = b.decode(vec![*t]) {
            out.push_str(&s);
        }
    }
    out
}

/// The token ids of `text` (no special tokens: cl100k_base has no BOS to add).
pub fn encode(text: &str) -> Vec<u32> {
    bpe().encode_ordinary(text)
}

/// The chat format's special tokens (cl100k's chat variant): a message is
/// `<|im_start|>role<|im_sep|>content<|im_end|>`, 3 tokens besides its role and content —
/// the count [`chat_prompt_tokens`] charges.
pub const IM_START: u32 = 100_264;
pub const IM_END: u32 = 100_265;
pub const IM_SEP: u32 = 100_266;

/// The chat format's token ids of `messages` (role, content, name), with the reply's opening
/// (`<|im_start|>assistant<|im_sep|>`) when `generation_prompt`: as many as
/// [`chat_prompt_tokens`] counts when it is there.
pub fn encode_chat<'a>(
    messages: impl Iterator<Item = (&'a str, &'a str, Option<&'a str>)>,
    generation_prompt: bool,
) -> Vec<u32> {
    let mut ids = Vec::new();
    for (role, content, name) in messages {
        ids.push(IM_START);
        ids.extend(encode(role));
        if let Some(name) = name {
            ids.push(IM_SEP);
            ids.extend(encode(name));
        }
        ids.push(IM_SEP);
        ids.extend(encode(content));
        ids.push(IM_END);
    }
    if generation_prompt {
        ids.push(IM_START);
        ids.extend(encode("assistant"));
        ids.push(IM_SEP);
    }
    ids
}

/// The text of token ids, special tokens by name; the first id outside the vocabulary is
/// the error.
pub fn decode(tokens: &[u32]) -> Result<String, u32> {
    let b = bpe();
    let mut bytes = Vec::new();
    for &t in tokens {
        match t {
            IM_START => bytes.extend_from_slice(b"<|im_start|>"),
            IM_END => bytes.extend_from_slice(b"<|im_end|>"),
            IM_SEP => bytes.extend_from_slice(b"<|im_sep|>"),
            // The split decoder panics on ids it lacks: check the vocabulary first.
            _ if in_vocabulary(t) => bytes.extend(b._decode_native_and_split(vec![t]).flatten()),
            _ => return Err(t),
        }
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// cl100k_base's ids: the 100,256 byte-pair ranks and its five special tokens.
fn in_vocabulary(t: u32) -> bool {
    t < 100_256 || matches!(t, 100_257..=100_260 | 100_276)
}

/// Prompt tokens of a chat request, counted as OpenAI's cookbook does for gpt-3.5/4:
/// 3 per message, 1 per name, 3 to prime the reply.
pub fn chat_prompt_tokens<'a>(
    messages: impl Iterator<Item = (&'a str, &'a str, Option<&'a str>)>,
) -> usize {
    let mut n = 3;
    for (role, content, name) in messages {
        n += 3 + count(role) + count(content);
        if let Some(name) = name {
            n += 1 + count(name);
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_like_openai() {
        assert_eq!(count("hello world"), 2);
        assert_eq!(count(""), 0);
        // cached path gives the same answer
        assert_eq!(count("hello world"), 2);
    }

    #[test]
    fn chat_encoding_counts_like_usage() {
        let msgs = [
            ("system", "Be brief.", None),
            ("user", "hello world", Some("ann")),
        ];
        let ids = encode_chat(msgs.into_iter(), true);
        assert_eq!(ids.len(), chat_prompt_tokens(msgs.into_iter()));
        let text = decode(&ids).unwrap();
        assert!(text.starts_with("<|im_start|>system<|im_sep|>Be brief.<|im_end|>"));
        assert_eq!(decode(&encode("hello world")).unwrap(), "hello world");
        assert_eq!(decode(&[u32::MAX]), Err(u32::MAX));
    }

    #[test]
    fn pieces_rejoin_to_text() {
        let text = "Grüße, 世界! This is a mock response.";
        let p = pieces(text);
        assert!(p.len() > 5);
        assert_eq!(p.concat(), text);
    }
}
