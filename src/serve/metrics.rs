//! Prometheus metrics: requests and their latency per endpoint, and the index's size and age.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

use super::Shared;

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    documents: IntGauge,
    age: Gauge,
    crawled: Gauge,
    cache_hits: IntGauge,
    cache_misses: IntGauge,
    cache_bytes: IntGauge,
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "catalog_requests_total",
                "HTTP requests by endpoint and status",
            ),
            &["endpoint", "status"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "catalog_request_seconds",
                "HTTP request latency by endpoint",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
            ]),
            &["endpoint"],
        )
        .expect("valid metric");
        let documents = IntGauge::new("catalog_index_documents", "Documents in the index")
            .expect("valid metric");
        registry
            .register(Box::new(requests.clone()))
            .expect("registers once");
        registry
            .register(Box::new(latency.clone()))
            .expect("registers once");
        let age = Gauge::new(
            "catalog_index_age_seconds",
            "Seconds since the index was last crawled whole (its oldest root's last crawl)",
        )
        .expect("valid metric");
        let crawled = Gauge::new(
            "catalog_index_crawled_timestamp_seconds",
            "When the index was last crawled whole, in seconds since the Unix epoch",
        )
        .expect("valid metric");
        // Gauges, not counters: they start again from zero when a rebuild is swapped in.
        let cache_gauge = |name: &str, help: &str| IntGauge::new(name, help).expect("valid metric");
        let cache_hits = cache_gauge(
            "catalog_path_cache_hits",
            "Path dictionary blocks found decompressed, since the index was opened",
        );
        let cache_misses = cache_gauge(
            "catalog_path_cache_misses",
            "Path dictionary blocks decompressed, since the index was opened",
        );
        let cache_bytes = cache_gauge(
            "catalog_path_cache_bytes",
            "Bytes of decompressed path dictionary blocks kept",
        );
        for metric in [
            Box::new(documents.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(age.clone()),
            Box::new(crawled.clone()),
            Box::new(cache_hits.clone()),
            Box::new(cache_misses.clone()),
            Box::new(cache_bytes.clone()),
        ] {
            registry.register(metric).expect("registers once");
        }
        Metrics {
            registry,
            requests,
            latency,
            documents,
            age,
            crawled,
            cache_hits,
            cache_misses,
            cache_bytes,
        }
    }

    /// Counts one request.
    pub fn observe(&self, endpoint: &str, status: u16, elapsed: Duration) {
        self.requests
            .with_label_values(&[endpoint, &status.to_string()])
            .inc();
        self.latency
            .with_label_values(&[endpoint])
            .observe(elapsed.as_secs_f64());
    }
}

/// `GET /metrics`: the Prometheus text format. The index's gauges are read at scrape time.
pub async fn render(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    let catalog = shared.catalog();
    let metrics = &shared.metrics;
    metrics.documents.set(catalog.documents() as i64);
    if let Some(cache) = catalog.path_cache_stats() {
        let gauge = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        metrics.cache_hits.set(gauge(cache.hits));
        metrics.cache_misses.set(gauge(cache.misses));
        metrics.cache_bytes.set(gauge(cache.bytes));
    }
    let info = catalog.info();
    if let (Some(crawled), Some(age)) = (
        info.crawled_at(),
        info.age_seconds(time::OffsetDateTime::now_utc()),
    ) {
        metrics
            .crawled
            .set(crawled.unix_timestamp_nanos() as f64 / 1e9);
        metrics.age.set(age);
    }
    let mut text = Vec::new();
    TextEncoder::new()
        .encode(&shared.metrics.registry.gather(), &mut text)
        .expect("metrics encode");
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}
