//! Configuration: defaults, then the YAML file (`--config`), then environment and flags
//! (clap gives flags precedence over their environment variables).

use std::path::{Path, PathBuf};

use clap::Parser;
use clap::builder::BoolishValueParser;
use devenv_core::exit::{self, ExitCoded};
use serde::Deserialize;

/// The seed Go mock's sentence: the default fixed response.
pub const DEFAULT_TEXT: &str = "This is a mock response from the development inference engine.";
pub const DEFAULT_MODEL: &str = "mock-gpt";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}; fix: pass an existing file to --config")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "config file {path} is not valid: {source}; fix: compare it with configs/mock-inference.yaml"
    )]
    Parse {
        path: PathBuf,
        source: serde_norway::Error,
    },
    #[error(
        "cannot read scenario file {path}: {source}; fix: point response.scenario_file / --scenario at an existing file"
    )]
    ScenarioRead {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "scenario file {path} is not valid: {source}; fix: see the scenario section of crates/mock-inference/README.md"
    )]
    ScenarioParse {
        path: PathBuf,
        source: serde_norway::Error,
    },
    #[error(
        "scenario file {path}, rule {rule}: {message}; fix: see the scenario section of crates/mock-inference/README.md"
    )]
    ScenarioRule {
        path: PathBuf,
        rule: usize,
        message: String,
    },
    #[error("invalid setting {name}: {message}")]
    Invalid { name: &'static str, message: String },
}

impl ExitCoded for ConfigError {
    fn exit_code(&self) -> u8 {
        exit::USAGE
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    /// The same text every time (`response.text`).
    Fixed,
    /// The last user message (or the prompt) back.
    Echo,
    /// Deterministic lorem ipsum from the seed and a hash of the request.
    Lorem,
    /// Rules from a scenario file; unmatched requests fall back to `fixed`.
    Scenario,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum LatencyProfile {
    /// No artificial latency (load-testing the client, benchmarks).
    None,
    /// A small hosted model: 80 ms to first token, 10 ms per token.
    Fast,
    /// A large hosted model: 400 ms to first token, 30 ms per token, jitter, prefill, slowdown.
    Realistic,
    /// An overloaded server: 1.5 s to first token, 80 ms per token.
    Slow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum MetricNames {
    /// vLLM's names (`vllm:…`), what dashboards built for vLLM scrape.
    Vllm,
    /// `vllm_…`: the same metrics without the colon Prometheus' linter objects to.
    Underscore,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub host: String,
    pub port: u16,
    /// Served model ids; the first is the one `MODEL_NAME` sets.
    pub models: Vec<String>,
    pub accept_any_model: bool,
    /// Reject unknown request fields with 400 instead of ignoring them.
    pub strict: bool,
    pub max_body_bytes: usize,
    pub system_fingerprint: String,
    /// Requests to `/v1/…` must carry this key (OpenAI: `Authorization: Bearer`; Anthropic:
    /// `x-api-key` or Bearer); unset, nothing is checked.
    pub api_key: Option<String>,
    /// The context length `/tokenize` reports (vLLM's `max_model_len`).
    pub max_model_len: usize,
    /// LoRA adapters served beside the base models (vLLM's `--lora-modules`).
    pub lora_modules: Vec<LoraModule>,
    pub rate_limits: RateLimitsConfig,
    pub response: ResponseConfig,
    pub tools: ToolsConfig,
    pub reasoning: ReasoningConfig,
    pub generation: GenerationConfig,
    pub embeddings: EmbeddingsConfig,
    pub latency: LatencyConfig,
    pub limits: LimitsConfig,
    pub faults: FaultsConfig,
    pub shutdown: ShutdownConfig,
    pub metrics: MetricsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8000,
            models: vec![DEFAULT_MODEL.into()],
            accept_any_model: false,
            strict: false,
            max_body_bytes: 1024 * 1024,
            system_fingerprint: "fp_devenv_mock".into(),
            api_key: None,
            max_model_len: 131_072,
            lora_modules: Vec::new(),
            rate_limits: RateLimitsConfig::default(),
            response: ResponseConfig::default(),
            tools: ToolsConfig::default(),
            reasoning: ReasoningConfig::default(),
            generation: GenerationConfig::default(),
            embeddings: EmbeddingsConfig::default(),
            latency: LatencyConfig::default(),
            limits: LimitsConfig::default(),
            faults: FaultsConfig::default(),
            shutdown: ShutdownConfig::default(),
            metrics: MetricsConfig::default(),
        }
    }
}

/// A LoRA adapter: served under `name`, listed in `/v1/models` with `root` = `path` and
/// `parent` = `base_model_name` (the first model when unset).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoraModule {
    pub name: String,
    pub path: String,
    #[serde(default)]
    pub base_model_name: Option<String>,
}

