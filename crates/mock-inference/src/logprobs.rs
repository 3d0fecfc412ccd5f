//! Log probabilities of generated tokens (chat `logprobs`/`top_logprobs`, completions
//! `logprobs: N`, Responses `include: ["message.output_text.logprobs"]`). Nothing is stored
//! per token: each token's values are drawn from the request's seed, the choice and the
//! token's position when its entry is written, so the same seed gives the same numbers and
//! requests without logprobs pay nothing.
//!
//! The chosen token is always the most likely one: its logprob (≤ 0) equals the first of its
//! top list, and each alternative is less likely than the one before.

use crate::generate::{escape, push_u64, splitmix64, unit};

/// The most alternatives a token lists (OpenAI's and vLLM's default limit).
pub const MAX_TOP: u32 = 20;

/// Tokens the alternatives are drawn from (common cl100k tokens): more than [`MAX_TOP`], so
/// a full list exists without the chosen token.
const ALTERNATIVES: &[&str] = &[
    " the", " a", ",", ".", " and", " of", " to", " in", " is", " that", " it", " for", " on",
    " with", " as", " was", " be", " this", " at", " by", " an", " or",
];

/// Logprobs a response carries: `top` alternatives per token, drawn from `seed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Logprobs {
    pub top: usize,
    pub seed: u64,
}

/// One token's values: its own logprob and its alternatives', descending.
struct Draw {
    bits: u64,
    chosen: f64,
}

impl Logprobs {
    fn draw(&self, choice: usize, step: usize) -> Draw {
        let bits = splitmix64(self.seed ^ splitmix64(((choice as u64) << 32) ^ step as u64));
        Draw {
            bits,
            // In (-1.5, 0]: a model fairly sure of each token.
            chosen: -(unit(bits) * 1.5),
        }
    }

    /// The `k`-th alternative (from 1) after `token`: its text and logprob.
    fn alternative<'a>(&self, d: &Draw, token: &str, k: usize, prev: f64) -> (&'a str, f64) {
        let start = (d.bits % ALTERNATIVES.len() as u64) as usize;
        let mut picked = ALTERNATIVES
            .iter()
            .cycle()
            .skip(start)
            .filter(|a| **a != token);
        let text = picked.nth(k - 1).copied().unwrap_or(" mock");
        let gap = 0.25 + unit(splitmix64(d.bits.wrapping_add(k as u64))) * 2.0;
        (text, prev - gap)
    }

    /// The alternatives of `token` (choice `choice`, position `step`), the chosen token first:
    /// `top` entries (at least one when `at_least_one`).
    fn ranked(
        &self,
        token: &str,
        choice: usize,
        step: usize,
        at_least_one: bool,
    ) -> (f64, Vec<(String, f64)>) {
        let d = self.draw(choice, step);
        let n = if at_least_one {
            self.top.max(1)
        } else {
            self.top
        };
        let mut list = Vec::with_capacity(n);
        let mut prev = d.chosen;
        for k in 0..n {
            if k == 0 {
                list.push((token.to_string(), d.chosen));
                continue;
            }
            let (text, lp) = self.alternative(&d, token, k, prev);
            list.push((text.to_string(), lp));
            prev = lp;
        }
        (d.chosen, list)
    }

    /// A chat or Responses entry: `{"token","logprob","bytes","top_logprobs":[…]}`.
    pub fn push_entry(&self, out: &mut Vec<u8>, token: &str, choice: usize, step: usize) {
        let (chosen, top) = self.ranked(token, choice, step, false);
        push_token(out, token, chosen);
        out.extend_from_slice(b",\"top_logprobs\":[");
        for (i, (t, lp)) in top.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_token(out, t, *lp);
            out.push(b'}');
        }
        out.extend_from_slice(b"]}");
    }

    /// Entries of every token of `pieces`, comma-separated.
    pub fn push_entries(&self, out: &mut Vec<u8>, pieces: &[String], choice: usize) {
        for (step, p) in pieces.iter().enumerate() {
            if step > 0 {
                out.push(b',');
            }
            self.push_entry(out, p, choice, step);
        }
    }

    /// A legacy completion's `logprobs` object for `pieces[from..to]`, whose text starts at
    /// character `offset`: `{"tokens","token_logprobs","top_logprobs","text_offset"}`. As
    /// vLLM's, each top dict holds the chosen token (so at least one entry).
    pub fn push_completion(
        &self,
        out: &mut Vec<u8>,
        pieces: &[String],
        (from, to): (usize, usize),
        mut offset: usize,
        choice: usize,
    ) {
        let range = from..to.min(pieces.len());
        let list = |out: &mut Vec<u8>, each: &mut dyn FnMut(&mut Vec<u8>, usize, &str)| {
            out.push(b'[');
            for step in range.clone() {
                if step > from {
                    out.push(b',');
                }
                each(out, step, &pieces[step]);
            }
            out.push(b']');
        };
        out.extend_from_slice(b"{\"tokens\":");
        list(out, &mut |out, _, p| push_str(out, p));
        out.extend_from_slice(b",\"token_logprobs\":");
        list(out, &mut |out, step, p| {
            push_f64(out, self.ranked(p, choice, step, true).0)
        });
        out.extend_from_slice(b",\"top_logprobs\":");
        list(out, &mut |out, step, p| {
            out.push(b'{');
            for (i, (t, lp)) in self.ranked(p, choice, step, true).1.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                push_str(out, t);
                out.push(b':');
                push_f64(out, *lp);
            }
            out.push(b'}');
        });
        out.extend_from_slice(b",\"text_offset\":");
        list(out, &mut |out, _, p| {
            push_u64(out, offset as u64);
            offset += p.chars().count();
        });
        out.push(b'}');
    }
}

/// `{"token":…,"logprob":…,"bytes":[…]` (left open).
fn push_token(out: &mut Vec<u8>, token: &str, logprob: f64) {
    out.extend_from_slice(b"{\"token\":");
    push_str(out, token);
    out.extend_from_slice(b",\"logprob\":");
    push_f64(out, logprob);
    out.extend_from_slice(b",\"bytes\":[");
    for (i, b) in token.bytes().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_u64(out, b as u64);
    }
    out.push(b']');
}

fn push_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    out.extend_from_slice(escape(s).as_bytes());
    out.push(b'"');
}

fn push_f64(out: &mut Vec<u8>, v: f64) {
    serde_json::to_writer(&mut *out, &v).expect("finite numbers serialise");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_ranked_and_reproducible() {
        let lp = Logprobs { top: 5, seed: 7 };
        let mut a = Vec::new();
        lp.push_entry(&mut a, " mock", 0, 3);
        let v: serde_json::Value = serde_json::from_slice(&a).unwrap();
        let top = v["top_logprobs"].as_array().unwrap();
        assert_eq!(top.len(), 5);
        assert_eq!(top[0]["logprob"], v["logprob"]);
        assert_eq!(top[0]["token"], " mock");
        let values: Vec<f64> = top.iter().map(|t| t["logprob"].as_f64().unwrap()).collect();
        assert!(values.windows(2).all(|w| w[0] > w[1]), "{values:?}");
        assert!(values.iter().all(|v| *v <= 0.0));
        let mut b = Vec::new();
        lp.push_entry(&mut b, " mock", 0, 3);
        assert_eq!(a, b);
    }
}
