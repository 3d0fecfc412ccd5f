//! Prometheus metrics under vLLM's names, so dashboards and autoscalers built for vLLM work
//! against the mock. Lock-free atomics on the hot path; text exposition format 0.0.4.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use crate::config::MetricNames;

const TTFT_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
    20.0, 40.0, 80.0,
];
const ITL_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0,
];
const E2E_BUCKETS: &[f64] = &[
    0.001, 0.01, 0.1, 0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0,
    60.0, 120.0,
];

/// Shards per metric: each thread writes its own cache line, so two cores serving requests
/// do not bounce the same counters between them. Rendering sums the shards.
const SHARDS: usize = 8;
const MAX_BUCKETS: usize = 24;

static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static SHARD: usize = NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % SHARDS;
}

fn shard() -> usize {
    SHARD.with(|s| *s)
}

#[repr(align(128))]
#[derive(Default)]
struct CounterShard(AtomicU64);

/// A monotonically increasing counter, sharded per thread.
#[derive(Default)]
pub struct Counter {
    shards: [CounterShard; SHARDS],
}

impl Counter {
    pub fn add(&self, v: u64) {
        self.shards[shard()].0.fetch_add(v, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| s.0.load(Ordering::Relaxed))
            .sum()
    }
}

#[repr(align(128))]
#[derive(Default)]
struct HistShard {
    /// Non-cumulative per bucket; rendering accumulates.
    counts: [AtomicU64; MAX_BUCKETS],
    sum_nanos: AtomicU64,
    count: AtomicU64,
}

pub struct Histogram {
    bounds: &'static [f64],
    shards: [HistShard; SHARDS],
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        assert!(bounds.len() <= MAX_BUCKETS);
        Self {
            bounds,
            shards: Default::default(),
        }
    }

    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let shard = &self.shards[shard()];
        if let Some(i) = self.bounds.iter().position(|b| secs <= *b) {
            shard.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        shard
            .sum_nanos
            .fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
        shard.count.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| s.count.load(Ordering::Relaxed))
            .sum()
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (i, b) in self.bounds.iter().enumerate() {
            cumulative += self
                .shards
                .iter()
                .map(|s| s.counts[i].load(Ordering::Relaxed))
                .sum::<u64>();
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{b}\"}} {cumulative}");
        }
        // Shards are read one after another while requests run: never let +Inf fall below
        // a finite bucket.
        let count = self.count().max(cumulative);
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
        let sum = self
            .shards
            .iter()
            .map(|s| s.sum_nanos.load(Ordering::Relaxed))
            .sum::<u64>() as f64
            / 1e9;
        let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
        let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
    }
}

/// Why a request finished, the `finished_reason` label of `request_success_total`.
#[derive(Debug, Clone, Copy)]
pub enum Finish {
    Stop,
    Length,
    ToolCalls,
}