impl LoraModule {
    /// vLLM's `--lora-modules` forms: `name=path`, or a JSON object with `name`, `path` and
    /// optionally `base_model_name`.
    pub fn parse(arg: &str) -> Result<Self, String> {
        let arg = arg.trim();
        if arg.starts_with('{') {
            return serde_json::from_str(arg).map_err(|e| format!("{arg}: {e}"));
        }
        match arg.split_once('=') {
            Some((name, path)) if !name.is_empty() && !path.is_empty() => Ok(Self {
                name: name.to_string(),
                path: path.to_string(),
                base_model_name: None,
            }),
            _ => Err(format!(
                "{arg}: expected name=path or {{\"name\":…,\"path\":…,\"base_model_name\":…}}"
            )),
        }
    }
}

/// Rate limits per window, as OpenAI's `x-ratelimit-*` headers report them; 0 = none.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitsConfig {
    /// Requests per window.
    pub requests: u64,
    /// Tokens (prompt + completion) per window.
    pub tokens: u64,
    /// The window's length; the counts start again after it.
    pub window_secs: f64,
}

impl Default for RateLimitsConfig {
    fn default() -> Self {
        Self {
            requests: 0,
            tokens: 0,
            window_secs: 60.0,
        }
    }
}

impl RateLimitsConfig {
    pub fn enabled(&self) -> bool {
        self.requests > 0 || self.tokens > 0
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResponseConfig {
    pub mode: ResponseMode,
    pub text: String,
    /// Length of lorem responses, in tokens.
    pub lorem_tokens: usize,
    /// Default seed of lorem responses when the request has none.
    pub seed: u64,
    pub scenario_file: Option<PathBuf>,
    /// With `tools` and `tool_choice: auto` (or absent), answer with a tool call.
    pub tool_call_on_auto: bool,
}

impl Default for ResponseConfig {
    fn default() -> Self {
        Self {
            mode: ResponseMode::Fixed,
            text: DEFAULT_TEXT.into(),
            lorem_tokens: 64,
            seed: 0,
            scenario_file: None,
            tool_call_on_auto: true,
        }
    }
}

/// The most calls one turn may make (`tools.calls_per_turn`, `X-Mock-Tool-Calls`).
pub const MAX_CALLS_PER_TURN: usize = 128;

/// How many tools a tool-calling turn calls.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ToolsConfig {
    /// Calls in a turn that calls tools (`auto`/`required`), when the request allows
    /// parallel calls; the request's `X-Mock-Tool-Calls` header overrides it.
    pub calls_per_turn: usize,
    /// More calls than tools: false, each tool is called at most once; true, the calls go
    /// round the tools again.
    pub repeat: bool,
}

impl Default for ToolsConfig {
    fn default() -> Self {
        Self {
            calls_per_turn: 1,
            repeat: false,
        }
    }
}

/// Where chat completions put a reasoning model's reasoning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ReasoningField {
    /// vLLM's current name.
    Reasoning,
    /// The older name, for clients still reading it.
    ReasoningContent,
}

impl ReasoningField {
    pub fn as_str(self) -> &'static str {
        match self {
            ReasoningField::Reasoning => "reasoning",
            ReasoningField::ReasoningContent => "reasoning_content",
        }
    }
}

/// Reasoning models: served models that think (stream a reasoning part) before answering.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReasoningConfig {
    /// Model ids that reason; each is also served.
    pub models: Vec<String>,
    /// The chat completion field of the reasoning.
    pub field: ReasoningField,
    /// Reasoning tokens per effort (`reasoning_effort`, `reasoning.effort`; medium when
    /// unset, `minimal` a quarter of low, `none` nothing).
    pub effort_tokens: EffortTokens,
}

