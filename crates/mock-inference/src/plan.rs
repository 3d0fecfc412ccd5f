//! What a response is made of, streamed or not: the [`StreamPlan`] every API builds, and the
//! [`Wire`] through which an API other than chat and legacy completions shapes its bytes.

use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use crate::faults::Fault;
use crate::generate::ChoiceOut;
use crate::logprobs::Logprobs;
use crate::metrics::{Finish, Metrics};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    Chat,
    Completion,
}

/// The body and event shapes of an API other than chat and legacy completions (the
/// Responses API, Anthropic Messages): the job keeps its schedule, faults and metrics and
/// asks the wire only for bytes.
pub trait Wire: Send + 'static {
    /// The whole non-streamed body.
    fn body(&mut self, plan: &StreamPlan) -> Bytes;
    /// The events sent before the first token, at once (`response.created`, `message_start`).
    fn open(&mut self, plan: &StreamPlan, out: &mut Vec<u8>);
    /// The events of token `step` (of every choice that has one); returns how many tokens.
    fn token(&mut self, plan: &StreamPlan, step: usize, out: &mut Vec<u8>) -> usize;
    /// The events after the last token.
    fn finish(&mut self, plan: &StreamPlan, out: &mut Vec<u8>);
    /// The injected mid-stream error, after which the stream ends.
    fn error(&mut self, plan: &StreamPlan, out: &mut Vec<u8>);
}

/// Everything a response needs, streamed or not.
pub struct StreamPlan {
    pub kind: StreamKind,
    /// Another API's shapes; chat's or completions' (by `kind`) when `None`.
    pub wire: Option<Box<dyn Wire>>,
    pub id: String,
    pub created: u64,
    /// Escaped model id.
    pub model: String,
    pub choices: Vec<ChoiceOut>,
    pub prompt_tokens: usize,
    pub include_usage: bool,
    pub fault: Fault,
    /// Scenario delay before the first token.
    pub extra_delay: Duration,
    pub seed: u64,
    pub start: Instant,
    /// Log probabilities to send with each text token (chat and legacy completions; the
    /// other APIs' wires keep their own).
    pub logprobs: Option<Logprobs>,
    /// The chat field of the reasoning (`reasoning` or `reasoning_content`).
    pub reasoning_field: &'static str,
}

impl StreamPlan {
    /// Reasoning tokens over all choices (`completion_tokens_details.reasoning_tokens`).
    pub fn reasoning_tokens(&self) -> usize {
        self.choices.iter().map(ChoiceOut::reasoning_tokens).sum()
    }

    /// Tokens generated over all choices.
    pub fn completion_tokens(&self) -> usize {
        self.choices.iter().map(ChoiceOut::completion_tokens).sum()
    }

    /// Counts the request as finished, streamed or not: end-to-end time, prompt and
    /// generated tokens, success by the first choice's finish reason.
    pub fn record_success(&self, m: &Metrics) {
        m.e2e.observe(self.start.elapsed());
        m.prompt_tokens.add(self.prompt_tokens as u64);
        m.generation_tokens.add(self.completion_tokens() as u64);
        m.success(Finish::from_reason(self.choices[0].finish_reason));
    }
}

/// One streamed token piece of a choice, JSON-escaped.
#[derive(Clone, Copy)]
pub enum Piece<'a> {
    /// A reasoning model's reasoning, before the answer.
    Reasoning(&'a str),
    Text(&'a str),
    /// Piece `at` of the arguments of tool call `call`.
    Args {
        call: usize,
        at: usize,
        piece: &'a str,
    },
}

/// The piece of stream step `step`: the reasoning's pieces first, then the answer's (the
/// text, or each tool call's arguments in turn).
pub fn piece_at(c: &ChoiceOut, step: usize) -> Option<Piece<'_>> {
    let thought = c.reasoning_tokens();
    if step < thought {
        return c
            .reasoning
            .as_ref()
            .map(|r| Piece::Reasoning(r.escaped[step].as_str()));
    }
    let step = step - thought;
    if let Some(t) = &c.text {
        return t.escaped.get(step).map(|p| Piece::Text(p.as_str()));
    }
    let mut at = step;
    for (call, tc) in c.tool_calls.iter().enumerate() {
        match tc.arguments.escaped.get(at) {
            Some(piece) => return Some(Piece::Args { call, at, piece }),
            None => at -= tc.arguments.escaped.len(),
        }
    }
    None
}