impl Finish {
    pub fn from_reason(r: &str) -> Self {
        match r {
            "length" => Finish::Length,
            "tool_calls" => Finish::ToolCalls,
            _ => Finish::Stop,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub enum FaultKind {
    Status,
    StreamError,
    Reset,
    Stall,
}

pub struct Metrics {
    model: String,
    style: MetricNames,
    pub ttft: Histogram,
    pub itl: Histogram,
    pub e2e: Histogram,
    pub running: AtomicI64,
    pub waiting: AtomicI64,
    pub prompt_tokens: Counter,
    pub generation_tokens: Counter,
    success: [Counter; 3],
    faults: [Counter; 4],
    rejected: Counter,
    /// KV cache tokens held by running requests, of `kv_capacity`.
    pub kv_tokens: AtomicU64,
    kv_capacity: u64,
    /// LoRA adapter names and their running and waiting requests.
    loras: Vec<String>,
    pub lora_running: Vec<AtomicI64>,
    pub lora_waiting: Vec<AtomicI64>,
}

/// A request waiting for a running slot on a LoRA adapter; it stops waiting when dropped.
pub struct LoraWaiting<'a>(&'a Metrics, usize);

impl Drop for LoraWaiting<'_> {
    fn drop(&mut self) {
        self.0.lora_waiting[self.1].fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    pub fn new(model: &str, style: MetricNames, kv_capacity: u64, loras: Vec<String>) -> Self {
        Self {
            kv_tokens: AtomicU64::new(0),
            kv_capacity: kv_capacity.max(1),
            lora_running: loras.iter().map(|_| AtomicI64::new(0)).collect(),
            lora_waiting: loras.iter().map(|_| AtomicI64::new(0)).collect(),
            loras,
            model: model.to_string(),
            style,
            ttft: Histogram::new(TTFT_BUCKETS),
            itl: Histogram::new(ITL_BUCKETS),
            e2e: Histogram::new(E2E_BUCKETS),
            running: AtomicI64::new(0),
            waiting: AtomicI64::new(0),
            prompt_tokens: Counter::default(),
            generation_tokens: Counter::default(),
            success: Default::default(),
            faults: Default::default(),
            rejected: Counter::default(),
        }
    }

    pub fn success(&self, f: Finish) {
        self.success[f as usize].add(1);
    }

    pub fn fault(&self, f: FaultKind) {
        self.faults[f as usize].add(1);
    }

    pub fn rejected(&self) {
        self.rejected.add(1);
    }

    /// Counts a request as waiting on LoRA adapter `i` until the guard drops.
    pub fn lora_waiting(&self, i: usize) -> LoraWaiting<'_> {
        self.lora_waiting[i].fetch_add(1, Ordering::Relaxed);
        LoraWaiting(self, i)
    }

    /// The share of the KV cache the running requests hold, at most 1.
    pub fn kv_cache_usage(&self) -> f64 {
        (self.kv_tokens.load(Ordering::Relaxed) as f64 / self.kv_capacity as f64).min(1.0)
    }

    /// vLLM's `lora_requests_info` labels: the adapters with requests running and waiting,
    /// comma-separated.
    fn lora_labels(&self) -> (String, String) {
        let names = |counts: &[AtomicI64]| {
            self.loras
                .iter()
                .zip(counts)
                .filter(|(_, c)| c.load(Ordering::Relaxed) > 0)
                .map(|(n, _)| escape_label(n))
                .collect::<Vec<_>>()
                .join(",")
        };
        (names(&self.lora_running), names(&self.lora_waiting))
    }

    pub fn success_count(&self) -> u64 {
        self.success.iter().map(Counter::get).sum()
    }

    fn name(&self, base: &str) -> String {
        match self.style {
            MetricNames::Vllm => format!("vllm:{base}"),
            MetricNames::Underscore => format!("vllm_{base}"),
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::with_capacity(8 * 1024);
        let model = escape_label(&self.model);
        let labels = format!("model_name=\"{model}\"");
        let head = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
        };
        let gauge = |v: &AtomicI64| v.load(Ordering::Relaxed).max(0) as u64;
        for (base, kind, help, value) in [
            (
                "num_requests_running",
                "gauge",
                "Number of requests currently generating.",
                gauge(&self.running),
            ),
            (
                "num_requests_waiting",
                "gauge",
                "Number of requests waiting for a running slot.",
                gauge(&self.waiting),
            ),
            (
                "prompt_tokens_total",
                "counter",
                "Number of prefill tokens processed.",
                self.prompt_tokens.get(),
            ),
            (
                "generation_tokens_total",
                "counter",
                "Number of generation tokens processed.",
                self.generation_tokens.get(),
            ),
        ] {
            let n = self.name(base);
            head(&mut out, &n, kind, help);
            let _ = writeln!(out, "{n}{{{labels}}} {value}");
        }
        let n = self.name("kv_cache_usage_perc");
        head(
            &mut out,
            &n,
            "gauge",
            "KV-cache usage. 1 means 100 percent usage.",
        );
        let _ = writeln!(out, "{n}{{{labels}}} {}", self.kv_cache_usage());
        if !self.loras.is_empty() {
            // vLLM's info gauge: the labels carry the state, the value is when it was read.
            let n = self.name("lora_requests_info");
            head(&mut out, &n, "gauge", "Running stats on lora requests.");
            let (running, waiting) = self.lora_labels();
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            let _ = writeln!(
                out,
                "{n}{{max_lora=\"{}\",running_lora_adapters=\"{running}\",\
                 waiting_lora_adapters=\"{waiting}\"}} {now}",
                self.loras.len()
            );
        }
        let n = self.name("request_success_total");
        let help = "Count of successfully processed requests.";
        head(&mut out, &n, "counter", help);
        for (reason, c) in ["stop", "length", "tool_calls"].iter().zip(&self.success) {
            let _ = writeln!(
                out,
                "{n}{{{labels},finished_reason=\"{reason}\"}} {}",
                c.get()
            );
        }
        for (base, help, histogram) in [
            (
                "time_to_first_token_seconds",
                "Histogram of time to first token in seconds.",
                &self.ttft,
            ),
            (
                "inter_token_latency_seconds",
                "Histogram of inter-token latency in seconds.",
                &self.itl,
            ),
            (
                "e2e_request_latency_seconds",
                "Histogram of end to end request latency in seconds.",
                &self.e2e,
            ),
        ] {
            let n = self.name(base);
            head(&mut out, &n, "histogram", help);
            histogram.render(&mut out, &n, &labels);
        }
        // The mock's own counters, beside vLLM's.
        let n = "mock_inference_faults_injected_total";
        head(&mut out, n, "counter", "Faults injected, by kind.");
        for (kind, c) in ["status", "stream_error", "reset", "stall"]
            .iter()
            .zip(&self.faults)
        {
            let _ = writeln!(out, "{n}{{{labels},kind=\"{kind}\"}} {}", c.get());
        }
        let n = "mock_inference_rejected_total";
        let help = "Requests refused with 429 because the running limit and queue were full.";
        head(&mut out, n, "counter", help);
        let _ = writeln!(out, "{n}{{{labels}}} {}", self.rejected.get());
        out
    }
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative() {
        let m = Metrics::new("m", MetricNames::Vllm, 100, Vec::new());
        m.ttft.observe(Duration::from_millis(3));
        m.ttft.observe(Duration::from_millis(30));
        let text = m.render();
        assert!(
            text.contains(
                "vllm:time_to_first_token_seconds_bucket{model_name=\"m\",le=\"0.005\"} 1"
            )
        );
        assert!(
            text.contains(
                "vllm:time_to_first_token_seconds_bucket{model_name=\"m\",le=\"0.04\"} 2"
            )
        );
        assert!(text.contains("vllm:time_to_first_token_seconds_count{model_name=\"m\"} 2"));
    }
}
