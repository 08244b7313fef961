//! The paper cost of validations: what a million validation requests cost on AWS, computed
//! from measured figures (DynamoDB calls and item size, CPU per request, answer size) and the
//! list prices below, for both ways apps can reach the validate function. docs/deploy.md
//! ("What a validation costs") states the same prices; a test keeps the two in step.

/// List prices, us-east-1, as of November 2026.
#[derive(Debug, Clone, Copy)]
pub struct Prices {
    /// Lambda compute, arm64, per GB-second (first 7.5 billion GB-s a month).
    pub lambda_arm64_gb_second: f64,
    /// Lambda requests, per million (Function URL invocations included).
    pub lambda_per_million_requests: f64,
    /// API Gateway HTTP API, per million requests (first 300 million a month, up to 512 KB).
    pub http_api_per_million: f64,
    /// Lambda Function URL: no charge of its own.
    pub function_url_per_million: f64,
    /// DynamoDB on-demand, per million read request units (one strongly consistent read of up
    /// to 4 KB).
    pub dynamodb_per_million_read_units: f64,
    /// Data transfer out to the internet, per GB (first 10 TB a month); the same either way.
    pub data_transfer_out_per_gb: f64,
}

pub const PRICES: Prices = Prices {
    lambda_arm64_gb_second: 0.000_013_333_4,
    lambda_per_million_requests: 0.20,
    http_api_per_million: 1.00,
    function_url_per_million: 0.0,
    dynamodb_per_million_read_units: 0.125,
    data_transfer_out_per_gb: 0.09,
};

/// What is assumed rather than measured.
#[derive(Debug, Clone, Copy)]
pub struct Assumptions {
    /// One DynamoDB call from Lambda in the same region, wall time (AWS: single-digit ms).
    pub dynamodb_round_trip_ms: f64,
    /// Lambda gives one full vCPU at this memory size, CPU in proportion below it.
    pub full_vcpu_at_mb: f64,
    /// Response headers and framing added to the answer body on the wire.
    pub response_overhead_bytes: f64,
}

pub const ASSUMPTIONS: Assumptions = Assumptions {
    dynamodb_round_trip_ms: 5.0,
    full_vcpu_at_mb: 1769.0,
    response_overhead_bytes: 300.0,
};

/// The measured inputs.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    /// DynamoDB calls per validation (warm).
    pub dynamodb_calls: f64,
    /// Size of the item each call reads (bytes).
    pub item_bytes: f64,
    /// CPU per validation on one full core (µs).
    pub cpu_us: f64,
    /// Answer body (bytes).
    pub answer_bytes: f64,
    /// The validate function's memory (MB, from the template).
    pub memory_mb: f64,
}

/// How apps reach the validate function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    HttpApi,
    FunctionUrl,
}

/// A million validations: each line (what, dollars) and the total.
#[derive(Debug, Clone)]
pub struct Cost {
    pub lines: Vec<(String, f64)>,
    pub total: f64,
}

/// Lambda bills whole milliseconds: DynamoDB's round trips plus our CPU at the function's
/// share of a core.
pub fn billed_ms(m: &Measured, a: &Assumptions) -> f64 {
    let cpu_ms = m.cpu_us / 1000.0 * (a.full_vcpu_at_mb / m.memory_mb).max(1.0);
    (m.dynamodb_calls * a.dynamodb_round_trip_ms + cpu_ms).ceil()
}

pub fn per_million(m: &Measured, via: Via, p: &Prices, a: &Assumptions) -> Cost {
    let ms = billed_ms(m, a);
    let read_units = m.dynamodb_calls * (m.item_bytes / 4096.0).ceil().max(1.0);
    let gb = 1e6 * (m.answer_bytes + a.response_overhead_bytes) / 1e9;
    let mut lines = vec![
        ("Lambda requests".to_string(), p.lambda_per_million_requests),
        (
            format!("Lambda compute ({ms} ms billed at {} MB)", m.memory_mb),
            1e6 * (m.memory_mb / 1024.0) * (ms / 1000.0) * p.lambda_arm64_gb_second,
        ),
        (
            format!("DynamoDB ({read_units} read units)"),
            read_units * p.dynamodb_per_million_read_units,
        ),
        (
            format!("data out ({gb:.2} GB)"),
            gb * p.data_transfer_out_per_gb,
        ),
    ];
    lines.push(match via {
        Via::HttpApi => ("API Gateway HTTP API".into(), p.http_api_per_million),
        Via::FunctionUrl => ("Function URL".into(), p.function_url_per_million),
    });
    let total = lines.iter().map(|(_, v)| v).sum();
    Cost { lines, total }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured() -> Measured {
        Measured {
            dynamodb_calls: 1.0,
            item_bytes: 900.0,
            cpu_us: 100.0,
            answer_bytes: 500.0,
            memory_mb: 512.0,
        }
    }

    #[test]
    fn a_validation_bills_its_round_trip_plus_its_share_of_cpu() {
        // 5 ms round trip + 0.1 ms CPU x 1769/512 = 5.35 ms -> 6 ms billed.
        assert_eq!(billed_ms(&measured(), &ASSUMPTIONS), 6.0);
        let url = per_million(&measured(), Via::FunctionUrl, &PRICES, &ASSUMPTIONS);
        let api = per_million(&measured(), Via::HttpApi, &PRICES, &ASSUMPTIONS);
        assert!((api.total - url.total - PRICES.http_api_per_million).abs() < 1e-9);
        // 0.20 + 0.04 (0.5 GB x 0.006 s x 1e6 x 0.0000133334) + 0.125 + 0.072 (0.8 GB out)
        assert!((url.total - 0.437).abs() < 0.001, "{url:?}");
    }

    #[test]
    fn the_deploy_guide_states_the_prices_the_model_uses() {
        let doc = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/deploy.md"),
        )
        .unwrap();
        for price in [
            "$0.0000133334",
            "$0.20",
            "$1.00",
            "$0.125",
            "$0.09",
            "1,769 MB",
            "5 ms",
        ] {
            assert!(doc.contains(price), "docs/deploy.md states {price}");
        }
    }
}