impl Default for ReasoningConfig {
    fn default() -> Self {
        Self {
            models: Vec::new(),
            field: ReasoningField::Reasoning,
            effort_tokens: EffortTokens::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EffortTokens {
    pub low: usize,
    pub medium: usize,
    pub high: usize,
}

impl Default for EffortTokens {
    fn default() -> Self {
        Self {
            low: 16,
            medium: 64,
            high: 256,
        }
    }
}

impl EffortTokens {
    /// The reasoning length of an effort (`None`: medium); unknown efforts are refused
    /// before this.
    pub fn of(&self, effort: Option<&str>) -> usize {
        match effort {
            Some("none") => 0,
            Some("minimal") => (self.low / 4).max(1),
            Some("low") => self.low,
            Some("high") => self.high,
            _ => self.medium,
        }
    }
}

/// How generated answers are sized.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GenerationConfig {
    /// The length of text answers (fixed, echo and lorem modes), drawn per answer; unset,
    /// each mode keeps its own length (the fixed text, the echo, `lorem_tokens`).
    pub length: Option<LengthDist>,
}

/// A distribution of answer lengths, in tokens. A request with a `seed` always draws the
/// same length; the request's token limit caps it.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LengthDist {
    Fixed {
        tokens: usize,
    },
    /// Every length in `min..=max` equally likely.
    Uniform {
        min: usize,
        max: usize,
    },
    /// Rounded, at least 1.
    Normal {
        mean: f64,
        stddev: f64,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddingsConfig {
    pub dimensions: usize,
}

impl Default for EmbeddingsConfig {
    fn default() -> Self {
        Self { dimensions: 1536 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LatencyConfig {
    /// A preset; the explicit fields below (when set) override it.
    pub profile: LatencyProfile,
    pub ttft_ms: Option<f64>,
    pub itl_ms: Option<f64>,
    pub itl_jitter_ms: Option<f64>,
    pub prefill_us_per_token: Option<f64>,
    /// Every running request beyond the first multiplies latencies by (1 + this).
    pub concurrency_slowdown: Option<f64>,
}

impl Default for LatencyConfig {
    fn default() -> Self {
        Self {
            profile: LatencyProfile::None,
            ttft_ms: None,
            itl_ms: None,
            itl_jitter_ms: None,
            prefill_us_per_token: None,
            concurrency_slowdown: None,
        }
    }
}

/// Latency numbers after the preset and overrides are merged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    pub ttft_ms: f64,
    pub itl_ms: f64,
    pub itl_jitter_ms: f64,
    pub prefill_us_per_token: f64,
    pub concurrency_slowdown: f64,
}

impl Latency {
    pub fn is_zero(&self) -> bool {
        self.ttft_ms == 0.0 && self.itl_ms == 0.0 && self.prefill_us_per_token == 0.0
    }

    /// Time to first token: the fixed TTFT plus prefill of `prompt_tokens`, scaled by the
    /// concurrency `slowdown`. The one formula every API and path uses.
    pub fn ttft(&self, prompt_tokens: usize, slowdown: f64) -> std::time::Duration {
        millis(self.ttft_ms + self.prefill_us_per_token * prompt_tokens as f64 / 1000.0)
            .mul_f64(slowdown)
    }

    /// One inter-token gap (without jitter), scaled by `slowdown`.
    pub fn itl(&self, slowdown: f64) -> std::time::Duration {
        self.decode(1, slowdown)
    }

    /// `tokens` inter-token gaps (without jitter), scaled by `slowdown`.
    pub fn decode(&self, tokens: usize, slowdown: f64) -> std::time::Duration {
        millis(self.itl_ms * tokens as f64).mul_f64(slowdown)
    }
}

fn millis(v: f64) -> std::time::Duration {
    std::time::Duration::from_secs_f64((v / 1000.0).max(0.0))
}

impl LatencyConfig {
    pub fn resolve(&self) -> Latency {
        let base = match self.profile {
            LatencyProfile::None => Latency {
                ttft_ms: 0.0,
                itl_ms: 0.0,
                itl_jitter_ms: 0.0,
                prefill_us_per_token: 0.0,
                concurrency_slowdown: 0.0,
            },
            LatencyProfile::Fast => Latency {
                ttft_ms: 80.0,
                itl_ms: 10.0,
                itl_jitter_ms: 2.0,
                prefill_us_per_token: 20.0,
                concurrency_slowdown: 0.005,
            },
            LatencyProfile::Realistic => Latency {
                ttft_ms: 400.0,
                itl_ms: 30.0,
                itl_jitter_ms: 8.0,
                prefill_us_per_token: 100.0,
                concurrency_slowdown: 0.02,
            },
            LatencyProfile::Slow => Latency {
                ttft_ms: 1500.0,
                itl_ms: 80.0,
                itl_jitter_ms: 25.0,
                prefill_us_per_token: 300.0,
                concurrency_slowdown: 0.05,
            },
        };
        Latency {
            ttft_ms: self.ttft_ms.unwrap_or(base.ttft_ms),
            itl_ms: self.itl_ms.unwrap_or(base.itl_ms),
            itl_jitter_ms: self.itl_jitter_ms.unwrap_or(base.itl_jitter_ms),
            prefill_us_per_token: self
                .prefill_us_per_token
                .unwrap_or(base.prefill_us_per_token),
            concurrency_slowdown: self
                .concurrency_slowdown
                .unwrap_or(base.concurrency_slowdown),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Requests generating at once; 0 = unlimited.
    pub max_running: usize,
    /// Requests waiting for a running slot; beyond it → 429 with Retry-After.
    pub max_queue: usize,
    pub retry_after_secs: u64,
    /// A keep-alive connection with no request started for this long is closed.
    pub keep_alive_timeout_secs: f64,
    /// The KV cache's size in tokens: `vllm:kv_cache_usage_perc` is the share the running
    /// requests' prompt and output tokens take of it.
    pub kv_cache_tokens: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_running: 0,
            max_queue: 0,
            retry_after_secs: 1,
            keep_alive_timeout_secs: 60.0,
            kv_cache_tokens: 262_144,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultsConfig {
    /// Seed of the fault schedule: request number i gets the same fault in every run.
    pub seed: Option<u64>,
    /// Share of requests answered with an error status instead (0..1).
    pub error_rate: f64,
    /// Statuses the error rate picks from (429, 500, 503).
    pub error_statuses: Vec<u16>,
    /// Share of streams that get an error event at `fault_at_token`.
    pub stream_error_rate: f64,
    /// Share of streams whose connection is cut at `fault_at_token`.
    pub reset_rate: f64,
    /// Share of streams that stall for `stall_ms` at `fault_at_token`.
    pub stall_rate: f64,
    pub fault_at_token: usize,
    pub stall_ms: u64,
}

impl Default for FaultsConfig {
    fn default() -> Self {
        Self {
            seed: None,
            error_rate: 0.0,
            error_statuses: vec![500],
            stream_error_rate: 0.0,
            reset_rate: 0.0,
            stall_rate: 0.0,
            fault_at_token: 5,
            stall_ms: 30_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShutdownConfig {
    /// After SIGTERM, how long open streams may take to finish.
    pub drain_deadline_secs: f64,
}

impl Default for ShutdownConfig {
    fn default() -> Self {
        Self {
            drain_deadline_secs: 10.0,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    pub names: MetricNames,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            names: MetricNames::Vllm,
        }
    }
}

/// What the binary does besides serving.
#[derive(Debug, clap::Subcommand)]
pub enum CliCommand {
    /// Print a shell completion script (bash, zsh or fish) on stdout.
    Completions {
        shell: devenv_core::completions::Shell,
    },
}

/// Command line. Every setting of the YAML file has a flag and an environment variable.
#[derive(Debug, Parser)]
#[command(
    name = "mock-inference",
    version,
    about = "OpenAI-compatible mock inference server",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// No subcommand serves; `completions SHELL` prints a completion script instead.
    #[command(subcommand)]
    pub command: Option<CliCommand>,
    /// YAML config file (see configs/mock-inference.yaml); flags and env override it.
    #[arg(long, env = "MOCK_INFERENCE_CONFIG")]
    pub config: Option<PathBuf>,
    #[arg(long, env = "MOCK_INFERENCE_HOST")]
    pub host: Option<String>,
    #[arg(long, env = "MOCK_INFERENCE_PORT")]
    pub port: Option<u16>,
    /// Served model id (repeat for more); `MODEL_NAME` as in the seed's mock.
    #[arg(long = "model", env = "MODEL_NAME", value_delimiter = ',')]
    pub models: Vec<String>,
    /// Answer for any model id instead of 404. (The env forms of these switches take
    /// 1/0, true/false, yes/no or on/off, as compose files and systemd units write them.)
    #[arg(long, env = "MOCK_INFERENCE_ACCEPT_ANY_MODEL", value_parser = BoolishValueParser::new())]
    pub accept_any_model: bool,
    /// Reject unknown request fields (400) instead of ignoring them.
    #[arg(long, env = "MOCK_INFERENCE_STRICT", value_parser = BoolishValueParser::new())]
    pub strict: bool,
    #[arg(long, env = "MOCK_INFERENCE_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Requests to /v1/… must carry this key (401 otherwise); /health, /metrics stay open.
    #[arg(long, env = "MOCK_INFERENCE_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Requests per rate-limit window (x-ratelimit-*-requests headers, 429 past it).
    #[arg(long, env = "MOCK_INFERENCE_RATE_LIMIT_REQUESTS")]
    pub rate_limit_requests: Option<u64>,
    /// Tokens (prompt + completion) per rate-limit window.
    #[arg(long, env = "MOCK_INFERENCE_RATE_LIMIT_TOKENS")]
    pub rate_limit_tokens: Option<u64>,
    /// The rate-limit window in seconds (default 60).
    #[arg(long, env = "MOCK_INFERENCE_RATE_LIMIT_WINDOW_SECS")]
    pub rate_limit_window_secs: Option<f64>,
    /// LoRA adapters as vLLM takes them: `name=path` or
    /// `{"name":…,"path":…,"base_model_name":…}`; repeatable.
    #[arg(long, env = "MOCK_INFERENCE_LORA_MODULES", num_args = 1.., value_parser = LoraModule::parse)]
    pub lora_modules: Vec<LoraModule>,
    /// The context length /tokenize reports.
    #[arg(long, env = "MOCK_INFERENCE_MAX_MODEL_LEN")]
    pub max_model_len: Option<usize>,
    /// KV cache size in tokens (vllm:kv_cache_usage_perc's denominator).
    #[arg(long, env = "MOCK_INFERENCE_KV_CACHE_TOKENS")]
    pub kv_cache_tokens: Option<u64>,
    #[arg(long, env = "MOCK_INFERENCE_RESPONSE_MODE", value_enum)]
    pub response_mode: Option<ResponseMode>,
    #[arg(long, env = "MOCK_INFERENCE_RESPONSE_TEXT")]
    pub response_text: Option<String>,
    #[arg(long, env = "MOCK_INFERENCE_LOREM_TOKENS")]
    pub lorem_tokens: Option<usize>,
    /// Tool calls in a tool-calling turn (when the request allows parallel calls).
    #[arg(long, env = "MOCK_INFERENCE_TOOL_CALLS_PER_TURN")]
    pub tool_calls_per_turn: Option<usize>,
    /// A reasoning model (served, streams reasoning before its answer); repeatable.
    #[arg(
        long = "reasoning-model",
        env = "MOCK_INFERENCE_REASONING_MODELS",
        value_delimiter = ','
    )]
    pub reasoning_models: Vec<String>,
    /// The chat field of the reasoning: reasoning (vLLM's) or reasoning-content (older).
    #[arg(long, env = "MOCK_INFERENCE_REASONING_FIELD", value_enum)]
    pub reasoning_field: Option<ReasoningField>,
    /// Scenario file (YAML rules); implies --response-mode scenario.
    #[arg(long, env = "MOCK_INFERENCE_SCENARIO")]
    pub scenario: Option<PathBuf>,
    #[arg(long, env = "MOCK_INFERENCE_EMBEDDING_DIMENSIONS")]
    pub embedding_dimensions: Option<usize>,
    #[arg(long, env = "MOCK_INFERENCE_LATENCY_PROFILE", value_enum)]
    pub latency_profile: Option<LatencyProfile>,
    #[arg(long, env = "MOCK_INFERENCE_TTFT_MS")]
    pub ttft_ms: Option<f64>,
    #[arg(long, env = "MOCK_INFERENCE_ITL_MS")]
    pub itl_ms: Option<f64>,
    #[arg(long, env = "MOCK_INFERENCE_ITL_JITTER_MS")]
    pub itl_jitter_ms: Option<f64>,
    #[arg(long, env = "MOCK_INFERENCE_PREFILL_US_PER_TOKEN")]
    pub prefill_us_per_token: Option<f64>,
    #[arg(long, env = "MOCK_INFERENCE_CONCURRENCY_SLOWDOWN")]
    pub concurrency_slowdown: Option<f64>,
    #[arg(long, env = "MOCK_INFERENCE_MAX_RUNNING")]
    pub max_running: Option<usize>,
    #[arg(long, env = "MOCK_INFERENCE_MAX_QUEUE")]
    pub max_queue: Option<usize>,
    #[arg(long, env = "MOCK_INFERENCE_RETRY_AFTER_SECS")]
    pub retry_after_secs: Option<u64>,
    /// Seconds an idle keep-alive connection stays open (default 60).
    #[arg(long, env = "MOCK_INFERENCE_KEEP_ALIVE_TIMEOUT")]
    pub keep_alive_timeout: Option<f64>,
    #[arg(long, env = "MOCK_INFERENCE_FAULT_SEED")]
    pub fault_seed: Option<u64>,
    #[arg(long, env = "MOCK_INFERENCE_ERROR_RATE")]
    pub error_rate: Option<f64>,
    /// Statuses the error rate picks from, comma-separated (429,500,503).
    #[arg(long, env = "MOCK_INFERENCE_ERROR_STATUSES", value_delimiter = ',')]
    pub error_statuses: Vec<u16>,
    #[arg(long, env = "MOCK_INFERENCE_STREAM_ERROR_RATE")]
    pub stream_error_rate: Option<f64>,
    #[arg(long, env = "MOCK_INFERENCE_RESET_RATE")]
    pub reset_rate: Option<f64>,
    #[arg(long, env = "MOCK_INFERENCE_STALL_RATE")]
    pub stall_rate: Option<f64>,
    #[arg(long, env = "MOCK_INFERENCE_FAULT_AT_TOKEN")]
    pub fault_at_token: Option<usize>,
    #[arg(long, env = "MOCK_INFERENCE_STALL_MS")]
    pub stall_ms: Option<u64>,
    #[arg(long, env = "MOCK_INFERENCE_DRAIN_DEADLINE_SECS")]
    pub drain_deadline_secs: Option<f64>,
    #[arg(long, env = "MOCK_INFERENCE_METRIC_NAMES", value_enum)]
    pub metric_names: Option<MetricNames>,
    /// Worker threads (default: one per core).
    #[arg(long, env = "MOCK_INFERENCE_WORKERS")]
    pub workers: Option<usize>,
    /// The startup line: human (default), `--json` (a versioned document) or `--quiet`.
    #[command(flatten)]
    pub output: devenv_core::output::OutputArgs,
    #[command(flatten)]
    pub log: devenv_core::output::LogArgs,
}

impl Config {
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        serde_norway::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source,
        })
    }

    /// Defaults ← file ← env/flags, then validated.
    pub fn load(cli: &Cli) -> Result<Self, ConfigError> {
        let mut c = match &cli.config {
            Some(path) => Self::from_file(path)?,
            None => Self::default(),
        };
        macro_rules! set {
            ($src:expr, $dst:expr) => {
                if let Some(v) = $src.clone() {
                    $dst = v;
                }
            };
        }
        macro_rules! set_opt {
            ($src:expr, $dst:expr) => {
                if $src.is_some() {
                    $dst = $src.clone();
                }
            };
        }
        set!(cli.host, c.host);
        set!(cli.port, c.port);
        if !cli.models.is_empty() {
            // MODEL_NAME / --model name the primary model. A config file's other models stay
            // served; without a file they replace the built-in default.
            let mut models: Vec<String> = cli.models.clone();
            if cli.config.is_some() {
                for m in &c.models {
                    if !models.contains(m) {
                        models.push(m.clone());
                    }
                }
            }
            c.models = models;
        }
        c.accept_any_model |= cli.accept_any_model;
        c.strict |= cli.strict;
        set!(cli.max_body_bytes, c.max_body_bytes);
        set_opt!(cli.api_key, c.api_key);
        set!(cli.rate_limit_requests, c.rate_limits.requests);
        set!(cli.rate_limit_tokens, c.rate_limits.tokens);
        set!(cli.rate_limit_window_secs, c.rate_limits.window_secs);
        if !cli.lora_modules.is_empty() {
            c.lora_modules = cli.lora_modules.clone();
        }
        set!(cli.max_model_len, c.max_model_len);
        set!(cli.kv_cache_tokens, c.limits.kv_cache_tokens);
        set!(cli.response_mode, c.response.mode);
        set!(cli.response_text, c.response.text);
        set!(cli.lorem_tokens, c.response.lorem_tokens);
        set!(cli.tool_calls_per_turn, c.tools.calls_per_turn);
        if !cli.reasoning_models.is_empty() {
            c.reasoning.models = cli.reasoning_models.clone();
        }
        set!(cli.reasoning_field, c.reasoning.field);
        // A reasoning model is served like the others.
        for m in &c.reasoning.models {
            if !c.models.contains(m) {
                c.models.push(m.clone());
            }
        }
        if let Some(path) = &cli.scenario {
            c.response.scenario_file = Some(path.clone());
            c.response.mode = ResponseMode::Scenario;
        }
        set!(cli.embedding_dimensions, c.embeddings.dimensions);
        set!(cli.latency_profile, c.latency.profile);
        set_opt!(cli.ttft_ms, c.latency.ttft_ms);
        set_opt!(cli.itl_ms, c.latency.itl_ms);
        set_opt!(cli.itl_jitter_ms, c.latency.itl_jitter_ms);
        set_opt!(cli.prefill_us_per_token, c.latency.prefill_us_per_token);
        set_opt!(cli.concurrency_slowdown, c.latency.concurrency_slowdown);
        set!(cli.max_running, c.limits.max_running);
        set!(cli.max_queue, c.limits.max_queue);
        set!(cli.retry_after_secs, c.limits.retry_after_secs);
        set!(cli.keep_alive_timeout, c.limits.keep_alive_timeout_secs);
        set_opt!(cli.fault_seed, c.faults.seed);
        set!(cli.error_rate, c.faults.error_rate);
        if !cli.error_statuses.is_empty() {
            c.faults.error_statuses = cli.error_statuses.clone();
        }
        set!(cli.stream_error_rate, c.faults.stream_error_rate);
        set!(cli.reset_rate, c.faults.reset_rate);
        set!(cli.stall_rate, c.faults.stall_rate);
        set!(cli.fault_at_token, c.faults.fault_at_token);
        set!(cli.stall_ms, c.faults.stall_ms);
        set!(cli.drain_deadline_secs, c.shutdown.drain_deadline_secs);
        set!(cli.metric_names, c.metrics.names);
        c.validate()?;
        Ok(c)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |name, message: &str| {
            Err(ConfigError::Invalid {
                name,
                message: message.to_string(),
            })
        };
        if self.models.is_empty() || self.models.iter().any(|m| m.trim().is_empty()) {
            return invalid(
                "models",
                "at least one non-empty model id is needed; set MODEL_NAME or --model",
            );
        }
        for (name, rate) in [
            ("faults.error_rate", self.faults.error_rate),
            ("faults.stream_error_rate", self.faults.stream_error_rate),
            ("faults.reset_rate", self.faults.reset_rate),
            ("faults.stall_rate", self.faults.stall_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return invalid(name, "a rate is a share between 0 and 1 (e.g. 0.05)");
            }
        }
        if !(1..=MAX_CALLS_PER_TURN).contains(&self.tools.calls_per_turn) {
            return invalid(
                "tools.calls_per_turn",
                &format!("a turn makes 1 to {MAX_CALLS_PER_TURN} calls"),
            );
        }
        match self.generation.length {
            Some(LengthDist::Fixed { tokens: 0 }) => {
                return invalid("generation.length.tokens", "an answer has at least 1 token");
            }
            Some(LengthDist::Uniform { min, max }) if min == 0 || min > max => {
                return invalid("generation.length", "uniform needs 1 <= min <= max");
            }
            Some(LengthDist::Normal { mean, stddev })
                if !(mean.is_finite() && stddev.is_finite() && mean >= 1.0 && stddev >= 0.0) =>
            {
                return invalid(
                    "generation.length",
                    "normal needs mean >= 1 and stddev >= 0",
                );
            }
            _ => {}
        }
        if self.faults.stream_error_rate + self.faults.reset_rate + self.faults.stall_rate > 1.0 {
            return invalid(
                "faults",
                "stream_error_rate + reset_rate + stall_rate must not exceed 1",
            );
        }
        if let Some(s) = self
            .faults
            .error_statuses
            .iter()
            .find(|s| ![429, 500, 503].contains(*s))
        {
            return invalid(
                "faults.error_statuses",
                &format!("{s} is not one of 429, 500, 503"),
            );
        }
        if self.faults.error_rate > 0.0 && self.faults.error_statuses.is_empty() {
            return invalid(
                "faults.error_statuses",
                "name at least one status when error_rate > 0",
            );
        }
        let lat = self.latency.resolve();
        for (name, v) in [
            ("latency.ttft_ms", lat.ttft_ms),
            ("latency.itl_ms", lat.itl_ms),
            ("latency.itl_jitter_ms", lat.itl_jitter_ms),
            ("latency.prefill_us_per_token", lat.prefill_us_per_token),
            ("latency.concurrency_slowdown", lat.concurrency_slowdown),
        ] {
            if !v.is_finite() || v < 0.0 {
                return invalid(name, "must be a finite number ≥ 0");
            }
        }
        if self.api_key.as_deref().is_some_and(|k| k.trim().is_empty()) {
            return invalid(
                "api_key",
                "an empty key would let no request in; unset it instead",
            );
        }
        let window = self.rate_limits.window_secs;
        if !window.is_finite() || window <= 0.0 || window > 1e9 {
            return invalid("rate_limits.window_secs", "must be a number > 0");
        }
        if self.max_model_len == 0 {
            return invalid("max_model_len", "must be at least 1");
        }
        if self.limits.kv_cache_tokens == 0 {
            return invalid("limits.kv_cache_tokens", "must be at least 1");
        }
        for lora in &self.lora_modules {
            if lora.name.trim().is_empty() || self.models.contains(&lora.name) {
                return invalid(
                    "lora_modules",
                    &format!("'{}' must be a non-empty name no base model has", lora.name),
                );
            }
            if let Some(base) = &lora.base_model_name
                && !self.models.contains(base)
            {
                return invalid(
                    "lora_modules",
                    &format!(
                        "{}: base_model_name '{base}' is not a served model",
                        lora.name
                    ),
                );
            }
        }
        if self.max_body_bytes < 64 {
            return invalid("max_body_bytes", "must be at least 64 bytes");
        }
        if self.embeddings.dimensions == 0 || self.embeddings.dimensions > 65_536 {
            return invalid("embeddings.dimensions", "must be between 1 and 65536");
        }
        let keep_alive = self.limits.keep_alive_timeout_secs;
        if !keep_alive.is_finite() || keep_alive <= 0.0 || keep_alive > 1e9 {
            return invalid("limits.keep_alive_timeout_secs", "must be a number > 0");
        }
        if !self.shutdown.drain_deadline_secs.is_finite() || self.shutdown.drain_deadline_secs < 0.0
        {
            return invalid("shutdown.drain_deadline_secs", "must be a number ≥ 0");
        }
        if self.response.mode == ResponseMode::Scenario && self.response.scenario_file.is_none() {
            return invalid(
                "response.scenario_file",
                "response mode `scenario` needs a scenario file (--scenario FILE)",
            );
        }
        Ok(())
    }
}
